// vitest globalSetup: stops the test Slurm cluster at the end of the run when a test file of this
// run started it (slurm-up.sh touches `started` when it starts daemons), so `npm test` leaves no
// daemons behind; a cluster that was already up before the run is left alone.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SLURM_DIR, SLURM_DOWN } from './slurm.js';

let since = 0;

export function setup(): void {
  since = Date.now();
}

export function teardown(): void {
  let started: number;
  try {
    started = statSync(join(SLURM_DIR, 'started')).mtimeMs;
  } catch {
    return;
  }
  if (started + 1000 < since) return;
  try {
    execFileSync('sh', [SLURM_DOWN], { env: { ...process.env, BGX_SLURM_DIR: SLURM_DIR }, timeout: 60_000, stdio: 'ignore' });
  } catch {
    // Best effort: a cluster left running is reused by the next run.
  }
}

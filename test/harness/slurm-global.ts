// vitest globalSetup: stops the test Slurm cluster at the end of the run when a test file of this
// run started it (slurm-up.sh writes the run's token into `started` when it starts daemons), so
// `npm test` leaves no daemons behind; a cluster another run started is left alone.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToken } from './run-token.js';
import { SLURM_DIR, SLURM_DOWN } from './slurm.js';

let token = '';

export function setup(): void {
  token = runToken();
}

export function teardown(): void {
  let startedBy: string;
  try {
    startedBy = readFileSync(join(SLURM_DIR, 'started'), 'utf8').trim();
  } catch {
    return;
  }
  // Started by another run (or before this one): not ours to stop.
  if (startedBy !== token) return;
  try {
    execFileSync('sh', [SLURM_DOWN], { env: { ...process.env, BGX_SLURM_DIR: SLURM_DIR }, timeout: 60_000, stdio: 'ignore' });
  } catch {
    // Best effort: a cluster left running is reused by the next run.
  }
}

// The one-node Slurm cluster of the Slurm transport tests: slurm-up.sh brings it up (installing
// the Debian packages when missing, starting munged, slurmctld and slurmd directly), idempotent
// and flock-guarded, so the test files that need it can all ask for it; slurm-global.ts stops it
// at the end of the run when this run started it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sayWhySkipped } from './skip.js';
import { which } from './sshd.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The cluster's private directory (config, state, logs). */
export const SLURM_DIR = process.env['BGX_SLURM_DIR'] ?? '/tmp/bgexec-slurm';
/** The cluster's configuration file, for `SLURM_CONF`. */
export const SLURM_CONF = join(SLURM_DIR, 'slurm.conf');
/** Scripts that start and stop the cluster. */
export const SLURM_UP = join(HERE, 'slurm-up.sh');
export const SLURM_DOWN = join(HERE, 'slurm-down.sh');

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Why the Slurm tests cannot run here, or undefined when they can. */
export function slurmUnavailable(): string | undefined {
  if (process.platform !== 'linux') return sayWhySkipped('skipped: the Slurm tests need Linux');
  if (process.getuid?.() !== 0) return sayWhySkipped('skipped: the Slurm tests start slurmctld and slurmd, which needs root');
  const missing = ['slurmctld', 'slurmd', 'sbatch', 'munged'].filter((b) => which(b, SBIN) === undefined);
  if (missing.length > 0 && which('apt-get') === undefined) {
    return sayWhySkipped(`skipped: ${missing.join(', ')} not installed and no apt-get (apt-get install slurm-wlm slurm-client munge)`);
  }
  if (!existsSync('/sys/fs/cgroup/freezer') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return sayWhySkipped('skipped: no cgroup file system, which proctrack/cgroup needs');
  }
  return undefined;
}

let up: Promise<{ ms: number; output: string }> | undefined;

/** Brings the cluster up (once per test file; a no-op when it is already up). Resolves with how long the script took. */
export function ensureSlurm(): Promise<{ ms: number; output: string }> {
  up ??= new Promise((resolve, reject) => {
    const t0 = Date.now();
    execFile('sh', [SLURM_UP], { env: { ...process.env, BGX_SLURM_DIR: SLURM_DIR }, timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`slurm-up.sh failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ ms: Date.now() - t0, output: stdout.trim() });
    });
  });
  return up;
}

/** Environment for Slurm commands run by the tests and the transport. */
export const SLURM_ENV: Readonly<Record<string, string>> = { SLURM_CONF };

/** A fresh shared root for one test file (removed by the returned function). */
export function makeSharedRoot(): { dir: string; remove: () => void } {
  const dir = mkdtempSync('/tmp/bgexec-slurm-root-');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a Slurm command with the cluster's configuration; resolves with its stdout. */
export function slurmCmd(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { ...process.env, ...SLURM_ENV }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

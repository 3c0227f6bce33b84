import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { TransportError } from '../../errors.js';
import { SlurmError } from './errors.js';
import type { ResolvedSlurmOptions } from './options.js';
import { REFUSED_ENV } from './refused-options.js';

/** What a Slurm command printed and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** It was ended by the command timeout. */
  timedOut: boolean;
}

const MAX_PARALLEL = 4;

/** The Slurm client commands the transport runs. */
export type SlurmCommand = 'sbatch' | 'squeue' | 'scancel' | 'sacct';

/**
 * Runs Slurm client commands on this host (a login node): argv only, never a shell line, with
 * the transport's extra environment and a time limit. Every call is bounded, because a client
 * can block for a long time (e.g. `scancel --signal` on a pending job waits for it to start).
 */
export class SlurmCli {
  private readonly env: NodeJS.ProcessEnv;
  // Commands in flight and those waiting for a turn: a burst of submits runs a few at a time,
  // because dozens of client processes at once only fight over the CPU and slurmctld's locks.
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly options: ResolvedSlurmOptions) {
    this.env = { ...process.env, ...options.env };
    // sbatch reads refused options from these too (the executor may itself run in a Slurm job).
    for (const name of REFUSED_ENV) delete this.env[name];
  }

  /** Runs `command args…`; resolves with its result (never rejects for a non-zero exit). */
  async run(command: SlurmCommand, args: readonly string[], timeoutMs = this.options.commandTimeoutMs): Promise<CliResult> {
    if (this.active >= MAX_PARALLEL) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await this.exec(command, args, timeoutMs);
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  private exec(command: SlurmCommand, args: readonly string[], timeoutMs: number): Promise<CliResult> {
    const file = this.options.binDir === undefined ? command : join(this.options.binDir, command);
    return new Promise((resolve, reject) => {
      execFile(file, args, { env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          // The program itself could not be run (ENOENT: Slurm's client is not installed here).
          reject(this.notRunnable(command, err as NodeJS.ErrnoException));
          return;
        }
        const e = err as (Error & { code?: number | null; killed?: boolean; signal?: string | null }) | null;
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr, timedOut: e?.killed === true && e.signal === 'SIGKILL' });
      });
    });
  }

  // What to tell about a command that could not be executed: which one, and where it was looked for.
  private notRunnable(command: SlurmCommand, err: NodeJS.ErrnoException): TransportError {
    const { binDir } = this.options;
    // Without PATH, the lookup uses the C library's default path.
    const path = this.env['PATH'] ?? '/usr/bin:/bin';
    const searched = binDir === undefined ? path.split(':').map((d) => d || '.') : [binDir];
    if (err.code !== 'ENOENT' && err.code !== 'EACCES' && err.code !== 'ENOTDIR') {
      return new TransportError('TRANSPORT_FAILED', `${command}: ${err.message}`, { cause: err });
    }
    const why = err.code === 'EACCES' ? 'not executable' : 'not found';
    const where = binDir === undefined
      ? `on PATH (${path}); install Slurm's client commands on this host, or give their directory as binDir`
      : `in binDir ${binDir} (${join(binDir, command)}); check the SlurmTransport option binDir`;
    return new SlurmError('slurm_not_installed', command, searched, `${command}: ${why} ${where}`, { cause: err });
  }
}

/** True when a failed command never reached slurmctld (so nothing was submitted). */
export function controllerUnreachable(r: CliResult): boolean {
  return /Unable to contact slurm controller|Connection refused/i.test(r.stderr);
}

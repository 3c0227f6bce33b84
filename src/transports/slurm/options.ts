import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { REFUSED_ENV, refusedOptionReason } from './refused-options.js';

/** Options of {@link SlurmTransport}. */
export interface SlurmTransportOptions {
  /**
   * Absolute directory that the bgexec host and every compute node see at the same path (a
   * shared file system). Attempts live in `<sharedRoot>/jobs/<taskId>-<attempt>/`: the batch
   * script, Slurm's own `--output`/`--error` files, and the job protocol's `pid`, `out`, `err`
   * and `exit` files.
   */
  sharedRoot: string;
  /** `--partition` of every job; default Slurm's default partition. */
  partition?: string;
  /** `--account` of every job. */
  account?: string;
  /** `--qos` of every job. */
  qos?: string;
  /**
   * Further `sbatch` options for every job, one argument each, each starting with `-`
   * (a task's `resources.extraArgs` come after them). Options the transport sets itself or that
   * break its guarantees (output files, job name, working directory, environment, arrays,
   * requeue, `--wrap`, `--signal`, `--wait`, other clusters, …), their abbreviations and short
   * forms, and value-taking options without an attached value are refused; see
   * docs/transports.md, "Slurm".
   */
  sbatchArgs?: readonly string[];
  /** Interval between two looks at the jobs (one `squeue` call for all of them); default 500 ms. */
  pollMs?: number;
  /** Directory of `sbatch`, `squeue`, `scancel` and `sacct`; default: found on `PATH`. */
  binDir?: string;
  /**
   * Extra environment for the Slurm commands (e.g. `SLURM_CONF`); `sbatch` passes its environment
   * on to the jobs. Variables that would pass `sbatch` a refused option (`SBATCH_ARRAY_INX`,
   * `SBATCH_EXPORT`, …) are refused here and removed from the inherited environment.
   */
  env?: Readonly<Record<string, string>>;
  /**
   * Refuse at `start()` (`SPAWN_FAILED`, reason `cwd_missing`) a task whose `cwd` does not exist
   * on the bgexec host; default true. Set it to false when task directories exist only on the
   * nodes: a missing one then ends the attempt with reason `cwd_missing` once the job runs.
   */
  checkCwd?: boolean;
  /**
   * How long to wait for the exit marker of a job that Slurm already reports as ended, before
   * the attempt counts as lost (a shared file system may show the file late); default 3000 ms.
   */
  markerGraceMs?: number;
  /** Limit of one Slurm command (`sbatch`, `squeue`, …); default 30 000 ms. */
  commandTimeoutMs?: number;
}

/** Options with their defaults applied. */
export interface ResolvedSlurmOptions {
  sharedRoot: string;
  jobArgs: string[];
  pollMs: number;
  binDir: string | undefined;
  env: Readonly<Record<string, string>>;
  checkCwd: boolean;
  markerGraceMs: number;
  commandTimeoutMs: number;
}

const KNOWN = new Set(['sharedRoot', 'partition', 'account', 'qos', 'sbatchArgs', 'pollMs', 'binDir', 'env', 'checkCwd', 'markerGraceMs', 'commandTimeoutMs']);

function path(field: string, v: unknown): string {
  if (typeof v !== 'string' || !isAbsolute(v) || /[\0\n]/.test(v)) throw new InvalidArgumentError(field, 'must be an absolute path without NUL or newline');
  return v.replace(/\/+$/, '') || '/';
}

// `%` would be read as a pattern (`%j`, …) in sbatch's --output and --error.
function sharedRootOf(v: unknown): string {
  const root = path('sharedRoot', v);
  if (root.includes('%') || root === '/') throw new InvalidArgumentError('sharedRoot', 'must not be / nor contain "%"');
  return root;
}

function word(field: string, v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.,:+-]{1,256}$/.test(v)) throw new InvalidArgumentError(field, 'must be a Slurm name (letters, digits, _ . , : + -)');
  return v;
}

function ms(field: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 2_147_483_647) throw new InvalidArgumentError(field, 'must be a number of ms from 1 to 2^31-1');
  return v;
}

/** Validates the options (`INVALID_ARGUMENT` naming the field) and applies defaults. */
export function resolveSlurmOptions(options: SlurmTransportOptions): ResolvedSlurmOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) throw new InvalidArgumentError(key, 'is not a known option of SlurmTransport');
  const jobArgs: string[] = [];
  if (options.partition !== undefined) jobArgs.push(`--partition=${word('partition', options.partition)}`);
  if (options.account !== undefined) jobArgs.push(`--account=${word('account', options.account)}`);
  if (options.qos !== undefined) jobArgs.push(`--qos=${word('qos', options.qos)}`);
  if (options.sbatchArgs !== undefined) {
    if (!Array.isArray(options.sbatchArgs)) throw new InvalidArgumentError('sbatchArgs', 'must be an array of strings');
    for (const a of options.sbatchArgs as unknown[]) {
      if (typeof a !== 'string' || !a.startsWith('-') || /[\0\n\r]/.test(a)) throw new InvalidArgumentError('sbatchArgs', `${JSON.stringify(a)} is not a single-line option starting with "-"`);
      const refused = refusedOptionReason(a);
      if (refused !== undefined) throw new InvalidArgumentError('sbatchArgs', `${JSON.stringify(a.split('=')[0])} ${refused}`);
      jobArgs.push(a);
    }
  }
  const env: Record<string, string> = {};
  if (options.env !== undefined) {
    if (options.env === null || typeof options.env !== 'object') throw new InvalidArgumentError('env', 'must be an object of strings');
    for (const [k, v] of Object.entries(options.env)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || typeof v !== 'string' || v.includes('\0')) throw new InvalidArgumentError(`env.${k}`, 'must be a valid name with a string value');
      if (REFUSED_ENV.includes(k)) throw new InvalidArgumentError(`env.${k}`, 'would pass sbatch an option the transport refuses');
      env[k] = v;
    }
  }
  if (options.checkCwd !== undefined && typeof options.checkCwd !== 'boolean') throw new InvalidArgumentError('checkCwd', 'must be a boolean');
  return {
    sharedRoot: sharedRootOf(options.sharedRoot),
    jobArgs,
    pollMs: ms('pollMs', options.pollMs, 500),
    binDir: options.binDir === undefined ? undefined : path('binDir', options.binDir),
    env,
    checkCwd: options.checkCwd ?? true,
    markerGraceMs: ms('markerGraceMs', options.markerGraceMs, 3_000),
    commandTimeoutMs: ms('commandTimeoutMs', options.commandTimeoutMs, 30_000),
  };
}

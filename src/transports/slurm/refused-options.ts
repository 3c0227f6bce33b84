/**
 * The `sbatch` options a user may not pass (`SlurmTransport` option `sbatchArgs`, a task's
 * `resources.extraArgs`), and the check that finds them however they are spelled. `sbatch`
 * parses its argv with getopt_long, so `--job-n=x` is `--job-name=x` (any unambiguous prefix of a
 * long option), `-Jx` and `-HJx` are `-J x`, and a value-taking option written without its value
 * takes the NEXT argument as its value (which would swallow the job script's path). So each
 * argument is read the way getopt_long reads it.
 */

/** Long options the transport sets itself or that break its guarantees, with why. */
export const REFUSED_LONG: Readonly<Record<string, string>> = {
  // Set by the transport: the run directory's files, the job name recovery looks up, its working directory.
  output: 'is set by the transport itself (Slurm\'s output file in the run directory)',
  error: 'is set by the transport itself (Slurm\'s error file in the run directory)',
  'open-mode': 'would change how the transport\'s own Slurm output files are written',
  'job-name': 'is set by the transport itself (recovery finds a job by its name)',
  chdir: 'is set by the transport itself (the task\'s cwd is spec.cwd)',
  parsable: 'is set by the transport itself (it reads the job id from sbatch\'s answer)',
  // One attempt is one job that runs once.
  array: 'would run the attempt several times (one attempt is one job)',
  requeue: 'would run the same attempt twice (the transport passes --no-requeue)',
  'no-requeue': 'is set by the transport itself',
  // The job's script and environment are the task's.
  wrap: 'would replace the job script (the task\'s command)',
  input: 'would replace the command\'s standard input (spec.stdin)',
  export: 'would change the environment the task gets (use spec.env)',
  'export-file': 'would change the environment the task gets (use spec.env)',
  'get-user-env': 'would replace the environment the task gets with a login shell\'s (use spec.env)',
  uid: 'would run the job as another user, who cannot write its run directory',
  gid: 'would run the job under another group, which may not write its run directory',
  // Signals go to the wrapper (B:) or to job steps a batch job of bgexec does not have; a
  // signal the wrapper does not expect ends it without its exit marker (the attempt is lost).
  signal: 'would signal the job protocol\'s wrapper, not the command (use spec.timeoutMs)',
  // sbatch would not return, or not submit, or submit elsewhere than squeue looks.
  wait: 'would keep sbatch waiting until the job ends',
  'test-only': 'submits nothing',
  clusters: 'would submit to another cluster, where the transport cannot follow the job',
  'cluster-constraint': 'would submit to another cluster, where the transport cannot follow the job',
  help: 'submits nothing',
  usage: 'submits nothing',
  version: 'submits nothing',
};

/** Short forms (`sbatch --help`) of refused long options. */
export const REFUSED_SHORT: Readonly<Record<string, string>> = {
  a: 'array', D: 'chdir', e: 'error', i: 'input', J: 'job-name', o: 'output', W: 'wait', M: 'clusters', h: 'help', V: 'version',
};

// Short options that take a value (sbatch --help): the rest of the argument is that value.
const SHORT_WITH_VALUE = new Set('aAbcdDeiJLMmnNopqStCFwxG'.split(''));

// Long options that take no value, or an optional one (given only as `--name=value`): any
// other long option needs its value after `=`, or getopt_long takes the next argument as it.
const LONG_WITHOUT_VALUE = [
  'hold', 'no-kill', 'overcommit', 'oversubscribe', 'quiet', 'verbose', 'contiguous', 'exclusive', 'ignore-pbs',
  'spread-job', 'use-min-nodes', 'reboot', 'propagate', 'nice', 'requeue', 'no-requeue', 'parsable', 'wait', 'test-only',
  'get-user-env', 'export', 'help', 'usage', 'version',
];

/**
 * Why `arg` may not be passed to `sbatch`, or undefined when it may: a long option whose name is
 * or abbreviates a refused one (`--job-n=x`, `--requ`, `--out=…`), a short option cluster that
 * holds a refused letter before its value starts (`-a1-3`, `-HJx`, `-i/etc/passwd`), or an
 * option whose value would have to come from the next argument (`--comment`, `-p`).
 */
export function refusedOptionReason(arg: string): string | undefined {
  if (arg === '--') return '"--" would end sbatch\'s options';
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name === '') return 'is not an option';
    const exact = REFUSED_LONG[name];
    if (exact !== undefined) return `${exact} (refused)`;
    // sbatch takes any unambiguous prefix: a prefix of a refused option is refused (an
    // ambiguous one is an error for sbatch anyway).
    const abbreviated = Object.keys(REFUSED_LONG).find((full) => full.startsWith(name));
    if (abbreviated !== undefined) return `abbreviates --${abbreviated}, which ${REFUSED_LONG[abbreviated]!} (refused)`;
    if (eq < 0 && !LONG_WITHOUT_VALUE.some((full) => full.startsWith(name))) {
      return `needs its value after "=" (--${name}=…): sbatch would take the next argument as its value`;
    }
    return undefined;
  }
  if (!arg.startsWith('-') || arg.length < 2) return 'is not an option';
  for (let i = 1; i < arg.length; i++) {
    const letter = arg[i]!;
    const long = REFUSED_SHORT[letter];
    if (long !== undefined) return `-${letter} is --${long}, which ${REFUSED_LONG[long]!} (refused)`;
    if (SHORT_WITH_VALUE.has(letter)) {
      // The rest of the argument is the value; none left means the next argument would be.
      return i === arg.length - 1 ? `-${letter} needs its value attached (-${letter}VALUE): sbatch would take the next argument as its value` : undefined;
    }
  }
  return undefined;
}

/**
 * Environment variables through which `sbatch` (and `squeue`) would take a refused option that no
 * option of the transport's own command line overrides: `sbatch` reads `SBATCH_ARRAY_INX` as
 * `--array`, `SBATCH_EXPORT` as `--export`, and so on. They are removed from the environment of
 * the Slurm commands (inherited from the bgexec process, as when it runs inside a Slurm job) and
 * refused in the transport's `env` option.
 */
export const REFUSED_ENV: readonly string[] = [
  'SBATCH_ARRAY_INX', 'SBATCH_CLUSTERS', 'SLURM_CLUSTERS', 'SBATCH_CLUSTER_CONSTRAINT', 'SBATCH_EXPORT', 'SLURM_EXPORT_ENV',
  'SBATCH_GET_USER_ENV', 'SLURM_GET_USER_ENV', 'SBATCH_INPUT', 'SBATCH_OPEN_MODE', 'SLURM_OPEN_MODE', 'SBATCH_SIGNAL',
  'SBATCH_WAIT', 'SBATCH_REQUEUE',
];

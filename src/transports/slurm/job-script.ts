import { join } from 'node:path';
import type { TaskResources } from '../../task.js';
import { MAX_OUTPUT_ENV } from '../job-protocol/output-cap.js';
import { shQuote } from '../job-protocol/quote.js';
import { REAP_ENV, WRAPPER_NAME, WRAPPER_SCRIPT, wrapperPositionals, type ScriptedLaunch } from '../job-protocol/wrapper.js';

/** The batch script's file name in the run directory. */
export const JOB_SCRIPT_FILE = 'job.sh';
/** Holds the Slurm job id (`<id>\n`), written right after `sbatch` answered. */
export const JOB_ID_FILE = 'jobid';
/** Slurm's own `--output` and `--error` of the batch step (the command's output goes to `out`/`err`). */
export const SLURM_OUT_FILE = 'slurm.out';
export const SLURM_ERR_FILE = 'slurm.err';

/** The job name of an attempt: recovery looks a job up by it when its id was never recorded. */
export function jobNameOf(taskId: string, attempt: number): string {
  return `bgx-${taskId}-${attempt}`;
}

/** What the batch script of one attempt runs. */
export interface JobScriptParams extends ScriptedLaunch {
  runDir: string;
  /** Absolute working directory, or undefined (then the run directory). */
  cwd?: string | undefined;
  /** The wrapper's leftover policy (`keep` or `<lingerMs>:<graceMs>`). */
  reap: string;
}

/**
 * The batch script: exports the task's environment and the attempt's markers, then `exec`s the
 * job protocol's wrapper, so the batch step's leader IS the wrapper (pid = pgid, as the wrapper
 * requires: slurmstepd starts the batch script as a process group leader). Every value is a
 * single-quoted literal. Slurm stores this script (and so the `env` values) in its spool.
 */
export function buildJobScript(p: JobScriptParams): string {
  const exports = [
    ...Object.entries(p.env).map(([k, v]) => `export ${k}=${shQuote(v, `env ${k}`)}`),
    `export BGEXEC_TASK_ID=${p.taskId} BGEXEC_ATTEMPT=${p.attempt} ${REAP_ENV}=${shQuote(p.reap)}`,
    ...(p.maxOutputBytes === undefined ? [] : [`export ${MAX_OUTPUT_ENV}=${Math.floor(p.maxOutputBytes)}`]),
  ];
  const positionals = wrapperPositionals({ runDir: p.runDir, ...(p.cwd === undefined ? {} : { cwd: p.cwd }), command: p.command, args: p.args });
  return [
    '#!/bin/sh',
    `# bgexec attempt ${p.taskId}-${p.attempt}`,
    ...exports,
    `exec /bin/sh -c ${shQuote(WRAPPER_SCRIPT)} ${WRAPPER_NAME} ${positionals.map((v) => shQuote(v)).join(' ')}`,
    '',
  ].join('\n');
}

/** `sbatch` options of a task's resources. */
export function resourceArgs(r: TaskResources | undefined): string[] {
  if (r === undefined) return [];
  return [
    ...(r.cpus === undefined ? [] : [`--cpus-per-task=${r.cpus}`]),
    ...(r.memoryMb === undefined ? [] : [`--mem=${r.memoryMb}M`]),
    ...(r.gpus === undefined ? [] : [`--gpus=${r.gpus}`]),
    ...(r.timeLimitMinutes === undefined ? [] : [`--time=${r.timeLimitMinutes}`]),
    ...(r.extraArgs ?? []),
  ];
}

/**
 * The full `sbatch` argv of an attempt: `--parsable`, the job name, the run directory as working
 * directory (always present on every node, so Slurm never falls back to /tmp), Slurm's own output
 * files in it, `--no-requeue` (a requeued job would run the same attempt twice), then the
 * transport's options, the task's resources, and the script.
 */
export function sbatchArgv(runDir: string, taskId: string, attempt: number, jobArgs: readonly string[], resources: TaskResources | undefined): string[] {
  return [
    '--parsable',
    `--job-name=${jobNameOf(taskId, attempt)}`,
    `--chdir=${runDir}`,
    `--output=${join(runDir, SLURM_OUT_FILE)}`,
    `--error=${join(runDir, SLURM_ERR_FILE)}`,
    '--no-requeue',
    ...jobArgs,
    ...resourceArgs(resources),
    join(runDir, JOB_SCRIPT_FILE),
  ];
}

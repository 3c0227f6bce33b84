import type { SlurmCli } from './cli.js';

/** What Slurm says about a job: its state (`PENDING`, `RUNNING`, `COMPLETED`, …) and reason. */
export interface JobState {
  state: string;
  reason: string;
}

// States in which the job's processes may exist (or are about to).
const ACTIVE = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'RESV_DEL_HOLD']);
const QUEUED = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);

/** The job has ended for Slurm (any terminal state). */
export function isEnded(s: JobState): boolean {
  return !ACTIVE.has(s.state);
}

/** The job waits in the queue (nothing of it runs yet). */
export function isQueued(s: JobState): boolean {
  return QUEUED.has(s.state);
}

// squeue prints `CANCELLED by 0` in some versions; sacct does. Only the first word is the state.
function stateWord(s: string): string {
  return (s.trim().split(/\s+/)[0] ?? '').toUpperCase();
}

/**
 * States of many jobs in ONE `squeue` call (`-t all`, or finished jobs are hidden), then one
 * `sacct` call for those squeue no longer shows (older than `MinJobAge`): the accounting
 * database, else the job completion log (`sacct -c`, as with `JobCompType=jobcomp/filetxt`).
 * `jobs` maps each job id to the job name it must carry: Slurm hands out an id again once
 * slurmctld has lost its state (a crash before it saved a fresh submission, a start that
 * discards the state), and the completion log keeps every earlier job of that id, so only a job
 * of the expected name counts. Jobs neither knows under their name are absent from the map.
 * Rejects only when `squeue` itself fails for another reason than unknown ids (slurmctld away).
 */
export async function queryJobs(cli: SlurmCli, jobs: ReadonlyMap<string, string>): Promise<Map<string, JobState>> {
  const found = new Map<string, JobState>();
  if (jobs.size === 0) return found;
  const take = (text: string): void => {
    for (const line of text.split('\n')) {
      const [id, state, reason, name] = line.split('|');
      if (id === undefined || state === undefined || !jobs.has(id) || found.has(id)) continue;
      if (name !== undefined && name.trim() !== jobs.get(id)) continue;
      found.set(id, { state: stateWord(state), reason: (reason ?? '').trim() });
    }
  };
  const ids = [...jobs.keys()];
  const q = await cli.run('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r|%j']);
  if (q.code === 0) take(q.stdout);
  else if (!/Invalid job id/i.test(q.stderr)) {
    throw new Error(`Slurm controller unreachable: squeue failed (${q.timedOut ? 'timed out' : `exit ${String(q.code)}`}): ${q.stderr.trim().replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  const missing = ids.filter((id) => !found.has(id));
  if (missing.length === 0) return found;
  for (const extra of [[], ['-c']]) {
    const a = await cli.run('sacct', [...extra, '-n', '-X', '-P', '-j', missing.join(','), '-o', 'JobID,State,Reason,JobName']).catch(() => undefined);
    if (a === undefined || a.code !== 0) continue;
    take(a.stdout);
    if (missing.every((id) => found.has(id))) break;
  }
  return found;
}

/** Job ids of the jobs named `name` (every state), newest last; empty when none. */
export async function findJobsByName(cli: SlurmCli, name: string): Promise<string[]> {
  const q = await cli.run('squeue', ['-h', '-t', 'all', '-n', name, '-o', '%i']);
  const ids = q.code === 0 ? q.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)) : [];
  if (ids.length > 0) return ids;
  for (const extra of [[], ['-c']]) {
    const a = await cli.run('sacct', [...extra, '-n', '-X', '-P', '-S', 'now-30days', '--name', name, '-o', 'JobID']).catch(() => undefined);
    if (a === undefined || a.code !== 0) continue;
    const more = a.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
    if (more.length > 0) return more;
  }
  return [];
}

import { intArg, msArg, oneOfArg, optionsArg, signalArg, stringArg, stringListArg } from './args.js';
import type { Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import type { CleanupOptions } from './executor-options.js';
import type { FollowOptions } from './output/task-output.js';
import { isTerminal, snapshot, TASK_STATUSES, TERMINAL_STATUSES, type TaskFilter, type TaskRecord, type TaskStatus } from './task.js';

/** `list()`: checks the filter (throws `INVALID_ARGUMENT`), then snapshots the matching records in the order given. */
export function listRecords(records: Iterable<TaskRecord>, filter: TaskFilter | undefined): TaskRecord[] {
  const f = optionsArg('filter', filter);
  const statusList = f.status === undefined ? undefined : stringListArg('status', f.status, true);
  for (const s of statusList ?? []) {
    if (!(TASK_STATUSES as readonly string[]).includes(s)) throw new InvalidArgumentError('status', `${JSON.stringify(s)} is not a task status`);
  }
  const statuses = statusList && new Set(statusList as TaskStatus[]);
  const group = stringArg('group', f.group, true);
  const session = stringArg('session', f.session, true);
  const transport = stringArg('transport', f.transport, true);
  const tags = f.tags === undefined ? undefined : stringListArg('tags', f.tags);
  const offset = intArg('offset', f.offset, 0) ?? 0;
  const limit = intArg('limit', f.limit, 0, true) ?? Infinity;
  const out: TaskRecord[] = [];
  let skipped = 0;
  for (const r of records) {
    if (statuses && !statuses.has(r.status)) continue;
    if (group !== undefined && r.spec.group !== group) continue;
    if (session !== undefined && r.spec.session !== session) continue;
    if (transport !== undefined && r.spec.transport !== transport) continue;
    if (tags && !tags.every((t) => r.spec.tags?.includes(t))) continue;
    if (skipped < offset) {
      skipped++;
      continue;
    }
    if (out.length >= limit) break;
    out.push(snapshot(r));
  }
  return out;
}

/** `completions()`: snapshots of terminal, unacknowledged records (of one session, if given), oldest end first. */
export function unackedCompletions(records: Iterable<TaskRecord>, session: string | undefined): TaskRecord[] {
  stringArg('session', session, true);
  const out: TaskRecord[] = [];
  for (const r of records) {
    if (!r.acked && isTerminal(r.status) && (session === undefined || r.spec.session === session)) out.push(snapshot(r));
  }
  return out.sort((a, b) => (a.endedAt ?? 0) - (b.endedAt ?? 0));
}

/** `cleanup()`: checks its options (throws `INVALID_ARGUMENT`) and picks the records to remove, newest kept. */
export function cleanupCandidates(records: Iterable<TaskRecord>, options: CleanupOptions | undefined, clock: Clock): TaskRecord[] {
  const o = optionsArg('options', options);
  const olderThanMs = msArg('olderThanMs', o.olderThanMs, Number.MAX_VALUE) ?? 0;
  const keep = intArg('keep', o.keep, 0) ?? 0;
  const statusList = o.statuses === undefined ? [...TERMINAL_STATUSES] : stringListArg('statuses', o.statuses);
  for (const s of statusList) {
    if (!isTerminal(s as TaskStatus)) throw new InvalidArgumentError('statuses', `${JSON.stringify(s)} is not a terminal status`);
  }
  const statuses = new Set(statusList as TaskStatus[]);
  const cutoff = clock.now() - olderThanMs;
  return [...records]
    .filter((r) => statuses.has(r.status) && (r.endedAt ?? 0) <= cutoff)
    .sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))
    .slice(keep);
}

// Checked where follow() is called, not at the first read, so a bad option fails the call itself.
/** `follow()`'s options, checked (throws `INVALID_ARGUMENT`). */
export function checkFollowOptions(o: Record<string, unknown>): FollowOptions {
  const stream = oneOfArg('stream', o.stream, ['stdout', 'stderr'] as const);
  const cursor = intArg('cursor', o.cursor, 0);
  const maxBytes = intArg('maxBytes', o.maxBytes, 1);
  const signal = signalArg('signal', o.signal);
  return {
    ...(stream !== undefined ? { stream } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(signal !== undefined ? { signal } : {}),
  };
}

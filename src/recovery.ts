import type { Clock } from './clock.js';
import type { KillReason } from './runner/live.js';
import { eachLimit } from './stores/each-limit.js';
import { appendHistory, deepFreeze, frozenCopy, isTerminal, type AttemptInfo, type TaskRecord, type TransportHandle } from './task.js';
import { MAX_TIMER_MS } from './validate-spec.js';
import type { ExitInfo, Transport } from './transports/types.js';

/** What recovery needs from the executor; implemented privately by BackgroundExecutor. */
export interface RecoveryHost {
  clock: Clock;
  transports: Readonly<Record<string, Transport>>;
  defaultTransport: string;
  /** Takes a loaded record into the executor's tables (no scheduling). */
  adopt(record: TaskRecord): void;
  /** Puts a queued/waiting record back into the scheduler. */
  enqueue(record: TaskRecord): void;
  /**
   * Counts a still-running attempt as running again and watches it (timeout from its
   * `startedAt`, output from the stored sizes, its end). With a `killReason` it is killed first.
   */
  reattach(record: TaskRecord, transport: Transport, handle: TransportHandle, killReason?: KillReason): void;
  /** Ends an attempt that finished (or vanished) while no executor watched, through the normal end path. */
  finish(record: TaskRecord, exit: ExitInfo, killReason?: KillReason): Promise<void>;
  persist(record: TaskRecord): void;
  reportError(err: unknown, taskId?: string): void;
}

// Probes are one stat each locally; a remote transport pays a round trip, so keep several in flight.
const PROBE_CONCURRENCY = 16;
// A transport that claims every attempt exists must not keep recovery looping.
const MAX_PROBED_ATTEMPTS = 1000;
const KILL_REASONS: ReadonlySet<string> = new Set<KillReason>(['cancelled', 'timeout', 'output_limit', 'shutdown', 'executor_restart']);

// A handle of an attempt whose executor is gone, marked `ownerGone: true`. Recovery runs
// after the store was loaded, and a durable store admits one executor at a time, so the
// executor that started an unfinished attempt has died. A transport may then decide at once
// what it would otherwise wait for that executor to record (locally: the exit marker of a
// non-detached attempt, which only its executor writes, or the pid of one it was spawning).
function orphaned(handle: TransportHandle): TransportHandle {
  // A loaded handle already marked (recovered once before) is frozen as it is.
  return handle.ownerGone === true ? deepFreeze(handle) : frozenCopy(handle, { ownerGone: true });
}

/**
 * Brings loaded records back to life after a restart.
 *
 * 1. Every unfinished record is reconciled with its transport's run directories: the runner
 *    spawns without waiting for the store (and, on a transport whose probe finds every start,
 *    writes `running` only once the start resolves), so after a crash the stored record may lag
 *    behind attempts that did start. Such an attempt is taken
 *    as the current one (never started again); attempts it superseded go into `history`.
 * 2. Queued and waiting tasks return to the scheduler in their original order, with their
 *    stored `runAt`.
 * 3. Running attempts are finished from their exit marker, re-attached (detached and alive),
 *    killed (non-detached and alive: their lifetime was the old executor's; or a kill the old
 *    executor had begun) or declared lost. A start that left no pid is `spawn_interrupted`
 *    only when the command cannot have run, else `spawn_unconfirmed` (it may have run).
 */
export async function recoverRecords(host: RecoveryHost, records: TaskRecord[]): Promise<void> {
  records.sort((a, b) => a.order - b.order);
  const unfinished = records.filter((r) => !isTerminal(r.status));
  const changed: TaskRecord[] = [];
  await eachLimit(unfinished, PROBE_CONCURRENCY, async (record) => {
    if (await reconcile(host, record)) changed.push(record);
  });
  for (const record of records) host.adopt(record);
  for (const record of changed) host.persist(record);
  const running: TaskRecord[] = [];
  for (const record of unfinished) {
    if (record.status === 'queued' || record.status === 'waiting') {
      // No call of the API can ask for a wait past the longest timer; neither can a store.
      const latest = host.clock.now() + MAX_TIMER_MS;
      if (record.runAt !== undefined && record.runAt > latest) {
        record.runAt = latest;
        host.persist(record);
      }
      host.enqueue(record);
    } else running.push(record);
  }
  // Attempts are independent; look at them concurrently (one round trip each on remote hosts).
  await Promise.all(
    running.map((record) =>
      recoverRunning(host, record).catch(async (err: unknown) => {
        // One bad record (say, a handle its transport refuses) must not stop the executor.
        host.reportError(err, record.id);
        if (record.status === 'running') {
          await host.finish(record, lostExit(host, 'recovery_failed')).catch((e: unknown) => host.reportError(e, record.id));
        }
      }),
    ),
  );
}

function transportOf(host: RecoveryHost, record: TaskRecord): Transport | undefined {
  return host.transports[record.spec.transport ?? host.defaultTransport];
}

function lostExit(host: RecoveryHost, reason: string): ExitInfo {
  return { state: 'lost', exitCode: null, signal: null, reason, endedAt: host.clock.now() };
}

// Aligns a record with the attempts its transport knows of. Returns true when it changed:
// a running record got its missing handle, or a later attempt was found and became current.
async function reconcile(host: RecoveryHost, record: TaskRecord): Promise<boolean> {
  const transport = transportOf(host, record);
  if (!transport?.probe) return false;
  const probe = (attempt: number): Promise<TransportHandle | undefined> =>
    transport.probe!(record.id, attempt).catch((err: unknown) => {
      host.reportError(err, record.id);
      return undefined;
    });
  let changed = false;
  if (record.status === 'running' && !record.handle && record.attempt > 0) {
    const found = await probe(record.attempt);
    if (found) {
      record.handle = orphaned(found);
      changed = true;
    }
  }
  const later: TransportHandle[] = [];
  for (let attempt = record.attempt + 1; attempt <= record.attempt + MAX_PROBED_ATTEMPTS; attempt++) {
    const found = await probe(attempt);
    if (!found) break;
    later.push(orphaned(found));
  }
  const current = later.pop();
  if (!current) return changed;
  // Attempts before the current one ended before it started; record how, from their markers.
  const ended: EndedAttempt[] = later.map((h) => ({ attempt: h.attempt, handle: h }));
  if (record.status === 'running' && record.attempt > 0) {
    ended.unshift({ attempt: record.attempt, handle: record.handle && orphaned(record.handle), killReason: killReasonOf(record) });
  }
  for (const e of ended) appendHistory(record, await endedAttempt(host, transport, record, e));
  record.status = 'running';
  record.attempt = current.attempt;
  record.startedAt = current.startedAt;
  record.handle = current;
  for (const k of ['runAt', 'endedAt', 'exitCode', 'signal', 'reason', 'error', 'note', 'awaitingInput'] as const) delete record[k];
  record.stdoutBytes = 0;
  record.stderrBytes = 0;
  return true;
}

// An attempt found to have ended before the current one started.
interface EndedAttempt {
  attempt: number;
  handle: TransportHandle | undefined;
  // Why its executor was killing it, if it was.
  killReason?: KillReason | undefined;
}

// How the runner classifies an attempt its executor killed (see classify() in retry-policy.ts).
const KILLED_AS: Record<KillReason, AttemptInfo['status']> = {
  cancelled: 'cancelled',
  shutdown: 'cancelled',
  executor_restart: 'cancelled',
  timeout: 'timed_out',
  output_limit: 'failed',
};

// The kill the old executor had begun on the record's running attempt, if any (persisted by the runner).
function killReasonOf(record: TaskRecord): KillReason | undefined {
  return record.status === 'running' && record.reason !== undefined && KILL_REASONS.has(record.reason) ? (record.reason as KillReason) : undefined;
}

// History entry of an attempt that ended before a later one started, from what its transport reports.
async function endedAttempt(host: RecoveryHost, transport: Transport, record: TaskRecord, ended: EndedAttempt): Promise<AttemptInfo> {
  const { attempt, handle, killReason } = ended;
  let exit = lostExit(host, 'spawn_interrupted');
  if (handle) {
    const state = await transport.poll(handle).catch((err: unknown) => {
      host.reportError(err, record.id);
      return undefined;
    });
    if (state?.exit) exit = state.exit;
    else if (state?.state === 'running') {
      // Cannot be (a later attempt only starts after this one ended), but never leave it behind.
      exit = lostExit(host, 'superseded');
      await transport.kill(handle, { graceMs: record.spec.graceMs ?? 5000 }).catch((err: unknown) => host.reportError(err, record.id));
    } else if (!state) exit = lostExit(host, 'unreachable');
  }
  const status = killReason
    ? KILLED_AS[killReason]
    : exit.state === 'lost' ? 'lost' : exit.exitCode === 0 ? 'completed' : 'failed';
  const reason = killReason ?? exit.reason;
  const startedAt = handle?.startedAt ?? record.startedAt ?? exit.endedAt;
  return deepFreeze({
    attempt,
    status,
    startedAt,
    endedAt: Math.max(startedAt, exit.endedAt),
    exitCode: exit.exitCode,
    signal: exit.signal,
    ...(reason !== undefined ? { reason } : {}),
    ...(handle ? { handle } : {}),
  });
}

async function recoverRunning(host: RecoveryHost, record: TaskRecord): Promise<void> {
  const transport = transportOf(host, record);
  if (!transport) {
    await host.finish(record, lostExit(host, 'transport_missing'));
    return;
  }
  // The old executor persists the reason when it starts a kill (cancel, timeout, shutdown, …).
  const killReason = killReasonOf(record);
  if (record.handle) record.handle = orphaned(record.handle);
  const handle = record.handle;
  if (!handle) {
    // A transport that can probe found no run directory: the attempt never reached its spawn
    // (the directory is created first). One that cannot probe cannot tell whether it ran.
    await host.finish(record, lostExit(host, transport.probe ? 'spawn_interrupted' : 'spawn_unconfirmed'), killReason);
    return;
  }
  let state: Awaited<ReturnType<Transport['poll']>> | undefined;
  try {
    state = await transport.poll(handle);
  } catch (err) {
    // Unreachable right now: keep it running; the transport's wait() keeps trying.
    host.reportError(err, record.id);
  }
  if (state && state.state !== 'running') {
    await host.finish(record, state.exit ?? lostExit(host, 'no_exit_marker'), killReason);
    return;
  }
  // Alive: a non-detached attempt lived only as long as its executor (it cannot report its exit).
  const detached = handle.outlivesExecutor === true || (handle.detached ?? record.spec.detached ?? false);
  host.reattach(record, transport, handle, killReason ?? (detached ? undefined : 'executor_restart'));
}

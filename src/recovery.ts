import type { Clock } from './clock.js';
import type { TaskRecord, TransportHandle } from './task.js';
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
  /** Counts a still-running attempt as running again; `watch()` attaches timeout, monitor and end. */
  reattach(record: TaskRecord, transport: Transport, handle: TransportHandle): {
    watch(): void;
    kill(reason: 'executor_restart'): void;
  };
  /** Ends an attempt that finished (or vanished) while no executor watched, through the normal end path. */
  finish(record: TaskRecord, exit: ExitInfo, error?: unknown): Promise<void>;
  persist(record: TaskRecord): void;
  reportError(err: unknown, taskId?: string): void;
}

/**
 * Brings loaded records back to life after a restart: queued and waiting tasks return to the
 * scheduler in their original order; running attempts are finished from their exit marker,
 * re-attached (detached and alive), killed (non-detached and alive — their lifetime was the old
 * executor's) or declared lost. An attempt never runs twice: a start that left no pid is lost.
 */
export async function recoverRecords(host: RecoveryHost, records: TaskRecord[]): Promise<void> {
  records.sort((a, b) => a.order - b.order);
  for (const record of records) host.adopt(record);
  const running: TaskRecord[] = [];
  for (const record of records) {
    if (record.status === 'queued' || record.status === 'waiting') host.enqueue(record);
    else if (record.status === 'running') running.push(record);
  }
  // Attempts are independent; look at them concurrently (one round trip each on remote hosts).
  await Promise.all(running.map((record) => recoverRunning(host, record)));
}

async function recoverRunning(host: RecoveryHost, record: TaskRecord): Promise<void> {
  const now = host.clock.now();
  const lost = (reason: string): ExitInfo => ({ state: 'lost', exitCode: null, signal: null, reason, endedAt: now });
  const transport = host.transports[record.spec.transport ?? host.defaultTransport];
  if (!transport) {
    await host.finish(record, lost('transport_missing'));
    return;
  }
  let handle = record.handle;
  if (!handle && transport.probe) {
    handle = await transport.probe(record.id, record.attempt).catch((err: unknown) => {
      host.reportError(err, record.id);
      return undefined;
    });
    if (handle) {
      record.handle = Object.freeze({ ...handle });
      host.persist(record);
    }
  }
  if (!handle || handle.pid === undefined) {
    await host.finish(record, lost('spawn_interrupted'));
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
    await host.finish(record, state.exit ?? lost('no_exit_marker'));
    return;
  }
  const attached = host.reattach(record, transport, handle);
  if (!record.spec.detached) attached.kill('executor_restart');
  attached.watch();
}

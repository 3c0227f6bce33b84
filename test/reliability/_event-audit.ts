// Checks the event stream of an executor as it happens: `seq` strictly increasing across all
// events, and each task's events following its life cycle
//   queued → ([started → [output…]] → retrying → …)* → one terminal event → settled → nothing,
// where an attempt that never started (spawn failure, start refused) has no `started`.
import { expect } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import type { ExecutorEventName } from '../../src/events.js';

const TERMINAL = new Set<string>(['task:completed', 'task:failed', 'task:cancelled', 'task:timed_out', 'task:lost']);
type Phase = 'new' | 'queued' | 'running' | 'ended' | 'settled';

// Allowed next phase for each (phase, event); anything else is a violation.
function step(phase: Phase, name: string): Phase | undefined {
  if (name === 'task:output') return phase === 'running' ? 'running' : undefined;
  if (TERMINAL.has(name)) return phase === 'queued' || phase === 'running' ? 'ended' : undefined;
  switch (phase) {
    case 'new':
      return name === 'task:queued' ? 'queued' : undefined;
    case 'queued':
      // An attempt that never started (spawn failure, start refused) emits no task:started.
      if (name === 'task:retrying') return 'queued';
      return name === 'task:started' ? 'running' : undefined;
    case 'running':
      return name === 'task:retrying' ? 'queued' : undefined;
    case 'ended':
      return name === 'task:settled' ? 'settled' : undefined;
    default:
      return undefined;
  }
}

export class EventAudit {
  readonly violations: string[] = [];
  readonly #phase = new Map<string, Phase>();
  readonly #counts = new Map<string, number>();
  #lastSeq = 0;
  events = 0;

  /** Subscribes to one event of `ex`. */
  listen(ex: BackgroundExecutor, name: ExecutorEventName): void {
    // One generic listener for many events; the typed map does not allow that without a cast.
    const on = ex.on.bind(ex) as unknown as (n: string, fn: (e: { taskId?: string; seq: number }) => void) => void;
    on(name, (e) => this.record(name, e.taskId, e.seq));
  }

  record(name: string, taskId: string | undefined, seq: number): void {
    this.events++;
    if (!(seq > this.#lastSeq)) this.violations.push(`seq ${seq} of ${name} after ${this.#lastSeq}`);
    this.#lastSeq = seq;
    if (taskId === undefined) return;
    const key = `${taskId}|${name}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    const from = this.#phase.get(taskId) ?? 'new';
    const to = step(from, name);
    if (to === undefined) this.violations.push(`${taskId}: ${name} in phase ${from}`);
    else this.#phase.set(taskId, to);
  }

  count(taskId: string, name: ExecutorEventName): number {
    return this.#counts.get(`${taskId}|${name}`) ?? 0;
  }

  phase(taskId: string): Phase {
    return this.#phase.get(taskId) ?? 'new';
  }

  assertValid(where = ''): void {
    expect(this.violations, `${where}: event order`).toEqual([]);
  }
}

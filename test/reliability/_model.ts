// A deliberately naive reference scheduler for the property tests: linear scans over plain
// maps, no heaps, no caching — slow and obviously right, so the real one can be compared to it.
import fc from 'fast-check';

export interface RefEntry {
  id: string;
  priority: number;
  order: number;
  /** Insertion counter: the last tie-breaker, as in PriorityScheduler. */
  seq: number;
  group: string | undefined;
  runAt: number;
}

export class RefScheduler {
  now = 0;
  paused = false;
  readonly pausedGroups = new Set<string>();
  readonly caps = new Map<string, number>();
  readonly waiting = new Map<string, RefEntry>();
  readonly running = new Map<string, string | undefined>();
  #seq = 0;

  constructor(readonly concurrency: number) {}

  add(e: Omit<RefEntry, 'seq'>): void {
    this.waiting.set(e.id, { ...e, seq: this.#seq++ });
  }

  remove(id: string): boolean {
    return this.waiting.delete(id);
  }

  runningIn(group: string): number {
    let n = 0;
    for (const g of this.running.values()) if (g === group) n++;
    return n;
  }

  /** Entries that could start now if a global slot were free, best first. */
  admissible(): RefEntry[] {
    return [...this.waiting.values()]
      .filter((e) => e.runAt <= this.now)
      .filter((e) => e.group === undefined || (!this.pausedGroups.has(e.group) && this.runningIn(e.group) < (this.caps.get(e.group) ?? Infinity)))
      .sort((a, b) => b.priority - a.priority || a.order - b.order || a.seq - b.seq);
  }

  /** What `next()` must return. */
  next(): RefEntry | undefined {
    if (this.paused || this.running.size >= this.concurrency) return undefined;
    const best = this.admissible()[0];
    if (best === undefined) return undefined;
    this.waiting.delete(best.id);
    this.running.set(best.id, best.group);
    return best;
  }

  release(id: string): void {
    this.running.delete(id);
  }

  counts(): { queued: number; delayed: number; running: number } {
    let queued = 0;
    let delayed = 0;
    for (const e of this.waiting.values()) {
      if (e.runAt <= this.now) queued++;
      else delayed++;
    }
    return { queued, delayed, running: this.running.size };
  }

  nextWakeAt(): number | undefined {
    let at: number | undefined;
    for (const e of this.waiting.values()) if (e.runAt > this.now && (at === undefined || e.runAt < at)) at = e.runAt;
    return at;
  }
}

/** Groups used by the generated operations (`undefined`: no group). */
export const GROUPS = [undefined, 'a', 'b'] as const;
export const groupArb = fc.constantFrom(...GROUPS);
export const namedGroupArb = fc.constantFrom('a', 'b');

/** Run count for the property tests; `BGEXEC_PROPERTY_RUNS` raises it for a soak run. */
export function propertyRuns(fallback: number): number {
  const env = Number(process.env['BGEXEC_PROPERTY_RUNS']);
  return Number.isInteger(env) && env > 0 ? env : fallback;
}

// Memory measurement: forced GC when available (run with --expose-gc), and a periodic
// sampler of this process's RSS or heap.

type GcFn = () => void;

/** Whether `global.gc` is available (node --expose-gc). */
export function hasGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** Runs a full GC a few times if exposed; otherwise does nothing. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: GcFn }).gc;
  if (typeof gc !== 'function') return;
  // Twice: the first pass may only free objects whose finalizers free more.
  gc();
  gc();
}

/** `heapUsed` after a GC (if exposed). */
export function heapUsedAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

type Field = 'rss' | 'heapUsed' | 'arrayBuffers';
const FIELDS: readonly Field[] = ['rss', 'heapUsed', 'arrayBuffers'];

/** What a {@link MemorySampler} saw, in bytes. */
export interface MemorySample {
  /** Value of the sampled field when the sampler started (after a GC if exposed). */
  start: number;
  peak: number;
  /** peak − start. */
  growth: number;
  /** Peak growth of each field (each field's own peak; they need not coincide). */
  growthOf: Record<Field, number>;
  samples: number;
}

/**
 * Samples this process's memory every `intervalMs` (50 ms by default) and keeps the peaks of
 * `rss`, `heapUsed` and `arrayBuffers` (Buffers live outside the JS heap); `kind` is the field
 * reported as `start`/`peak`/`growth`. Timers fire between I/O callbacks, so a busy event loop
 * is still sampled; a spike shorter than one interval may be missed.
 */
export class MemorySampler {
  readonly #kind: Field;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #start: Record<Field, number> = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  #peak: Record<Field, number> = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  #count = 0;

  constructor(kind: Field, intervalMs = 50) {
    this.#kind = kind;
    this.#intervalMs = intervalMs;
  }

  /** Collects garbage (if exposed), records the starting values and begins sampling. */
  start(): void {
    collectGarbage();
    const m = process.memoryUsage();
    for (const f of FIELDS) this.#start[f] = this.#peak[f] = m[f];
    this.#count = 1;
    this.#timer = setInterval(() => this.sample(), this.#intervalMs);
  }

  /** Takes one sample now (also called by the timer). */
  sample(): void {
    const m = process.memoryUsage();
    this.#count++;
    for (const f of FIELDS) if (m[f] > this.#peak[f]) this.#peak[f] = m[f];
  }

  stop(): MemorySample {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.sample();
    }
    this.#timer = undefined;
    const growthOf = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
    for (const f of FIELDS) growthOf[f] = this.#peak[f] - this.#start[f];
    const k = this.#kind;
    return { start: this.#start[k], peak: this.#peak[k], growth: growthOf[k], growthOf, samples: this.#count };
  }
}

export const MiB = 1024 * 1024;

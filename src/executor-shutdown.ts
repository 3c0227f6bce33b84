import { msArg, oneOfArg, optionsArg } from './args.js';
import { trace, tracing } from './debug.js';
import { ShuttingDownError } from './errors.js';
import type { ResolvedOptions, ShutdownOptions } from './executor-options.js';
import type { TaskRunner } from './runner/task-runner.js';
import { MAX_TIMER_MS } from './validate-spec.js';

/** How a shutdown treats running attempts (see `ShutdownOptions.mode`). */
export type ShutdownMode = 'kill' | 'detach' | 'drain';
const SHUTDOWN_MODES: readonly ShutdownMode[] = ['kill', 'detach', 'drain'];
// A later shutdown() with a stronger mode takes over a running one (a hung drain can be killed).
const STRENGTH: Record<ShutdownMode, number> = { drain: 0, detach: 1, kill: 2 };

/** Checks `shutdown()`'s options (throws `INVALID_ARGUMENT`) and fills in the default mode. */
export function shutdownArgs(options: ShutdownOptions | undefined): { mode: ShutdownMode; graceMs: number | undefined } {
  const o = optionsArg('options', options);
  const mode = oneOfArg('mode', o.mode, SHUTDOWN_MODES) ?? 'kill';
  const graceMs = msArg('graceMs', o.graceMs, MAX_TIMER_MS);
  return { mode, graceMs };
}

/** What the shutdown sequence needs from its executor. */
export interface ShutdownHost {
  runner: TaskRunner;
  options: ResolvedOptions;
  /** The executor's start, if one was asked for (a shutdown waits for it first). */
  started(): Promise<void> | undefined;
  reportError(err: unknown): void;
}

/** One executor's shutdown: the mode it runs in (a stronger later request takes over) and its sequence. */
export class ShutdownSequence {
  readonly #host: ShutdownHost;
  #promise: Promise<void> | undefined;
  #mode: ShutdownMode = 'kill';
  #graceMs: number | undefined;
  #wakeDrain: (() => void) | undefined;

  constructor(host: ShutdownHost) {
    this.#host = host;
  }

  /** Starts the shutdown, or lets a stronger mode take over one under way; every call returns the first call's promise. */
  request(mode: ShutdownMode, graceMs: number | undefined): Promise<void> {
    if (this.#promise === undefined) {
      this.#mode = mode;
      this.#graceMs = graceMs;
      if (tracing()) trace('shutdown', undefined, { mode, graceMs });
      this.#promise = this.#run();
    } else if (STRENGTH[mode] > STRENGTH[this.#mode]) {
      if (tracing()) trace('shutdown', undefined, { mode, graceMs, escalates: this.#mode });
      this.#mode = mode;
      if (graceMs !== undefined) this.#graceMs = graceMs;
      this.#wakeDrain?.();
    }
    return this.#promise;
  }

  async #run(): Promise<void> {
    const { runner } = this.#host;
    const started = this.#host.started();
    if (started) await started.catch(() => undefined);
    if (this.#mode === 'drain' && runner.state === 'running') {
      runner.state = 'draining';
      await new Promise<void>((resolve) => {
        this.#wakeDrain = resolve;
        void runner.onIdle().then(resolve);
      });
      this.#wakeDrain = undefined;
    }
    runner.state = 'stopping';
    runner.clearWake();
    // One round per mode: a stronger mode arriving while attempts die kills what the weaker one spared.
    const killed = new Set<string>();
    for (let round = 0; round < SHUTDOWN_MODES.length; round++) {
      const mode = this.#mode;
      const kills: Promise<void>[] = [];
      for (const [id, live] of runner.live) {
        const record = runner.records.get(id);
        if (!record || killed.has(id) || (mode === 'detach' && record.spec.detached)) continue;
        killed.add(id);
        kills.push(runner.kill(record, live, 'shutdown', this.#graceMs).then(() => live.ended));
      }
      await Promise.all(kills);
      if (this.#mode === mode) break;
    }
    runner.stopMonitor();
    runner.waiters.rejectAll(() => new ShuttingDownError('executor shut down before the task settled'));
    for (const extras of runner.extras.values()) extras.detachSignal?.();
    const { store, transports } = this.#host.options;
    const report = (err: unknown): void => this.#host.reportError(err);
    await store.flush().catch(report);
    await store.close().catch(report);
    // Stopped before the transports close: a wait that a closing transport ends (an attempt that
    // `detach` spared goes on unwatched, as its stored record says) settles nothing.
    runner.state = 'stopped';
    await Promise.all(Object.values(transports).map((t) => t.close().catch(report)));
    runner.releaseIdleWaiters();
    runner.notifyAll();
  }
}

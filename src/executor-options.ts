import type { Clock } from './clock.js';
import { describeValue } from './args.js';
import { InvalidArgumentError } from './errors.js';
import { PriorityScheduler } from './scheduler/priority.js';
import type { Scheduler } from './scheduler/types.js';
import { MemoryStore } from './stores/memory.js';
import type { Store } from './stores/types.js';
import type { TaskSpec, TerminalStatus } from './task.js';
import { LocalTransport } from './transports/local.js';
import type { Transport } from './transports/types.js';
import { MAX_TIMER_MS, normalizeSpec } from './validate-spec.js';

/** Minimal logger (console-compatible). */
export interface Logger {
  /** Not called by bgexec today; accepted so any console-like object fits. */
  debug?(message: string, ...rest: unknown[]): void;
  /** Not called by bgexec today; accepted so any console-like object fits. */
  info?(message: string, ...rest: unknown[]): void;
  /** Receives executor errors when nobody listens for the `error` event. */
  warn?(message: string, ...rest: unknown[]): void;
  /** Receives the errors thrown by listeners of the `error` event itself. */
  error?(message: string, ...rest: unknown[]): void;
}

/** Options of `BackgroundExecutor`. */
export interface ExecutorOptions {
  /** Named transports; default `{ local: new LocalTransport() }` (run dirs under the store's `runRoot`). */
  transports?: Record<string, Transport>;
  /** Default `new MemoryStore()`. */
  store?: Store;
  /** Default `new PriorityScheduler()`. Its clock drives every timer of the executor. */
  scheduler?: Scheduler;
  /** Spec fields applied under every submitted spec (`env` is merged key by key). */
  defaults?: Partial<Omit<TaskSpec, 'command' | 'args' | 'signal' | 'idempotencyKey'>>;
  /** Transport used when a spec names none; default `local` (or the only transport given). */
  defaultTransport?: string;
  /**
   * Where executor errors go when nobody listens for the `error` event (`warn`), and errors
   * thrown by `error` listeners (`error`). Without it they become process warnings.
   */
  logger?: Logger;
  /** How often running attempts are checked for output growth and output limits; default 100 ms. */
  outputPollMs?: number;
  /**
   * With a `JsonDirStore`: serve control requests that other processes (the `bgexec` command)
   * drop into `<dir>/requests/` (cancel, retry, pause, resume, priority, submit, prune); default
   * true. See docs/cli.md.
   */
  control?: boolean;
}

/** Options of `shutdown()`. */
export interface ShutdownOptions {
  /**
   * `kill` (default): kill running attempts (recorded `cancelled`, reason `shutdown`); queued tasks
   * stay queued in the store. `detach`: kill non-detached attempts, leave detached ones running for
   * a later executor to re-attach. `drain`: accept nothing new, run everything queued, then stop.
   * Only `undefined` means the default (`null` is refused). A later `shutdown()` with a stronger
   * mode (`drain` < `detach` < `kill`) takes over one still in progress.
   */
  mode?: 'kill' | 'detach' | 'drain';
  /** TERM → KILL delay for the attempts it kills (default: each task's graceMs). */
  graceMs?: number;
}

/** Options of `cleanup()`. */
export interface CleanupOptions {
  /** Only tasks that ended at least this long ago. */
  olderThanMs?: number;
  /** Keep the newest N matching tasks. */
  keep?: number;
  /** Only these terminal statuses (default: all terminal). */
  statuses?: readonly TerminalStatus[];
}

/** Executor options with every default filled in and checked. */
export interface ResolvedOptions {
  store: Store;
  /**
   * False for the executor's own default `MemoryStore`: nothing else can reach it, and the
   * executor reads it only at its own `start()` (when it is empty), so writing every record
   * into it would be work nobody can ever observe.
   */
  persists: boolean;
  scheduler: Scheduler;
  clock: Clock;
  transports: Readonly<Record<string, Transport>>;
  transportNames: ReadonlySet<string>;
  defaultTransport: string;
  defaults: ExecutorOptions['defaults'];
  logger: Logger | undefined;
  outputPollMs: number;
  control: boolean;
}

const TRANSPORT_METHODS = ['start', 'wait', 'poll', 'read', 'kill', 'cleanup', 'close'] as const;

/** Fills in defaults and validates; bad options throw INVALID_ARGUMENT (bad defaults: INVALID_SPEC). */
export function resolveOptions(options: ExecutorOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidArgumentError('options', `must be an object, got ${describeValue(options)}`);
  }
  const store: Store = options.store ?? new MemoryStore();
  const scheduler = options.scheduler ?? new PriorityScheduler();
  const transports = { ...(options.transports ?? { local: new LocalTransport({ root: store.runRoot }) }) };
  for (const [name, t] of Object.entries(transports)) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) throw new InvalidArgumentError(`transports.${name}`, 'is not a valid transport name');
    for (const m of TRANSPORT_METHODS) {
      if (typeof (t as unknown as Record<string, unknown> | undefined)?.[m] !== 'function') {
        throw new InvalidArgumentError(`transports.${name}`, `does not implement Transport.${m}()`);
      }
    }
  }
  const transportNames = new Set(Object.keys(transports));
  const names = [...transportNames];
  const defaultTransport = options.defaultTransport ?? (names.length === 1 ? names[0]! : 'local');
  if (!transportNames.has(defaultTransport)) {
    throw new InvalidArgumentError('defaultTransport', `names no transport (known: ${names.join(', ')})`);
  }
  if (options.defaults !== undefined) {
    // Validated once, as a spec, so a bad default fails here and not on every submit.
    normalizeSpec({ command: 'true', ...options.defaults }, transportNames, defaultTransport);
  }
  // Only `undefined` means the default: null is a mistake, not a request for it.
  const outputPollMs = options.outputPollMs === undefined ? 100 : options.outputPollMs;
  if (typeof outputPollMs !== 'number' || !Number.isFinite(outputPollMs) || outputPollMs < 1 || outputPollMs > MAX_TIMER_MS) {
    throw new InvalidArgumentError('outputPollMs', `must be a number of ms >= 1, got ${describeValue(outputPollMs)}`);
  }
  if (options.control !== undefined && typeof options.control !== 'boolean') {
    throw new InvalidArgumentError('control', `must be a boolean, got ${describeValue(options.control)}`);
  }
  return {
    store,
    persists: options.store !== undefined,
    scheduler,
    clock: scheduler.clock,
    transports,
    transportNames,
    defaultTransport,
    defaults: options.defaults,
    logger: options.logger,
    outputPollMs,
    control: options.control ?? true,
  };
}

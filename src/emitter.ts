import { EventEmitter } from 'eventemitter3';
import { describeValue } from './args.js';
import { InvalidArgumentError } from './errors.js';

type AnyFn = (...args: unknown[]) => unknown;

/**
 * eventemitter3 with isolated listeners: `deliver()` calls every listener even when one
 * throws or returns a rejected promise, and hands each failure to `onListenerError`.
 * `once` is re-implemented on top of `on` because `deliver()` calls listeners itself.
 */
export class IsolatingEmitter<Events extends EventEmitter.ValidEventTypes> extends EventEmitter<Events> {
  readonly #onceWrappers = new Map<string | symbol, Map<AnyFn, AnyFn[]>>();

  /** Adds a listener; a listener that is not a function throws `INVALID_ARGUMENT`. */
  override on<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    checkListener(fn);
    return super.on(event, fn, context);
  }

  /** Adds a listener, the same as `on`; a listener that is not a function throws `INVALID_ARGUMENT`. */
  override addListener<T extends EventEmitter.EventNames<Events>>(event: T, fn: EventEmitter.EventListener<Events, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  /** Adds a listener called at most once; a listener that is not a function throws `INVALID_ARGUMENT`. */
  override once<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn: EventEmitter.EventListener<Events, T>,
    context?: unknown,
  ): this {
    checkListener(fn);
    const original = fn as unknown as AnyFn;
    const wrapper: AnyFn = (...args) => {
      this.#forget(event, original, wrapper);
      super.removeListener(event, wrapper as never);
      return original.apply(context, args);
    };
    let byFn = this.#onceWrappers.get(event);
    if (!byFn) this.#onceWrappers.set(event, (byFn = new Map()));
    const list = byFn.get(original) ?? [];
    list.push(wrapper);
    byFn.set(original, list);
    return super.on(event, wrapper as never, undefined);
  }

  override removeListener<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    if (fn) {
      const wrappers = this.#onceWrappers.get(event)?.get(fn as unknown as AnyFn);
      if (wrappers) {
        for (const w of wrappers) super.removeListener(event, w as never);
        this.#onceWrappers.get(event)?.delete(fn as unknown as AnyFn);
      }
    } else {
      this.#onceWrappers.delete(event);
    }
    return super.removeListener(event, fn, context, once);
  }

  /** Removes a listener (one added with `on` or `once` alike); the same as `removeListener`. */
  override off<T extends EventEmitter.EventNames<Events>>(
    event: T,
    fn?: EventEmitter.EventListener<Events, T>,
    context?: unknown,
    once?: boolean,
  ): this {
    return this.removeListener(event, fn, context, once);
  }

  override removeAllListeners(event?: EventEmitter.EventNames<Events>): this {
    if (event === undefined) this.#onceWrappers.clear();
    else this.#onceWrappers.delete(event);
    return super.removeAllListeners(event);
  }

  /** Calls each listener of `event` in isolation. Returns whether there were listeners. */
  protected deliver(event: EventEmitter.EventNames<Events>, payload: unknown, onListenerError: (err: unknown) => void): boolean {
    const listeners = this.listeners(event) as unknown as AnyFn[];
    for (const listener of listeners) {
      try {
        const result = listener(payload);
        if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (err: unknown) => reportSafely(onListenerError, err));
        }
      } catch (err) {
        reportSafely(onListenerError, err);
      }
    }
    return listeners.length > 0;
  }

  #forget(event: string | symbol, original: AnyFn, wrapper: AnyFn): void {
    const byFn = this.#onceWrappers.get(event);
    const list = byFn?.get(original);
    if (!byFn || !list) return;
    const i = list.indexOf(wrapper);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) byFn.delete(original);
  }
}

// Reporting a listener's failure must not fail in turn: the caller is in the middle of a state
// change (a task starting or settling) that has to complete whatever a listener did.
function reportSafely(onListenerError: (err: unknown) => void, err: unknown): void {
  try {
    onListenerError(err);
  } catch {
    // Nothing left to tell: the report itself is what failed.
  }
}

function checkListener(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError('listener', `must be a function, got ${describeValue(fn)}`);
}

import { StdinError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import type { Transport } from '../transports/types.js';

/** Most bytes that may wait to be delivered to one task's stdin at any moment (1 MiB). */
export const MAX_STDIN_IN_FLIGHT = 1_048_576;

/**
 * The input side of one attempt started with `stdin: 'pipe'`: writes go to the transport one at
 * a time, in the order they were made, and the bytes not yet delivered are capped, so a caller
 * that writes faster than the task reads learns it (`STDIN_FULL`) instead of filling memory.
 */
export class StdinChannel {
  readonly #transport: Transport;
  readonly #taskId: string;
  #handle: TransportHandle | undefined;
  #tail: Promise<void>;
  #inFlight = 0;
  #closed = false;
  #ended: StdinError | undefined;
  #ready: (() => void) | undefined;

  /**
   * Without a handle, the attempt is still starting (its transport's `start()` has not resolved):
   * writes queue until {@link StdinChannel.attach} gives the handle, or fail once {@link StdinChannel.end} is called.
   */
  constructor(transport: Transport, taskId: string, handle?: TransportHandle) {
    this.#transport = transport;
    this.#taskId = taskId;
    this.#handle = handle;
    this.#tail = handle ? Promise.resolve() : new Promise<void>((resolve) => { this.#ready = resolve; });
  }

  /** The attempt has started: queued writes go to it. */
  attach(handle: TransportHandle): void {
    this.#handle ??= handle;
    this.#ready?.();
    this.#ready = undefined;
  }

  /** Bytes accepted by `write()` and not yet delivered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues `data` after every earlier write; resolves once the transport has delivered it. */
  write(data: Uint8Array): Promise<void> {
    const taskId = this.#taskId;
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#closed) return Promise.reject(new StdinError('STDIN_CLOSED', `the input of task ${taskId} was closed`, { taskId }));
    if (this.#inFlight + data.byteLength > MAX_STDIN_IN_FLIGHT) {
      return Promise.reject(new StdinError('STDIN_FULL', `${this.#inFlight} bytes still wait to reach task ${taskId}; with ${data.byteLength} more that is over the cap of ${MAX_STDIN_IN_FLIGHT}: await earlier writes first`, { taskId }));
    }
    if (data.byteLength === 0) return this.#tail;
    this.#inFlight += data.byteLength;
    const run = async (): Promise<void> => {
      try {
        if (this.#ended) throw this.#ended;
        try {
          await this.#transport.writeStdin!(this.#handle!, data);
        } catch (err) {
          // The task ended while the bytes were on their way: it may have read some of them.
          if (err instanceof StdinError && err.code === 'TASK_NOT_RUNNING') {
            throw new StdinError('TASK_NOT_RUNNING', `task ${taskId} ended while this input was being written: it may have read part of it`, { taskId, cause: err });
          }
          throw err;
        }
      } finally {
        this.#inFlight -= data.byteLength;
      }
    };
    const result = this.#tail.then(run, run);
    // The chain goes on after a failed write; each caller sees its own write's outcome.
    this.#tail = result.catch(() => {});
    return result;
  }

  /** Closes the input once earlier writes are delivered; the task then reads end-of-file. */
  close(): Promise<void> {
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#closed) return this.#tail;
    this.#closed = true;
    // Like a write, a close still queued when the attempt ends fails: the transport is not asked
    // (for a remote one that is a round trip to a task that is gone).
    const run = (): Promise<void> => (this.#ended ? Promise.reject(this.#ended) : this.#transport.closeStdin!(this.#handle!));
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** The attempt ended (or never started, or waits in a queue): writes not yet begun fail with `TASK_NOT_RUNNING`. */
  end(why = 'ended'): void {
    const taskId = this.#taskId;
    this.#ended ??= new StdinError('TASK_NOT_RUNNING', `task ${taskId} ${why} before its input was delivered`, { taskId });
    this.#ready?.();
    this.#ready = undefined;
  }
}

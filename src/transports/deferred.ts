/** A promise with its settle functions, for a result another party delivers later. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(err: Error): void;
}

/**
 * A new {@link Deferred}. Its rejection is marked handled: nobody may be listening when it
 * rejects (a close with no waiter, a helper that dies), and the owner reacts through its own chain.
 */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

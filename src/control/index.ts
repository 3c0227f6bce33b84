import type { Store } from '../stores/types.js';
import type { ControlTarget } from './handlers.js';
import { ControlListener } from './listener.js';

export { ControlListener, type ControlListenerOptions } from './listener.js';
export type { ControlTarget } from './handlers.js';
export * from './protocol.js';

/**
 * Starts serving control requests when `store` is a JSON directory store (one with a `dir`);
 * resolves undefined for any other store. A failure is reported and never fails the executor's
 * start: the tasks matter more than steering them from outside.
 */
export async function openControl(
  store: Store,
  target: ControlTarget,
  report: (err: unknown, taskId?: string) => void,
): Promise<ControlListener | undefined> {
  const dir = (store as { dir?: unknown }).dir;
  if (store.kind !== 'json-dir' || typeof dir !== 'string') return undefined;
  try {
    return await ControlListener.open({ dir, target, report });
  } catch (err) {
    report(err);
    return undefined;
  }
}

/** Callers waiting for a task's next change (followers of its output), woken all at once per task. */
export class ChangeWatchers {
  readonly #byId = new Map<string, Set<() => void>>();

  /** A promise settled at the task's next `notify`. */
  next(id: string): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, (set = new Set()));
      set.add(resolve);
    });
  }

  /** Wakes everyone waiting on the task. */
  notify(id: string): void {
    const set = this.#byId.get(id);
    if (!set) return;
    this.#byId.delete(id);
    for (const fn of set) fn();
  }

  /** Wakes everyone waiting on any task. */
  notifyAll(): void {
    for (const id of [...this.#byId.keys()]) this.notify(id);
  }
}

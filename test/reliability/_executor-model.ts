// The executor's expected behaviour over RefScheduler: which tasks run, with which attempt, and
// how each ends — retries re-enter the queue at the back of their priority (a fresh `order`),
// after their fixed backoff; a cancelled task never runs again.
import type { RefScheduler } from './_model.js';

export interface MTask {
  id: string;
  priority: number;
  group: string | undefined;
  attempts: number;
  backoff: number | undefined;
  /** A backoff function that gives no usable delay: a failure settles the task instead of a retry. */
  noRetry: boolean;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'lost';
  attempt: number;
}

export class ExecutorModel {
  readonly #ref: RefScheduler;
  readonly #tasks = new Map<string, MTask>();
  // One counter for submissions and retries, like the runner's `order`.
  #order = 0;

  constructor(ref: RefScheduler) {
    this.#ref = ref;
  }

  all(): MTask[] {
    return [...this.#tasks.values()];
  }

  runningTasks(): MTask[] {
    return this.all().filter((t) => t.status === 'running');
  }

  submit(id: string, spec: { priority: number; group: string | undefined; delay: number; attempts: number; backoff: number | undefined; noRetry?: boolean }): void {
    const noRetry = spec.noRetry ?? false;
    this.#tasks.set(id, { id, priority: spec.priority, group: spec.group, attempts: spec.attempts, backoff: spec.backoff, noRetry, status: 'pending', attempt: 0 });
    this.#enqueue(id, spec.delay);
    this.#admit();
  }

  cancel(id: string): void {
    const t = this.#tasks.get(id)!;
    if (t.status === 'pending') this.#ref.remove(id);
    else if (t.status === 'running') this.#ref.release(id);
    else return;
    t.status = 'cancelled';
    this.#admit();
  }

  /** The running attempt of `id` ended with an exit code, or was lost. */
  end(id: string, how: number | 'lost'): void {
    const t = this.#tasks.get(id)!;
    this.#ref.release(id);
    if (how === 0) t.status = 'completed';
    else if (how === 'lost') t.status = 'lost'; // retryOn defaults to ['failed']
    else if (t.attempt < t.attempts && !t.noRetry) {
      t.status = 'pending';
      this.#enqueue(id, t.backoff ?? 0);
    } else t.status = 'failed';
    this.#admit();
  }

  pause(group: string | undefined): void {
    if (group === undefined) this.#ref.paused = true;
    else this.#ref.pausedGroups.add(group);
  }

  resume(group: string | undefined): void {
    if (group === undefined) this.#ref.paused = false;
    else this.#ref.pausedGroups.delete(group);
    this.#admit();
  }

  /** Moves time on, admitting at each moment a delay or backoff falls due, as the wake timer does. */
  advance(ms: number): void {
    const target = this.#ref.now + ms;
    for (let at = this.#ref.nextWakeAt(); at !== undefined && at <= target; at = this.#ref.nextWakeAt()) {
      this.#ref.now = at;
      this.#admit();
    }
    this.#ref.now = target;
    this.#admit();
  }

  #enqueue(id: string, delay: number): void {
    const t = this.#tasks.get(id)!;
    this.#ref.add({ id, priority: t.priority, order: ++this.#order, group: t.group, runAt: this.#ref.now + delay });
  }

  // Fills free slots with the best admissible tasks, as the executor's dispatch loop does.
  #admit(): void {
    for (let e = this.#ref.next(); e !== undefined; e = this.#ref.next()) {
      const t = this.#tasks.get(e.id)!;
      t.status = 'running';
      t.attempt++;
    }
  }
}

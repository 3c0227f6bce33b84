import { BgexecError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import { deferred } from './deferred.js';
import { lostExit } from './job-protocol/markers.js';
import type { ExitInfo, PollResult } from './types.js';

/** What a transport that polls in rounds knows about one attempt it watches. */
export interface WatchedAttempt {
  readonly leaf: string;
  readonly runDir: string;
  readonly handle: TransportHandle;
  /** At least one poll round has answered for it (or start() created it). */
  seen: boolean;
  /** Its end as reported to callers, set once. */
  final?: ExitInfo;
  /** A kill is in progress: poll fast to see its end. */
  killing: boolean;
  readonly done: Promise<ExitInfo>;
  resolve(info: ExitInfo): void;
  reject(err: Error): void;
}

/** The fields every {@link WatchedAttempt} starts with: not yet seen by any round. */
export function newWatchedAttempt(handle: TransportHandle, runDir: string, leaf: string): WatchedAttempt {
  const { promise: done, resolve, reject } = deferred<ExitInfo>();
  return { leaf, runDir, handle, seen: false, killing: false, done, resolve, reject };
}

/** Resolves once `a` has ended or after `ms`, whichever comes first. */
export async function endedOrAfter(a: WatchedAttempt, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([a.done.catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

// Ended attempts kept in memory; older ones are forgotten and looked at again when asked.
const SETTLED_CACHE = 1024;

/**
 * Watches every attempt of one transport with ONE round at a time: a round looks at all open
 * attempts together (`pass`), waiters of {@link nextRound} are released once it has finished,
 * and the next round is scheduled after the delay {@link nextDelay} picks. A {@link kick}
 * during a round runs another one right after it. Subclasses say what a round does and how
 * long to wait between rounds; `R` is what a pass hands to `nextDelay`.
 */
export abstract class RoundPoller<A extends WatchedAttempt, R = void> {
  /** Watched attempts by leaf (`<taskId>-<attempt>`). */
  readonly attempts = new Map<string, A>();
  /** Why the last round could not reach the other side; undefined while it answers. */
  unreachable: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private again = false;
  private stopped = false;
  private started = 0;
  private waiters: Array<{ round: number; resolve: () => void }> = [];

  /** Looks at the open attempts once; errors are the subclass's to record (a pass must not throw). */
  protected abstract pass(targets: A[]): Promise<R>;
  /** Delay before the next round after a pass, or undefined for none; `again` = kicked meanwhile. */
  protected abstract nextDelay(targets: A[], again: boolean, result: R): number | undefined;
  /** Delay of a round scheduled by {@link ensure}. */
  protected abstract idleDelay(): number;

  /** Resolves after the next round that starts from now on has finished. */
  nextRound(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const round = this.started + 1;
    const p = new Promise<void>((resolve) => this.waiters.push({ round, resolve }));
    this.kick();
    return p;
  }

  /** Polls as soon as possible. */
  kick(): void {
    if (this.stopped) return;
    if (this.inFlight) this.again = true;
    else this.schedule(0);
  }

  /** Makes sure a round is scheduled while attempts need watching. */
  ensure(): void {
    if (!this.stopped && !this.inFlight && this.timer === undefined && this.active().length > 0) this.schedule(this.idleDelay());
  }

  /** No more rounds; waiters of {@link nextRound} are released. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Ends an attempt for callers, once. */
  finalize(a: A, info: ExitInfo): void {
    if (a.final) return;
    a.final = info;
    a.killing = false;
    this.settle(a, info);
  }

  /** The record of `leaf`, made by `create` (and watched) when there is none yet. */
  watch(leaf: string, create: () => A): A {
    let a = this.attempts.get(leaf);
    if (a === undefined) {
      a = create();
      this.attempts.set(leaf, a);
      this.evict();
    }
    this.ensure();
    return a;
  }

  /** `a`, after one round if no round has looked at it yet. */
  async seen(a: A): Promise<A> {
    if (!a.seen && !a.final) await this.nextRound();
    return a;
  }

  /** The attempt's end: at once when known, else when a round sees it. */
  outcome(a: A): Promise<ExitInfo> {
    return a.final ? Promise.resolve(a.final) : a.done;
  }

  /** What poll() answers for `a` given its output sizes (with the reason the other side is away, if it is). */
  pollResult(a: A, sizes: Omit<PollResult, 'state' | 'exit' | 'unreachable'>): PollResult {
    if (a.final) return { state: a.final.state, exit: a.final, ...sizes };
    const note = this.unreachable;
    return note === undefined ? { state: 'running', ...sizes } : { state: 'running', ...sizes, unreachable: note };
  }

  /** Stops watching `leaf`; its waiters get `lost` (`cleaned_up`) if it had not ended. */
  drop(leaf: string): void {
    const a = this.attempts.get(leaf);
    this.attempts.delete(leaf);
    if (a && !a.final) this.finalize(a, lostExit('cleaned_up'));
  }

  /** Stops the rounds and rejects the waiters of every open attempt with SHUTTING_DOWN. */
  close(message: string): void {
    this.stop();
    const err = new BgexecError('SHUTTING_DOWN', message);
    for (const a of this.attempts.values()) if (!a.final) a.reject(err);
  }

  /** Delivers an end to the attempt's waiters (subclasses resolve more first). */
  protected settle(a: A, info: ExitInfo): void {
    a.resolve(info);
  }

  /** Called for an ended attempt forgotten to bound memory. */
  protected forgotten(_leaf: string): void {}

  /** The attempts without an end. */
  protected active(): A[] {
    return [...this.attempts.values()].filter((a) => a.final === undefined);
  }

  // Bounded: the oldest ended attempts are forgotten; asked again, they are looked at again.
  private evict(): void {
    const attempts = this.attempts;
    if (attempts.size <= SETTLED_CACHE) return;
    for (const [leaf, a] of attempts) {
      if (attempts.size <= SETTLED_CACHE) break;
      if (!a.final) continue;
      attempts.delete(leaf);
      this.forgotten(leaf);
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.round();
    }, ms);
  }

  private async round(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    const targets = this.active();
    const round = ++this.started;
    this.inFlight = true;
    this.again = false;
    const result = await this.pass(targets);
    this.inFlight = false;
    const ready = this.waiters.filter((w) => w.round <= round);
    this.waiters = this.waiters.filter((w) => w.round > round);
    for (const w of ready) w.resolve();
    if (this.stopped) return;
    const ms = this.nextDelay(targets, this.again, result);
    if (ms !== undefined) this.schedule(ms);
  }
}

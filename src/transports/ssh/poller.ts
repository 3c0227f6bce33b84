import { errorMessage } from '../../args.js';
import { lostExit } from '../job-protocol/markers.js';
import type { ExitInfo } from '../types.js';
import { decideState, mirrorComplete, type Attempt } from './attempt.js';
import type { OutputMirror } from './mirror.js';
import { buildPollScript, type PollJob } from './remote-scripts.js';
import { parseCompleteReply } from './reply.js';
import type { SshClient } from './ssh-client.js';

/** Timing of a {@link HostPoller}. */
export interface PollerTiming {
  /** Interval while output flows or something changed. */
  minMs: number;
  /** Longest interval while nothing changes. */
  maxMs: number;
  /** A host away this long ends its attempts as lost (`unreachable_timeout`). */
  unreachableTimeoutMs: number;
  /** Limit of one poll call. */
  callTimeoutMs: number;
}

// Output bytes one poll reply may carry in all (split among the attempts), and per stream.
const REPLY_BUDGET = 16 << 20;
const STREAM_MAX = 4 << 20;
const STREAM_MIN = 64 << 10;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * Polls all watched attempts of one host with ONE `sh -s` call per round: state first, then
 * sizes and the output bytes past what the mirror holds. Adaptive: the interval drops to
 * `minMs` while output flows or states change and doubles up to `maxMs` while nothing does;
 * a failed call (host away) is retried with its own backoff and noted in `unreachable`.
 */
export class HostPoller {
  readonly attempts = new Map<string, Attempt>();
  /** Why the host could not be reached at the last try; undefined while it answers. */
  unreachable: string | undefined;
  private unreachableSince: number | undefined;
  private interval: number;
  private retryDelay = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private again = false;
  private stopped = false;
  private started = 0;
  private completed = 0;
  private waiters: Array<{ round: number; resolve: () => void }> = [];

  constructor(
    private readonly client: SshClient,
    private readonly mirror: OutputMirror,
    private readonly timing: PollerTiming,
    /** Called after a round in which the host answered (re-sends kills that could not be delivered). */
    private readonly onReachable: () => void,
  ) {
    this.interval = timing.minMs;
  }

  /** Resolves after the next round that starts from now on has finished (answered or failed). */
  nextRound(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const round = this.started + 1;
    const p = new Promise<void>((resolve) => this.waiters.push({ round, resolve }));
    this.kick();
    return p;
  }

  /** Polls as soon as possible and resets the interval to its minimum. */
  kick(): void {
    if (this.stopped) return;
    this.interval = this.timing.minMs;
    if (this.inFlight) this.again = true;
    else this.schedule(0);
  }

  /** Makes sure a round is scheduled while attempts need watching. */
  ensure(): void {
    if (!this.stopped && !this.inFlight && this.timer === undefined && this.active().length > 0) this.schedule(this.interval);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  /** Marks an attempt ended for callers: resolves its waiters once. */
  finalize(a: Attempt, info: ExitInfo): void {
    if (a.final) return;
    a.final = info;
    a.killing = false;
    a.resolve(info);
  }

  private active(): Attempt[] {
    return [...this.attempts.values()].filter((a) => a.final === undefined);
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
    let progress = false;
    let more = false;
    if (targets.length > 0) {
      try {
        const per = Math.max(STREAM_MIN, Math.min(STREAM_MAX, Math.floor(REPLY_BUDGET / (2 * targets.length))));
        const jobs: PollJob[] = targets.map((a) => ({ runDir: a.runDir, leaf: a.leaf, outOffset: a.out, errOffset: a.err, maxBytes: per }));
        const reply = parseCompleteReply(await this.client.run(buildPollScript(jobs), this.timing.callTimeoutMs));
        ({ progress, more } = await this.apply(reply));
        this.unreachable = undefined;
        this.unreachableSince = undefined;
        this.retryDelay = RETRY_MIN_MS;
        this.onReachable();
      } catch (err) {
        this.failed(targets, err);
      }
    }
    this.inFlight = false;
    this.completed = round;
    const ready = this.waiters.filter((w) => w.round <= round);
    this.waiters = this.waiters.filter((w) => w.round > round);
    for (const w of ready) w.resolve();
    if (this.stopped) return;
    const killing = targets.some((a) => a.killing && a.final === undefined);
    if (this.unreachable !== undefined) {
      this.schedule(this.again ? 0 : this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
    }
    else if (this.again || more) this.schedule(0);
    else if (this.active().length > 0) {
      this.interval = progress || killing ? this.timing.minMs : Math.min(this.interval * 2, this.timing.maxMs);
      this.schedule(this.interval);
    }
  }

  private async apply(reply: Awaited<ReturnType<typeof parseCompleteReply>>): Promise<{ progress: boolean; more: boolean }> {
    let bootId: string | undefined;
    let progress = false;
    const now = Date.now();
    const touched = new Set<Attempt>();
    for (const item of reply) {
      if (item.t === 'B') bootId = item.bootId;
      if (item.t !== 'J' && item.t !== 'S' && item.t !== 'O') continue;
      const a = this.attempts.get(item.leaf);
      if (a === undefined || a.final !== undefined) continue;
      touched.add(a);
      if (item.t === 'J') {
        a.seen = true;
        if (a.ended !== undefined) continue;
        const ended = decideState(item, a.handle, bootId, now);
        if (item.state === 'G') a.gone = true;
        if (ended) {
          a.ended = ended;
          progress = true;
        }
      } else if (item.t === 'S') {
        a.remoteOut = item.out;
        a.remoteErr = item.err;
        if (item.limit === true) a.limitReached = true;
      } else {
        const isOut = item.stream === 'stdout';
        // Only bytes that continue the mirror exactly; anything else is re-asked next round.
        if (item.offset !== (isOut ? a.out : a.err)) continue;
        await this.mirror.append(a.leaf, item.stream, item.data);
        if (isOut) a.out += item.data.length;
        else a.err += item.data.length;
        progress ||= item.data.length > 0;
      }
    }
    let more = false;
    for (const a of touched) {
      if (a.ended !== undefined && mirrorComplete(a)) this.finalize(a, a.ended);
      else if (!mirrorComplete(a)) more = true;
    }
    return { progress, more };
  }

  private failed(targets: Attempt[], err: unknown): void {
    const now = Date.now();
    this.unreachableSince ??= now;
    this.unreachable = errorMessage(err);
    // The host itself is gone for good (a destroyed Vagrant machine): nothing to wait for.
    const gone = (err as { hostGone?: unknown } | null)?.hostGone;
    if (typeof gone === 'string') {
      for (const a of targets) this.finalize(a, a.ended ?? lostExit(gone, now));
      return;
    }
    if (now - this.unreachableSince < this.timing.unreachableTimeoutMs) return;
    for (const a of targets) this.finalize(a, a.ended ?? lostExit('unreachable_timeout', now));
  }
}

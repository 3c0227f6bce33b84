import { errorMessage } from '../../args.js';
import { lostExit } from '../job-protocol/markers.js';
import { RoundPoller } from '../round-poller.js';
import { decideState, mirrorComplete, type Attempt } from './attempt.js';
import type { OutputMirror } from './mirror.js';
import { buildPollScript, type PollJob } from './remote-scripts.js';
import { parseCompleteReply, type ReplyItem } from './reply.js';
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

// What a round saw: output or a state changed (`progress`), output left to fetch at once (`more`).
interface RoundOutcome {
  progress: boolean;
  more: boolean;
}

/**
 * Polls all watched attempts of one host with ONE `sh -s` call per round: state first, then
 * sizes and the output bytes past what the mirror holds. Adaptive: the interval drops to
 * `minMs` while output flows or states change and doubles up to `maxMs` while nothing does;
 * a failed call (host away) is retried with its own backoff and noted in `unreachable`.
 */
export class HostPoller extends RoundPoller<Attempt, RoundOutcome> {
  private unreachableSince: number | undefined;
  private interval: number;
  private retryDelay = RETRY_MIN_MS;
  private applying: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: SshClient,
    private readonly mirror: OutputMirror,
    private readonly timing: PollerTiming,
    /** Called after a round in which the host answered (re-sends kills that could not be delivered). */
    private readonly onReachable: () => void,
  ) {
    super();
    this.interval = timing.minMs;
  }

  /** Polls as soon as possible and resets the interval to its minimum. */
  override kick(): void {
    this.interval = this.timing.minMs;
    super.kick();
  }

  // A forgotten attempt's mirror goes too; asked again, its output is fetched again from the host.
  protected override forgotten(leaf: string): void {
    void this.mirror.remove(leaf).catch(() => {});
  }

  protected idleDelay(): number {
    return this.interval;
  }

  protected async pass(targets: Attempt[]): Promise<RoundOutcome> {
    if (targets.length === 0) return { progress: false, more: false };
    try {
      const per = Math.max(STREAM_MIN, Math.min(STREAM_MAX, Math.floor(REPLY_BUDGET / (2 * targets.length))));
      const jobs: PollJob[] = targets.map((a) => ({
        runDir: a.runDir, leaf: a.leaf, outOffset: a.out, errOffset: a.err, maxBytes: per,
        // Only for attempts with input: the check scans /proc on the host.
        ...(a.inputRounds === undefined ? {} : { input: { taskId: a.handle.taskId, attempt: a.handle.attempt } }),
      }));
      const reply = parseCompleteReply(await this.client.run(buildPollScript(jobs), this.timing.callTimeoutMs));
      const result = await this.applyInTurn(reply);
      this.unreachable = undefined;
      this.unreachableSince = undefined;
      this.retryDelay = RETRY_MIN_MS;
      this.onReachable();
      return result;
    } catch (err) {
      this.failed(targets, err);
      return { progress: false, more: false };
    }
  }

  protected nextDelay(targets: Attempt[], again: boolean, { progress, more }: RoundOutcome): number | undefined {
    if (this.unreachable !== undefined) {
      const ms = again ? 0 : this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      return ms;
    }
    if (again || more) return 0;
    if (this.active().length === 0) return undefined;
    const killing = targets.some((a) => a.killing && a.final === undefined);
    this.interval = progress || killing ? this.timing.minMs : Math.min(this.interval * 2, this.timing.maxMs);
    return this.interval;
  }

  /**
   * Takes in the poll frames that came with another call (a write's reply), in turn with the
   * rounds' own. False when they carried no output (the caller may want a round soon).
   */
  async absorb(reply: ReplyItem[]): Promise<boolean> {
    const { progress, more } = await this.applyInTurn(reply);
    if (more) this.kick();
    return progress;
  }

  // One reply at a time: two appliers could otherwise both find the mirror at the same offset
  // and append the same bytes twice.
  private applyInTurn(reply: ReplyItem[]): Promise<RoundOutcome> {
    const run = (): Promise<RoundOutcome> => this.apply(reply);
    const result = this.applying.then(run, run);
    this.applying = result.catch(() => {});
    return result;
  }

  private async apply(reply: ReplyItem[]): Promise<RoundOutcome> {
    let bootId: string | undefined;
    let progress = false;
    const now = Date.now();
    const touched = new Set<Attempt>();
    const grown = new Set<Attempt>();
    for (const item of reply) {
      if (item.t === 'B') bootId = item.bootId;
      if (item.t === 'I') {
        const a = this.attempts.get(item.leaf);
        if (a?.inputRounds === undefined) continue;
        // Output in this round means it was not waiting the whole time: start counting again.
        a.inputRounds = item.waiting && !grown.has(a) ? a.inputRounds + 1 : 0;
        continue;
      }
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
        if (item.data.length > 0) grown.add(a);
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

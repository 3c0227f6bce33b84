// The round loop both SlurmTransport and SshTransport poll with: rounds never overlap, a kick
// during a round runs one more right after it, nextRound() waits for a round that starts later,
// ended attempts are forgotten past a bound, and close() rejects the open ones.
import { describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { RoundPoller, newWatchedAttempt, type WatchedAttempt } from '../../src/transports/round-poller.js';

const handle = (leaf: string): TransportHandle => ({ kind: 'test', taskId: leaf, attempt: 1, runDir: `/nonexistent/${leaf}`, startedAt: 0 });

// A poller whose rounds block until the test releases them; it records what each round saw.
class GatedPoller extends RoundPoller<WatchedAttempt> {
  readonly rounds: string[][] = [];
  readonly forgottenLeaves: string[] = [];
  private gates: Array<() => void> = [];
  inRound = 0;
  maxInRound = 0;

  /** Lets the round in progress finish. */
  release(): void {
    this.gates.shift()?.();
  }

  get waiting(): number {
    return this.gates.length;
  }

  protected async pass(targets: WatchedAttempt[]): Promise<void> {
    this.inRound++;
    this.maxInRound = Math.max(this.maxInRound, this.inRound);
    this.rounds.push(targets.map((a) => a.leaf));
    await new Promise<void>((r) => this.gates.push(r));
    for (const a of targets) a.seen = true;
    this.inRound--;
  }

  // Only kicked rounds: the test decides when the next one runs.
  protected nextDelay(_targets: WatchedAttempt[], again: boolean): number | undefined {
    return again ? 0 : undefined;
  }

  protected idleDelay(): number {
    return 3_600_000;
  }

  protected override forgotten(leaf: string): void {
    this.forgottenLeaves.push(leaf);
  }
}

// Waits (bounded) until `cond` holds, yielding to timers and promises between looks.
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
}

describe('RoundPoller', () => {
  it('runs one round at a time; a kick during a round runs exactly one more after it', async () => {
    const p = new GatedPoller();
    const a = p.watch('a-1', () => newWatchedAttempt(handle('a'), '/nonexistent/a', 'a-1'));
    const first = p.nextRound();
    await until(() => p.waiting === 1);
    // Two kicks and a waiter while the first round is in flight: one more round, not three.
    p.kick();
    p.kick();
    const second = p.nextRound();
    p.release();
    await first;
    await until(() => p.waiting === 1);
    p.release();
    await second;
    expect(p.rounds).toEqual([['a-1'], ['a-1']]);
    expect(p.maxInRound).toBe(1);
    expect(a.seen).toBe(true);
    p.stop();
  });

  it('nextRound() waits for a round that starts after the call, not the one in flight', async () => {
    const p = new GatedPoller();
    p.watch('a-1', () => newWatchedAttempt(handle('a'), '/nonexistent/a', 'a-1'));
    void p.nextRound();
    await until(() => p.waiting === 1);
    let resolved = false;
    const later = p.nextRound().then(() => (resolved = true));
    p.release();
    // The in-flight round ended; the waiter asked for the next one, which is now blocked.
    await until(() => p.waiting === 1);
    expect(resolved).toBe(false);
    p.release();
    await later;
    expect(p.rounds.length).toBe(2);
    p.stop();
  });

  it('stop() releases every waiter and no round starts after it', async () => {
    const p = new GatedPoller();
    p.watch('a-1', () => newWatchedAttempt(handle('a'), '/nonexistent/a', 'a-1'));
    const w = p.nextRound();
    await until(() => p.waiting === 1);
    const w2 = p.nextRound();
    p.stop();
    await Promise.all([w, w2]);
    p.release();
    await new Promise((r) => setTimeout(r, 5));
    expect(p.rounds.length).toBe(1);
    await expect(p.nextRound()).resolves.toBeUndefined();
  });

  it('finalize() settles once; drop() ends an open attempt as lost (cleaned_up)', async () => {
    const p = new GatedPoller();
    const a = p.watch('a-1', () => newWatchedAttempt(handle('a'), '/nonexistent/a', 'a-1'));
    a.killing = true;
    p.finalize(a, { state: 'exited', exitCode: 3, signal: null, endedAt: 1 });
    p.finalize(a, { state: 'exited', exitCode: 4, signal: null, endedAt: 2 });
    expect(await p.outcome(a)).toMatchObject({ exitCode: 3 });
    expect(a.killing).toBe(false);
    const b = p.watch('b-1', () => newWatchedAttempt(handle('b'), '/nonexistent/b', 'b-1'));
    p.drop('b-1');
    expect(await b.done).toMatchObject({ state: 'lost', reason: 'cleaned_up' });
    expect(p.attempts.has('b-1')).toBe(false);
    p.stop();
  });

  it('forgets the oldest ended attempts past 1024, never an open one', () => {
    const p = new GatedPoller();
    const open = p.watch('open-1', () => newWatchedAttempt(handle('open'), '/nonexistent/open', 'open-1'));
    for (let i = 0; i < 1_100; i++) {
      const leaf = `t${i}-1`;
      const a = p.watch(leaf, () => newWatchedAttempt(handle(`t${i}`), `/nonexistent/${leaf}`, leaf));
      p.finalize(a, { state: 'exited', exitCode: 0, signal: null, endedAt: i });
    }
    expect(p.attempts.size).toBe(1_024);
    expect(p.attempts.get('open-1')).toBe(open);
    expect(p.forgottenLeaves.slice(0, 2)).toEqual(['t0-1', 't1-1']);
    expect(p.forgottenLeaves.length).toBe(1_101 - 1_024);
    p.stop();
  });

  it('close() rejects the waiters of open attempts with SHUTTING_DOWN and keeps ended ones', async () => {
    const p = new GatedPoller();
    const a = p.watch('a-1', () => newWatchedAttempt(handle('a'), '/nonexistent/a', 'a-1'));
    const b = p.watch('b-1', () => newWatchedAttempt(handle('b'), '/nonexistent/b', 'b-1'));
    p.finalize(b, { state: 'exited', exitCode: 0, signal: null, endedAt: 1 });
    p.close('test transport closed');
    await expect(a.done).rejects.toMatchObject({ code: 'SHUTTING_DOWN', message: 'test transport closed' });
    await expect(p.outcome(b)).resolves.toMatchObject({ exitCode: 0 });
  });
});

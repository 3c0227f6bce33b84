import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/testing/manual-clock.js';

describe('ManualClock', () => {
  it('starts at the given time and moves only when advanced', async () => {
    const clock = new ManualClock(500);
    expect(clock.now()).toBe(500);
    expect(new ManualClock().now()).toBe(0);
    await clock.advance(250);
    expect(clock.now()).toBe(750);
  });

  it('fires due timers in time order, then insertion order, with now() at each due time', async () => {
    const clock = new ManualClock(100);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`late@${clock.now()}`), 31);
    await clock.advance(30);
    expect(seen).toEqual(['a@110', 'b@110', 'c@130']);
    expect(clock.now()).toBe(130);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(1);
    expect(seen.at(-1)).toBe('late@131');
  });

  it('fires timers set by callbacks during the same advance when they fall due', async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
      clock.setTimeout(() => seen.push(clock.now()), 50);
    }, 10);
    await clock.advance(20);
    expect(seen).toEqual([10, 15]);
    expect(clock.now()).toBe(20);
    expect(clock.nextTimerAt()).toBe(60);
  });

  it('lets promise chains that react to a timer run before the next timer fires', async () => {
    const clock = new ManualClock();
    const seen: string[] = [];
    const sleep = (ms: number) => new Promise<void>((r) => clock.setTimeout(r, ms));
    // Each step sets its next timer only after awaiting the previous one (several microtask hops).
    void (async () => {
      await sleep(10);
      seen.push(`one@${clock.now()}`);
      await Promise.resolve();
      await sleep(10);
      seen.push(`two@${clock.now()}`);
    })();
    clock.setTimeout(() => seen.push(`other@${clock.now()}`), 15);
    await clock.advance(25);
    expect(seen).toEqual(['one@10', 'other@15', 'two@20']);
  });

  it('clears timers and ignores unknown handles', async () => {
    const clock = new ManualClock();
    let fired = 0;
    const h = clock.setTimeout(() => fired++, 10);
    clock.setTimeout(() => fired++, 10);
    clock.clearTimeout(h);
    clock.clearTimeout(h);
    clock.clearTimeout(undefined);
    clock.clearTimeout({});
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(10);
    expect(fired).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('fires zero and negative delays on advance(0), not synchronously', async () => {
    const clock = new ManualClock(7);
    let fired = 0;
    clock.setTimeout(() => fired++, 0);
    clock.setTimeout(() => fired++, -5);
    clock.setTimeout(() => fired++, Number.NaN);
    expect(fired).toBe(0);
    await clock.advance(0);
    expect(fired).toBe(3);
    expect(clock.now()).toBe(7);
  });

  it('runAll fires everything pending in order and stops a self-re-arming timer', async () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 1000);
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5000);
    }, 200);
    await clock.runAll();
    expect(seen).toEqual([200, 1000, 5200]);
    expect(clock.now()).toBe(5200);
    expect(clock.nextTimerAt()).toBeUndefined();

    const rearm = (): void => void clock.setTimeout(rearm, 1);
    rearm();
    await expect(clock.runAll(50)).rejects.toThrow(/re-arms/);
  });

  it('rejects a negative or non-finite advance', async () => {
    const clock = new ManualClock();
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
    await expect(clock.advance(Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
  });
});

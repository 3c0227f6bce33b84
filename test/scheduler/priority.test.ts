import { describe, it, expect } from 'vitest';
import { availableParallelism } from 'node:os';
import type { Clock } from '../../src/clock.js';
import { BgexecError } from '../../src/errors.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { PrioritySchedulerOptions } from '../../src/scheduler/priority.js';
import type { SchedulerEntry } from '../../src/scheduler/types.js';
import { seededRandom as rng } from '../_prng.js';

function manualClock(start = 1_000): Clock & { t: number } {
  const clock = {
    t: start,
    now: () => clock.t,
    setTimeout: () => {
      throw new Error('the scheduler must not set timers');
    },
    clearTimeout: () => {
      throw new Error('the scheduler must not clear timers');
    },
  };
  return clock;
}


let orderSeq = 0;
function entry(id: string, fields: Partial<SchedulerEntry> = {}): SchedulerEntry {
  return { id, priority: 0, order: orderSeq++, ...fields };
}

function make(options: PrioritySchedulerOptions = {}): PriorityScheduler {
  return new PriorityScheduler({ concurrency: Infinity, clock: manualClock(), ...options });
}

/** Pops until `next()` returns undefined, releasing nothing. */
function takeAll(s: PriorityScheduler): string[] {
  const ids: string[] = [];
  for (let e = s.next(); e !== undefined; e = s.next()) ids.push(e.id);
  return ids;
}

function expectError(fn: () => unknown, code: string, field?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BgexecError);
  expect((caught as BgexecError).code).toBe(code);
  if (field !== undefined) expect((caught as BgexecError).field).toBe(field);
}

describe('PriorityScheduler: ordering', () => {
  it('runs higher priority first and FIFO by order among equals', () => {
    const s = make();
    s.add({ id: 'a', priority: 0, order: 3 });
    s.add({ id: 'b', priority: 5, order: 4 });
    s.add({ id: 'c', priority: 0, order: 1 });
    s.add({ id: 'd', priority: -2, order: 0 });
    s.add({ id: 'e', priority: 5, order: 2 });
    expect(takeAll(s)).toEqual(['e', 'b', 'c', 'a', 'd']);
  });

  it('breaks exact ties (same priority and order) by insertion', () => {
    const s = make();
    for (const id of ['x', 'y', 'z']) s.add({ id, priority: 1, order: 7 });
    expect(takeAll(s)).toEqual(['x', 'y', 'z']);
  });

  it('1,000 random entries across groups come out as a stable sort', () => {
    const random = rng(7);
    const s = make();
    const entries: SchedulerEntry[] = [];
    for (let i = 0; i < 1000; i++) {
      const g = Math.floor(random() * 4);
      const e: SchedulerEntry = { id: `t${i}`, priority: Math.floor(random() * 10) - 5, order: i };
      if (g > 0) e.group = `g${g}`;
      entries.push(e);
      s.add(e);
    }
    const expected = entries
      .slice()
      .sort((a, b) => b.priority - a.priority || a.order - b.order)
      .map((e) => e.id);
    expect(takeAll(s)).toEqual(expected);
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 1000 });
  });

  it('returns the very entry object passed to add', () => {
    const s = make();
    const e = entry('obj');
    s.add(e);
    expect(s.next()).toBe(e);
  });

  it('is not affected by mutating an entry after add', () => {
    const s = make();
    const low = entry('low', { priority: 1 });
    s.add(low);
    s.add(entry('high', { priority: 2 }));
    low.priority = 100;
    expect(takeAll(s)).toEqual(['high', 'low']);
  });
});

describe('PriorityScheduler: caps', () => {
  it('never runs more than the global cap', () => {
    const s = make({ concurrency: 3 });
    for (let i = 0; i < 10; i++) s.add(entry(`t${i}`));
    expect(takeAll(s)).toEqual(['t0', 't1', 't2']);
    expect(s.runningCount()).toBe(3);
    expect(s.next()).toBeUndefined();
    s.release('t1');
    expect(takeAll(s)).toEqual(['t3']);
    s.release('t0');
    s.release('t2');
    expect(takeAll(s)).toEqual(['t4', 't5']);
    expect(s.counts()).toEqual({ queued: 4, delayed: 0, running: 3 });
  });

  it('skips a group at its cap and still admits the best entry of another group', () => {
    const s = make({ concurrency: 10, groups: { gpu: 1, net: 2 } });
    s.add(entry('gpu1', { group: 'gpu', priority: 9 }));
    s.add(entry('gpu2', { group: 'gpu', priority: 9 }));
    s.add(entry('gpu3', { group: 'gpu', priority: 8 }));
    s.add(entry('net1', { group: 'net', priority: 5 }));
    s.add(entry('net2', { group: 'net', priority: 5 }));
    s.add(entry('net3', { group: 'net', priority: 5 }));
    s.add(entry('free1', { priority: 1 }));
    s.add(entry('other1', { group: 'other', priority: 0 }));
    expect(takeAll(s)).toEqual(['gpu1', 'net1', 'net2', 'free1', 'other1']);
    expect(s.runningCount('gpu')).toBe(1);
    expect(s.runningCount('net')).toBe(2);
    expect(s.runningCount('other')).toBe(1);
    expect(s.runningCount()).toBe(5);
    s.release('net1');
    expect(takeAll(s)).toEqual(['net3']);
    s.release('gpu1');
    expect(takeAll(s)).toEqual(['gpu2']);
    s.release('gpu2');
    expect(takeAll(s)).toEqual(['gpu3']);
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 5 });
  });

  it('holds random group caps and the global cap at every step of a long run', () => {
    const random = rng(99);
    const caps: Record<string, number> = { a: 1, b: 2, c: 3 };
    const s = make({ concurrency: 5, groups: caps });
    const groups = ['a', 'b', 'c', undefined];
    const groupOf = new Map<string, string | undefined>();
    for (let i = 0; i < 500; i++) {
      const group = groups[Math.floor(random() * groups.length)];
      groupOf.set(`t${i}`, group);
      s.add(entry(`t${i}`, { group, priority: Math.floor(random() * 3) }));
    }
    const queued = new Set(groupOf.keys());
    const running = new Set<string>();
    let started = 0;
    while (started < 500) {
      for (let e = s.next(); e !== undefined; e = s.next()) {
        running.add(e.id);
        queued.delete(e.id);
        started++;
      }
      expect(running.size).toBeLessThanOrEqual(5);
      const perGroup: Record<string, number> = { a: 0, b: 0, c: 0 };
      for (const id of running) {
        const g = groupOf.get(id);
        if (g !== undefined) perGroup[g] = (perGroup[g] ?? 0) + 1;
      }
      for (const g of ['a', 'b', 'c']) {
        expect(perGroup[g]).toBeLessThanOrEqual(caps[g] as number);
        expect(s.runningCount(g)).toBe(perGroup[g]);
      }
      // Work-conserving: with a free global slot, every group that still has queued entries is at its cap.
      if (running.size < 5) {
        for (const id of queued) {
          const g = groupOf.get(id);
          expect(g).toBeDefined();
          expect(perGroup[g as string]).toBe(caps[g as string]);
        }
      }
      const victims = [...running].filter(() => random() < 0.5);
      if (victims.length === 0 && running.size > 0) victims.push([...running][0] as string);
      for (const id of victims) {
        running.delete(id);
        s.release(id);
      }
    }
    expect(s.counts().queued).toBe(0);
  });

  it('a cap of 0 blocks a group until raised', () => {
    const s = make({ groups: { off: 0 } });
    s.add(entry('x', { group: 'off', priority: 10 }));
    s.add(entry('y'));
    expect(takeAll(s)).toEqual(['y']);
    expect(s.groupCap('off')).toBe(0);
    s.setGroupCap('off', 1);
    expect(takeAll(s)).toEqual(['x']);
  });

  it('setGroupCap lowers, raises and removes caps', () => {
    const s = make();
    for (let i = 0; i < 5; i++) s.add(entry(`g${i}`, { group: 'g' }));
    s.setGroupCap('g', 2);
    expect(takeAll(s)).toEqual(['g0', 'g1']);
    s.setGroupCap('g', 1);
    s.release('g0');
    expect(takeAll(s)).toEqual([]);
    s.release('g1');
    expect(takeAll(s)).toEqual(['g2']);
    s.setGroupCap('g', undefined);
    expect(s.groupCap('g')).toBe(Infinity);
    expect(takeAll(s)).toEqual(['g3', 'g4']);
    expectError(() => s.setGroupCap('g', -1), 'INVALID_ARGUMENT', 'cap');
    expectError(() => s.setGroupCap('g', 1.5), 'INVALID_ARGUMENT', 'cap');
  });
});

describe('PriorityScheduler: pause and resume', () => {
  it('global pause stops admissions and keeps entries queued', () => {
    const s = make();
    s.add(entry('a'));
    s.add(entry('b'));
    s.pause();
    expect(s.isPaused()).toBe(true);
    expect(s.next()).toBeUndefined();
    expect(s.counts()).toEqual({ queued: 2, delayed: 0, running: 0 });
    s.resume();
    expect(s.isPaused()).toBe(false);
    expect(takeAll(s)).toEqual(['a', 'b']);
  });

  it('pausing a group lets other groups through and resumes in order', () => {
    const s = make();
    s.add(entry('p1', { group: 'p', priority: 5 }));
    s.add(entry('q1', { group: 'q', priority: 1 }));
    s.add(entry('p2', { group: 'p', priority: 5 }));
    s.add(entry('u1'));
    s.pause('p');
    expect(s.isPaused('p')).toBe(true);
    expect(s.isPaused('q')).toBe(false);
    expect(s.isPaused()).toBe(false);
    expect(takeAll(s)).toEqual(['q1', 'u1']);
    s.add(entry('p3', { group: 'p', priority: 9 }));
    expect(s.next()).toBeUndefined();
    s.resume('p');
    expect(takeAll(s)).toEqual(['p3', 'p1', 'p2']);
  });

  it('remembers a pause of a group that has no entries yet', () => {
    const s = make();
    s.pause('later');
    expect(s.isPaused('later')).toBe(true);
    s.add(entry('l1', { group: 'later' }));
    expect(s.next()).toBeUndefined();
    s.resume('later');
    expect(s.isPaused('later')).toBe(false);
    expect(takeAll(s)).toEqual(['l1']);
  });

  it('keeps a group paused after its last entry is removed or released', () => {
    const s = make();
    s.add(entry('g0', { group: 'g' }));
    expect(s.next()?.id).toBe('g0');
    s.pause('g');
    s.add(entry('g1', { group: 'g' }));
    expect(s.remove('g1')).toBe(true);
    s.release('g0');
    expect(s.isPaused('g')).toBe(true);
    s.add(entry('g2', { group: 'g' }));
    expect(s.next()).toBeUndefined();
    s.resume('g');
    expect(takeAll(s)).toEqual(['g2']);
  });

  it('a group pause and the global pause are independent', () => {
    const s = make();
    s.add(entry('g1', { group: 'g' }));
    s.pause('g');
    s.pause();
    s.resume('g');
    expect(s.next()).toBeUndefined();
    s.resume();
    expect(takeAll(s)).toEqual(['g1']);
  });
});

describe('PriorityScheduler: delays', () => {
  it('holds delayed entries until runAt and reports nextWakeAt', () => {
    const clock = manualClock(1_000);
    const s = make({ clock });
    expect(s.nextWakeAt()).toBeUndefined();
    s.add(entry('late', { runAt: 1_500, priority: 9 }));
    s.add(entry('soon', { runAt: 1_200, priority: 0 }));
    s.add(entry('now', { runAt: 1_000, priority: -1 })); // runAt == now is due
    s.add(entry('past', { runAt: 10, priority: -2 }));
    expect(s.counts()).toEqual({ queued: 2, delayed: 2, running: 0 });
    expect(s.nextWakeAt()).toBe(1_200);
    expect(takeAll(s)).toEqual(['now', 'past']);
    clock.t = 1_199;
    expect(s.next()).toBeUndefined();
    clock.t = 1_200;
    expect(s.nextWakeAt()).toBe(1_500);
    expect(s.counts()).toEqual({ queued: 1, delayed: 1, running: 2 });
    expect(takeAll(s)).toEqual(['soon']);
    clock.t = 5_000;
    expect(s.nextWakeAt()).toBeUndefined();
    expect(takeAll(s)).toEqual(['late']);
  });

  it('orders entries that became due together by priority, then order', () => {
    const clock = manualClock(0);
    const s = make({ clock });
    s.add({ id: 'a', priority: 1, order: 2, runAt: 30 });
    s.add({ id: 'b', priority: 1, order: 1, runAt: 20 });
    s.add({ id: 'c', priority: 3, order: 3, runAt: 10 });
    s.add({ id: 'd', priority: 2, order: 4 });
    clock.t = 100;
    expect(takeAll(s)).toEqual(['c', 'd', 'b', 'a']);
  });

  it('delayed entries of a capped group wait for both time and cap', () => {
    const clock = manualClock(0);
    const s = make({ clock, groups: { g: 1 } });
    s.add(entry('g1', { group: 'g' }));
    s.add(entry('g2', { group: 'g', runAt: 50 }));
    expect(takeAll(s)).toEqual(['g1']);
    clock.t = 60;
    expect(s.next()).toBeUndefined();
    s.release('g1');
    expect(takeAll(s)).toEqual(['g2']);
  });
  it('keeps accounting for a group whose only entry is delayed', () => {
    const clock = manualClock(0);
    const s = make({ clock });
    s.add(entry('d1', { group: 'g', runAt: 100 }));
    s.add(entry('g0', { group: 'g' }));
    expect(s.next()?.id).toBe('g0');
    s.release('g0'); // g now holds only the delayed d1
    s.pause('g');
    clock.t = 100;
    expect(s.next()).toBeUndefined();
    s.resume('g');
    expect(s.next()?.id).toBe('d1');
    expect(s.runningCount('g')).toBe(1);
    s.setGroupCap('g', 1);
    s.add(entry('g2', { group: 'g' }));
    expect(s.next()).toBeUndefined();
  });
});

describe('PriorityScheduler: remove', () => {
  it('removes queued and delayed entries but not running ones', () => {
    const clock = manualClock(0);
    const s = make({ clock, concurrency: 1 });
    s.add(entry('r'));
    s.add(entry('q1'));
    s.add(entry('q2'));
    s.add(entry('d1', { runAt: 100 }));
    s.add(entry('d2', { runAt: 200 }));
    expect(s.next()?.id).toBe('r');
    expect(s.remove('r')).toBe(false);
    expect(s.remove('nope')).toBe(false);
    expect(s.remove('q1')).toBe(true);
    expect(s.remove('q1')).toBe(false);
    expect(s.has('q1')).toBe(false);
    expect(s.remove('d1')).toBe(true);
    expect(s.nextWakeAt()).toBe(200);
    expect(s.counts()).toEqual({ queued: 1, delayed: 1, running: 1 });
    s.release('r');
    clock.t = 1_000;
    expect(takeAll(s)).toEqual(['q2']);
    s.release('q2');
    expect(takeAll(s)).toEqual(['d2']);
    expect(s.has('r')).toBe(false);
  });

  it('removing the head of a capped group leaves the others correctly ordered', () => {
    const s = make({ groups: { g: 1 } });
    s.add(entry('g1', { group: 'g', priority: 3 }));
    s.add(entry('g2', { group: 'g', priority: 2 }));
    s.add(entry('h1', { group: 'h', priority: 1 }));
    expect(s.remove('g1')).toBe(true);
    expect(takeAll(s)).toEqual(['g2', 'h1']);
  });

  it('an id can be added again once removed or released', () => {
    const s = make();
    s.add(entry('x'));
    s.remove('x');
    s.add(entry('x'));
    expect(s.next()?.id).toBe('x');
    s.release('x');
    s.add(entry('x'));
    expect(s.has('x')).toBe(true);
  });
});

describe('PriorityScheduler: queue size and duplicates', () => {
  it('throws QUEUE_FULL past maxQueueSize unless forced; running entries do not count', () => {
    const clock = manualClock(0);
    const s = make({ clock, maxQueueSize: 2, concurrency: 1 });
    s.add(entry('a'));
    s.add(entry('b', { runAt: 10 })); // delayed entries count
    expectError(() => s.add(entry('c')), 'QUEUE_FULL');
    expect(s.has('c')).toBe(false);
    s.add(entry('c'), { force: true });
    expect(s.counts()).toEqual({ queued: 2, delayed: 1, running: 0 });
    expect(s.next()?.id).toBe('a');
    expectError(() => s.add(entry('d')), 'QUEUE_FULL'); // b and c still wait
    s.remove('c');
    s.add(entry('d'));
    expect(s.counts()).toEqual({ queued: 1, delayed: 1, running: 1 });
  });

  it('maxQueueSize 0 accepts only forced entries', () => {
    const s = make({ maxQueueSize: 0 });
    expectError(() => s.add(entry('a')), 'QUEUE_FULL');
    s.add(entry('a'), { force: true });
    expect(takeAll(s)).toEqual(['a']);
  });

  it('rejects a duplicate id whether queued, delayed or running', () => {
    const clock = manualClock(0);
    const s = make({ clock });
    s.add(entry('q'));
    s.add(entry('d', { runAt: 5 }));
    s.add(entry('r'));
    s.markRunning({ id: 'm' });
    expect(takeAll(s)).toEqual(['q', 'r']);
    s.add(entry('q2'));
    for (const id of ['q2', 'd', 'r', 'm']) {
      expectError(() => s.add(entry(id)), 'INVALID_ARGUMENT', 'id');
      expectError(() => s.add(entry(id), { force: true }), 'INVALID_ARGUMENT', 'id');
    }
    expect(s.counts()).toEqual({ queued: 1, delayed: 1, running: 3 });
  });

  it('rejects malformed entries', () => {
    const s = make();
    expectError(() => s.add({ id: '', priority: 0, order: 0 }), 'INVALID_ARGUMENT', 'id');
    expectError(() => s.add({ id: 'a', priority: NaN, order: 0 }), 'INVALID_ARGUMENT', 'priority');
    expectError(() => s.add({ id: 'a', priority: 0, order: NaN }), 'INVALID_ARGUMENT', 'order');
    expectError(() => s.add({ id: 'a', priority: 0, order: 0, runAt: Infinity }), 'INVALID_ARGUMENT', 'runAt');
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 0 });
  });
});

describe('PriorityScheduler: markRunning and release', () => {
  it('counts recovered entries against global and group caps', () => {
    const s = make({ concurrency: 3, groups: { g: 1 } });
    s.markRunning({ id: 'm1', group: 'g' });
    s.markRunning({ id: 'm2' });
    expect(s.runningCount()).toBe(2);
    expect(s.runningCount('g')).toBe(1);
    expect(s.has('m1')).toBe(true);
    s.add(entry('g1', { group: 'g', priority: 5 }));
    s.add(entry('u1'));
    s.add(entry('u2'));
    expect(takeAll(s)).toEqual(['u1']); // g1 waits for m1; m1, m2, u1 fill the global cap
    s.release('m1');
    expect(s.runningCount('g')).toBe(0);
    expect(takeAll(s)).toEqual(['g1']);
    expect(s.next()).toBeUndefined();
    s.release('m2');
    expect(takeAll(s)).toEqual(['u2']);
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 3 });
  });

  it('markRunning closes a group that reaches its cap while it has queued entries', () => {
    const s = make({ groups: { g: 1 } });
    s.add(entry('g1', { group: 'g' }));
    s.add(entry('u1'));
    s.markRunning({ id: 'm', group: 'g' });
    expect(takeAll(s)).toEqual(['u1']);
    s.release('m');
    expect(takeAll(s)).toEqual(['g1']);
  });

  it('may exceed caps on recovery and admits nothing until back under', () => {
    const s = make({ concurrency: 2, groups: { g: 1 } });
    s.markRunning({ id: 'a', group: 'g' });
    s.markRunning({ id: 'b', group: 'g' });
    s.markRunning({ id: 'c' });
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 3 });
    s.add(entry('x'));
    s.add(entry('gx', { group: 'g' }));
    s.release('c');
    expect(s.next()).toBeUndefined();
    s.release('a');
    expect(takeAll(s)).toEqual(['x']);
    s.release('b');
    s.release('x');
    expect(takeAll(s)).toEqual(['gx']);
  });

  it('ignores releases of unknown, queued or already released ids', () => {
    const s = make({ concurrency: 1 });
    s.add(entry('a'));
    s.add(entry('b'));
    expect(s.next()?.id).toBe('a');
    s.release('zzz');
    s.release('b'); // queued, not running
    expect(s.counts()).toEqual({ queued: 1, delayed: 0, running: 1 });
    s.release('a');
    s.release('a');
    expect(s.counts()).toEqual({ queued: 1, delayed: 0, running: 0 });
    expect(takeAll(s)).toEqual(['b']);
  });

  it('rejects markRunning of an id already held', () => {
    const s = make();
    s.add(entry('q'));
    expectError(() => s.markRunning({ id: 'q' }), 'INVALID_ARGUMENT', 'id');
    expect(s.counts()).toEqual({ queued: 1, delayed: 0, running: 0 });
  });
});

describe('PriorityScheduler: options', () => {
  it('defaults concurrency to os.availableParallelism() and exposes it', () => {
    expect(new PriorityScheduler().concurrency).toBe(availableParallelism());
    expect(new PriorityScheduler({ concurrency: 7 }).concurrency).toBe(7);
    expect(new PriorityScheduler({ concurrency: Infinity }).concurrency).toBe(Infinity);
    expect(new PriorityScheduler().maxQueueSize).toBe(Infinity);
  });

  it.each([
    [{ concurrency: 0 }, 'concurrency'],
    [{ concurrency: -1 }, 'concurrency'],
    [{ concurrency: 1.5 }, 'concurrency'],
    [{ concurrency: NaN }, 'concurrency'],
    [{ concurrency: '2' }, 'concurrency'],
    [{ maxQueueSize: -1 }, 'maxQueueSize'],
    [{ maxQueueSize: 2.5 }, 'maxQueueSize'],
    [{ groups: { gpu: -1 } }, 'groups.gpu'],
    [{ groups: { gpu: 0.5 } }, 'groups.gpu'],
    [{ groups: { ok: 1, bad: NaN } }, 'groups.bad'],
    [{ groups: [] }, 'groups'],
    [{ clock: {} }, 'clock'],
    [{ concurency: 2 }, 'concurency'],
  ])('rejects %o with INVALID_SPEC on %s', (options, field) => {
    expectError(() => new PriorityScheduler(options as PrioritySchedulerOptions), 'INVALID_SPEC', field);
  });

  it('accepts a cap of 0, Infinity caps and an Infinity queue size', () => {
    const s = new PriorityScheduler({ concurrency: 1, groups: { a: 0, b: Infinity }, maxQueueSize: Infinity });
    expect(s.groupCap('a')).toBe(0);
    expect(s.groupCap('b')).toBe(Infinity);
    expect(s.groupCap('unknown')).toBe(Infinity);
  });
});

describe('PriorityScheduler: scale', () => {
  it('handles 100,000 adds, nexts and releases across groups', () => {
    const s = make({ concurrency: 64, groups: { a: 8, b: 16 } });
    const n = 100_000;
    const groups = ['a', 'b', 'c', undefined];
    for (let i = 0; i < n; i++) {
      s.add({ id: `t${i}`, priority: i % 7, order: i, group: groups[i % 4] });
    }
    expect(s.counts()).toEqual({ queued: n, delayed: 0, running: 0 });
    const running: string[] = [];
    let done = 0;
    while (done < n) {
      for (let e = s.next(); e !== undefined; e = s.next()) running.push(e.id);
      const id = running.shift();
      if (id === undefined) throw new Error('stalled');
      s.release(id);
      done++;
    }
    expect(s.counts()).toEqual({ queued: 0, delayed: 0, running: 0 });
  });

  it('removes 50,000 of 100,000 queued entries', () => {
    const s = make();
    for (let i = 0; i < 100_000; i++) s.add({ id: `t${i}`, priority: i % 3, order: i });
    let removed = 0;
    for (let i = 0; i < 100_000; i += 2) if (s.remove(`t${i}`)) removed++;
    expect(removed).toBe(50_000);
    expect(s.counts().queued).toBe(50_000);
    const ids = takeAll(s);
    expect(ids.length).toBe(50_000);
    expect(ids.every((id) => Number(id.slice(1)) % 2 === 1)).toBe(true);
  });
});

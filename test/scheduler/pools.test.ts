import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { PriorityScheduler, type PrioritySchedulerOptions } from '../../src/scheduler/priority.js';
import type { SchedulerEntry } from '../../src/scheduler/types.js';

// Two-dimensional caps: an entry's group and its pool (the transport it runs on) are both names
// with a cap and a pause; an entry is admitted only when both are open and the global cap allows.

function clock(): Clock & { t: number } {
  const c = { t: 1_000, now: () => c.t, setTimeout: () => { throw new Error('no timers'); }, clearTimeout: () => {} };
  return c;
}

let seq = 0;
const entry = (id: string, fields: Partial<SchedulerEntry> = {}): SchedulerEntry => ({ id, priority: 0, order: seq++, ...fields });
const make = (o: PrioritySchedulerOptions = {}) => new PriorityScheduler({ concurrency: Infinity, clock: clock(), ...o });
function takeAll(s: PriorityScheduler): string[] {
  const ids: string[] = [];
  for (let e = s.next(); e !== undefined; e = s.next()) ids.push(e.id);
  return ids;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PriorityScheduler: pools (per-transport caps)', () => {
  it('a capped pool never blocks other pools', () => {
    const s = make({ concurrency: 10, groups: { build1: 2 } });
    for (let i = 0; i < 5; i++) s.add(entry(`b${i}`, { pool: 'build1', priority: 9 }));
    for (let i = 0; i < 3; i++) s.add(entry(`l${i}`, { pool: 'local' }));
    expect(takeAll(s)).toEqual(['b0', 'b1', 'l0', 'l1', 'l2']);
    expect(s.runningCount('build1')).toBe(2);
    expect(s.runningCount('local')).toBe(3);
    s.release('b0');
    expect(takeAll(s)).toEqual(['b2']);
  });

  it('a task capped by its group but not its pool waits, and so does one capped by its pool only', () => {
    const s = make({ groups: { gpu: 1, build1: 1 } });
    s.add(entry('g1', { group: 'gpu', pool: 'local' }));
    s.add(entry('g2', { group: 'gpu', pool: 'build2' }));
    s.add(entry('p1', { group: 'other', pool: 'build1' }));
    s.add(entry('p2', { pool: 'build1' }));
    s.add(entry('free', { pool: 'build2' }));
    expect(takeAll(s)).toEqual(['g1', 'p1', 'free']);
    s.release('g1');
    expect(takeAll(s)).toEqual(['g2']);
    s.release('p1');
    expect(takeAll(s)).toEqual(['p2']);
    expect(s.runningCount('gpu')).toBe(1);
    expect(s.runningCount('other')).toBe(0);
  });

  it('a task of a capped group on a capped pool is held by both, and the global cap still holds', () => {
    const s = make({ concurrency: 3, groups: { gpu: 2, build1: 2 } });
    s.markRunning({ id: 'm', group: 'gpu', pool: 'local' });
    s.markRunning({ id: 'n', pool: 'build1' });
    s.add(entry('both1', { group: 'gpu', pool: 'build1' }));
    s.add(entry('both2', { group: 'gpu', pool: 'build1' }));
    s.add(entry('x', { pool: 'local' }));
    expect(takeAll(s)).toEqual(['both1']);
    expect(s.runningCount()).toBe(3);
    s.release('m');
    expect(takeAll(s)).toEqual(['x']); // both2 is held by build1 (n, both1)
    s.add(entry('y', { pool: 'local' }));
    expect(takeAll(s)).toEqual([]); // the global cap: n, both1, x
    s.release('n');
    expect(takeAll(s)).toEqual(['both2']);
    s.release('both1');
    expect(takeAll(s)).toEqual(['y']);
  });

  it('counts an entry once when its group and pool are the same name', () => {
    const s = make({ groups: { h: 2 } });
    s.add(entry('a', { group: 'h', pool: 'h' }));
    s.add(entry('b', { group: 'h', pool: 'h' }));
    s.add(entry('c', { pool: 'h' }));
    expect(takeAll(s)).toEqual(['a', 'b']);
    expect(s.runningCount('h')).toBe(2);
    s.release('a');
    expect(takeAll(s)).toEqual(['c']);
  });

  it('pausing a pool holds its entries of every group; resuming lets them through in order', () => {
    const s = make();
    s.pause('build1');
    s.add(entry('a', { group: 'g', pool: 'build1', priority: 5 }));
    s.add(entry('b', { pool: 'build1', priority: 4 }));
    s.add(entry('c', { group: 'g', pool: 'local' }));
    expect(takeAll(s)).toEqual(['c']);
    expect(s.isPaused('build1')).toBe(true);
    s.resume('build1');
    expect(takeAll(s)).toEqual(['a', 'b']);
  });

  it('setGroupCap on a pool name applies to running and queued entries', () => {
    const s = make();
    for (let i = 0; i < 4; i++) s.add(entry(`t${i}`, { pool: 'p' }));
    s.setGroupCap('p', 1);
    expect(takeAll(s)).toEqual(['t0']);
    s.setGroupCap('p', 3);
    expect(takeAll(s)).toEqual(['t1', 't2']);
    s.setGroupCap('p', undefined);
    expect(takeAll(s)).toEqual(['t3']);
  });

  it('matches a simple reference model under random adds, nexts, releases, removes, pauses, caps and delays', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
      const names = ['g1', 'g2', 'p1', 'p2', 'p3'];
      const groups = [undefined, 'g1', 'g2', 'p1'];
      const pools = [undefined, 'p1', 'p2', 'p3'];
      const caps: Record<string, number> = { g1: 2, g2: 1, p1: 2, p2: 3 };
      const c = clock();
      const global = 6;
      const s = new PriorityScheduler({ concurrency: global, groups: { ...caps }, clock: c });
      // Reference: scan everything, in priority order, for the first entry whose names are open.
      const waiting = new Map<string, SchedulerEntry & { seq: number }>();
      const running = new Map<string, SchedulerEntry>();
      const paused = new Set<string>();
      let n = 0;
      const namesOf = (e: SchedulerEntry) => [...new Set([e.group, e.pool].filter((x): x is string => x !== undefined))];
      const runningOf = (name: string) => [...running.values()].filter((e) => namesOf(e).includes(name)).length;
      const open = (name: string) => !paused.has(name) && runningOf(name) < (caps[name] ?? Infinity);
      const refNext = (): string | undefined => {
        if (running.size >= global) return undefined;
        const ready = [...waiting.values()].filter((e) => (e.runAt ?? -Infinity) <= c.t && namesOf(e).every(open));
        ready.sort((a, b) => b.priority - a.priority || a.order - b.order || a.seq - b.seq);
        return ready[0]?.id;
      };
      for (let step = 0; step < 3000; step++) {
        const r = random();
        if (r < 0.35) {
          const id = `t${n++}`;
          const e: SchedulerEntry = { id, priority: Math.floor(random() * 3), order: n, group: pick(groups), pool: pick(pools) };
          if (random() < 0.1) e.runAt = c.t + Math.floor(random() * 50);
          waiting.set(id, { ...e, seq: n });
          s.add(e);
        } else if (r < 0.6) {
          const want = refNext();
          const got = s.next()?.id;
          if (got !== want) {
            const show = (id: string | undefined) => id === undefined ? 'none' : JSON.stringify(waiting.get(id));
            throw new Error(`seed ${seed} step ${step}: got ${show(got)}, want ${show(want)}; paused ${[...paused]}; caps ${JSON.stringify(caps)}; running ${names.map((x) => `${x}=${runningOf(x)}`)} t=${c.t}`);
          }
          if (want !== undefined) {
            running.set(want, waiting.get(want)!);
            waiting.delete(want);
          }
        } else if (r < 0.78 && running.size > 0) {
          const id = pick([...running.keys()]);
          running.delete(id);
          s.release(id);
        } else if (r < 0.83 && waiting.size > 0) {
          const id = pick([...waiting.keys()]);
          waiting.delete(id);
          expect(s.remove(id)).toBe(true);
        } else if (r < 0.87) {
          const name = pick(names);
          if (paused.has(name)) {
            paused.delete(name);
            s.resume(name);
          } else {
            paused.add(name);
            s.pause(name);
          }
        } else if (r < 0.9) {
          const name = pick(names);
          const cap = random() < 0.3 ? undefined : Math.floor(random() * 4);
          if (cap === undefined) delete caps[name];
          else caps[name] = cap;
          s.setGroupCap(name, cap);
        } else if (r < 0.93) {
          const id = `m${n++}`;
          const e: SchedulerEntry = { id, priority: 0, order: n, group: pick(groups), pool: pick(pools) };
          running.set(id, e);
          s.markRunning(e);
        } else {
          c.t += Math.floor(random() * 20);
        }
        for (const name of names) expect(s.runningCount(name)).toBe(runningOf(name));
        expect(s.runningCount()).toBe(running.size);
      }
    }
  });

  it('stays fast with many groups and pools: 50,000 entries over 20 × 20 lanes', () => {
    const groups: Record<string, number> = {};
    for (let i = 0; i < 20; i++) groups[`p${i}`] = 3;
    const s = make({ concurrency: 64, groups });
    const t0 = performance.now();
    for (let i = 0; i < 50_000; i++) s.add(entry(`t${i}`, { group: `g${i % 20}`, pool: `p${(i * 7) % 20}`, priority: i % 5 }));
    let done = 0;
    const running: string[] = [];
    while (done < 50_000) {
      for (let e = s.next(); e !== undefined; e = s.next()) running.push(e.id);
      const id = running.shift();
      if (id === undefined) break;
      s.release(id);
      done++;
    }
    expect(done).toBe(50_000);
    // Generous for a loaded CI machine; quadratic behaviour would take minutes.
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

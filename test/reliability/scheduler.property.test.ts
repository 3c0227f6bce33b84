// Property: PriorityScheduler behaves exactly like the naive RefScheduler under any sequence of
// add (random priority, order ties, group, delay), remove, next, release, pause/resume (global
// and per group), cap changes and clock advances. Hostile entries and caps (non-finite, BigInt,
// null, symbols, circular objects, wrong types) are mixed in: each fails with INVALID_ARGUMENT
// and leaves the scheduler exactly as it was.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { BgexecError } from '../../src/errors.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { groupArb, namedGroupArb, propertyRuns, RefScheduler } from './_model.js';

type Op =
  | { k: 'add'; priority: number; order: number; group: string | undefined; delay: number }
  | { k: 'remove'; i: number }
  | { k: 'next' }
  | { k: 'release'; i: number }
  | { k: 'pause'; group: string | undefined }
  | { k: 'resume'; group: string | undefined }
  | { k: 'cap'; group: string; cap: number | undefined }
  | { k: 'advance'; ms: number }
  | { k: 'hostile'; field: 'id' | 'priority' | 'order' | 'runAt' | 'group' | 'pool' | 'cap'; value: number };

const circular: Record<string, unknown> = {};
circular.self = circular;
/** Wrong for every field tried below. */
const HOSTILE: unknown[] = [Infinity, -Infinity, NaN, 10n, null, Symbol('s'), circular, Object.create(null), [1]];

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('add' as const), priority: fc.integer({ min: -1, max: 2 }), order: fc.integer({ min: 0, max: 4 }), group: groupArb, delay: fc.constantFrom(0, 0, 10, 30) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remove' as const), i: fc.nat(40) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('next' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('release' as const), i: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pause' as const), group: groupArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('resume' as const), group: groupArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cap' as const), group: namedGroupArb, cap: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.constantFrom(5, 10, 40) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('hostile' as const),
      field: fc.constantFrom('id' as const, 'priority' as const, 'order' as const, 'runAt' as const, 'group' as const, 'pool' as const, 'cap' as const),
      value: fc.nat(HOSTILE.length - 1),
    }),
  },
);

// The scheduler only reads the clock; it never sets timers.
function fixedClock(): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, setTimeout: () => 0, clearTimeout: () => undefined };
  return c;
}

function check(concurrency: number, capA: number, capB: number, ops: Op[]): void {
  const clock = fixedClock();
  const real = new PriorityScheduler({ concurrency, groups: { a: capA, b: capB }, clock });
  const ref = new RefScheduler(concurrency);
  ref.caps.set('a', capA).set('b', capB);
  const ids: string[] = [];
  const pick = (i: number): string | undefined => (ids.length === 0 ? undefined : ids[i % ids.length]);
  for (const [step, op] of ops.entries()) {
    const where = `step ${step} ${JSON.stringify(op)}`;
    switch (op.k) {
      case 'add': {
        const id = `t${ids.length}`;
        ids.push(id);
        const runAt = clock.t + op.delay;
        real.add({ id, priority: op.priority, order: op.order, runAt, ...(op.group !== undefined ? { group: op.group } : {}) });
        ref.add({ id, priority: op.priority, order: op.order, group: op.group, runAt });
        break;
      }
      case 'remove': {
        const id = pick(op.i);
        if (id !== undefined) expect(real.remove(id), where).toBe(ref.remove(id));
        break;
      }
      case 'next':
        // The heart of it: the admitted entry is the best admissible one (priority, then
        // order, then insertion), under the global cap, group caps and pauses.
        expect(real.next()?.id, where).toBe(ref.next()?.id);
        break;
      case 'release': {
        const id = pick(op.i);
        if (id !== undefined) {
          real.release(id);
          ref.release(id);
        }
        break;
      }
      case 'pause':
        real.pause(op.group);
        if (op.group === undefined) ref.paused = true;
        else ref.pausedGroups.add(op.group);
        break;
      case 'resume':
        real.resume(op.group);
        if (op.group === undefined) ref.paused = false;
        else ref.pausedGroups.delete(op.group);
        break;
      case 'cap':
        real.setGroupCap(op.group, op.cap);
        if (op.cap === undefined) ref.caps.delete(op.group);
        else ref.caps.set(op.group, op.cap);
        break;
      case 'advance':
        clock.t += op.ms;
        ref.now = clock.t;
        break;
      case 'hostile': {
        const v = HOSTILE[op.value];
        // Infinity is a valid cap (no cap); every other value here is not.
        if (op.field === 'cap' && v === Infinity) break;
        let err: unknown;
        try {
          if (op.field === 'cap') real.setGroupCap('a', v as never);
          else real.add({ id: `h${step}`, priority: 0, order: 0, [op.field]: v } as never);
        } catch (e) {
          err = e;
        }
        expect(err, where).toBeInstanceOf(BgexecError);
        expect((err as BgexecError).code, where).toBe('INVALID_ARGUMENT');
        expect(() => JSON.stringify((err as BgexecError).toJSON()), where).not.toThrow();
        break;
      }
    }
    expect(real.counts(), where).toEqual(ref.counts());
    expect(real.nextWakeAt(), where).toBe(ref.nextWakeAt());
    expect(real.runningCount(), where).toBe(ref.running.size);
    for (const g of ['a', 'b']) expect(real.runningCount(g), `${where} group ${g}`).toBe(ref.runningIn(g));
    for (const id of ids) expect(real.has(id), `${where} has ${id}`).toBe(ref.waiting.has(id) || ref.running.has(id));
  }
}

describe('scheduler against a reference model (fast-check)', () => {
  it('admits exactly what the model admits, in the same order, under every cap and pause', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(opArb, { minLength: 1, maxLength: 80 }),
        check,
      ),
      { numRuns: propertyRuns(400) },
    );
  });
});

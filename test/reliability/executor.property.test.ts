// Property: the executor on FakeTransport + ManualClock runs exactly the tasks a naive reference
// model says it should, after any sequence of submit (random priority, group, delay, retry),
// cancel, pause/resume (global and per group), exit 0, exit ≠ 0, lost attempts and clock
// advances — and its events stay well-formed throughout. Hostile values are mixed in: backoff
// functions returning Infinity, NaN, negative, 1e300 or not a number, or throwing; and calls
// of public methods with null options, BigInt, symbols and circular objects, which must fail
// with INVALID_* and change nothing.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { BgexecError } from '../../src/errors.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { MAX_BACKOFF_MS } from '../../src/scheduler/backoff.js';
import type { ExecutorEventName } from '../../src/events.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { isTerminal, type TaskStatus } from '../../src/task.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { flush } from '../helpers.js';
import { groupArb, propertyRuns, RefScheduler } from './_model.js';
import { ExecutorModel, type MTask } from './_executor-model.js';
import { EventAudit } from './_event-audit.js';

/** What a function-valued backoff returns (or `throw`s). */
type FnBackoff = number | 'throw' | 'string' | undefined;

type Op =
  | { k: 'submit'; priority: number; group: string | undefined; delay: number; attempts: number; backoff: number | undefined; fn: FnBackoff }
  | { k: 'hostile'; call: number; value: number }
  | { k: 'cancel'; i: number }
  | { k: 'end'; i: number; exitCode: number }
  | { k: 'lose'; i: number }
  | { k: 'pause'; group: string | undefined }
  | { k: 'resume'; group: string | undefined }
  | { k: 'advance'; ms: number };

const circular: Record<string, unknown> = {};
circular.self = circular;
/** Wrong in every slot below (a field or a whole options argument). */
const HOSTILE_VALUES: unknown[] = [null, 10n, Symbol('h'), circular, Object.create(null), NaN, -Infinity, [circular]];
type Call = (ex: BackgroundExecutor, id: string, v: never) => unknown;
// Only slots where every value above is invalid (an options object of unknown keys would be valid).
const HOSTILE_CALLS: Call[] = [
  (ex, id, v) => ex.cancel(id, { graceMs: v }),
  (ex, id, v) => ex.wait(id, { timeoutMs: v }),
  (ex, _id, v) => ex.shutdown({ mode: v }),
  (ex, _id, v) => ex.shutdown({ graceMs: v }),
  (ex, _id, v) => ex.list({ tags: v }),
  (ex, _id, v) => ex.list({ limit: v }),
  (ex, id, v) => ex.readOutput(id, { stream: v }),
  (ex, id, v) => ex.follow(id, { cursor: v }),
  (ex, _id, v) => ex.cleanup({ statuses: v }),
  (ex, _id, v) => ex.ack(v),
  (ex, _id, v) => ex.pause(v),
  (ex, _id, v) => ex.resume(v),
  (ex, _id, v) => ex.get(v),
  (ex, _id, v) => ex.submit({ command: 'x', priority: v }),
  (ex, _id, v) => ex.submit({ command: 'x', retry: { attempts: v } }),
  (ex, _id, v) => ex.submit({ command: v }),
];

/** The delay the executor must use for a backoff function's result; undefined = no retry. */
function fnDelay(fn: Exclude<FnBackoff, undefined>): number | undefined {
  if (typeof fn !== 'number' || !Number.isFinite(fn) || fn < 0 || fn > MAX_BACKOFF_MS) return undefined;
  return fn;
}

function backoffFn(fn: Exclude<FnBackoff, undefined>): (attempt: number) => number {
  if (fn === 'throw') {
    return () => {
      throw new Error('backoff bug');
    };
  }
  return () => fn as number;
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('submit' as const),
      priority: fc.integer({ min: 0, max: 2 }),
      group: groupArb,
      delay: fc.constantFrom(0, 0, 0, 50, 200),
      attempts: fc.integer({ min: 1, max: 3 }),
      backoff: fc.constantFrom(undefined, 0, 30, 120),
      // When set, a backoff function returning this replaces `backoff`.
      fn: fc.constantFrom<FnBackoff>(undefined, undefined, undefined, 30, Infinity, -Infinity, NaN, -1, 1e300, 'throw', 'string'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('hostile' as const), call: fc.nat(HOSTILE_CALLS.length - 1), value: fc.nat(HOSTILE_VALUES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const), i: fc.nat(30) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('end' as const), i: fc.nat(30), exitCode: fc.constantFrom(0, 0, 1, 3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lose' as const), i: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pause' as const), group: groupArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('resume' as const), group: groupArb }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.constantFrom(10, 60, 250) }) },
);

const EVENTS: ExecutorEventName[] = [
  'task:queued', 'task:started', 'task:retrying', 'task:completed', 'task:failed', 'task:cancelled', 'task:timed_out', 'task:lost', 'task:settled',
];

const category = (s: TaskStatus): string => (s === 'queued' || s === 'waiting' ? 'pending' : s);

let open: BackgroundExecutor | undefined;
afterEach(async () => {
  await open?.shutdown({ graceMs: 0 });
  open = undefined;
});

async function check(concurrency: number, capA: number, capB: number, ops: Op[]): Promise<void> {
  const clock = new ManualClock(0);
  const fake = new FakeTransport({ clock, defaultOutcome: { hang: true } });
  const ex = new BackgroundExecutor({
    transports: { local: fake },
    scheduler: new PriorityScheduler({ concurrency, groups: { a: capA, b: capB }, clock }),
  });
  open = ex;
  const errors: string[] = [];
  ex.on('error', (e) => void errors.push(e.error.code));
  let callbackFailures = 0;
  const audit = new EventAudit();
  for (const name of EVENTS) audit.listen(ex, name);
  const ref = new RefScheduler(concurrency);
  ref.caps.set('a', capA).set('b', capB);
  const model = new ExecutorModel(ref);
  const nth = (list: MTask[], i: number): MTask | undefined => (list.length === 0 ? undefined : list[i % list.length]);

  for (const [step, op] of ops.entries()) {
    const where = `step ${step} ${JSON.stringify(op)}`;
    switch (op.k) {
      case 'submit': {
        const backoff = op.fn !== undefined ? backoffFn(op.fn) : op.backoff !== undefined ? { type: 'fixed' as const, delayMs: op.backoff } : undefined;
        const rec = await ex.submit({
          command: 'x',
          priority: op.priority,
          ...(op.group !== undefined ? { group: op.group } : {}),
          ...(op.delay > 0 ? { delayMs: op.delay } : {}),
          retry: { attempts: op.attempts, ...(backoff !== undefined ? { backoff } : {}) },
        });
        const delay = op.fn === undefined ? op.backoff : fnDelay(op.fn);
        model.submit(rec.id, { ...op, backoff: delay, noRetry: op.fn !== undefined && delay === undefined });
        break;
      }
      case 'hostile': {
        const id = model.all()[0]?.id ?? 'none';
        let err: unknown;
        try {
          await HOSTILE_CALLS[op.call]!(ex, id, HOSTILE_VALUES[op.value] as never);
        } catch (e) {
          err = e;
        }
        expect(err, where).toBeInstanceOf(BgexecError);
        expect((err as BgexecError).code, where).toMatch(/^INVALID_(ARGUMENT|SPEC)$/);
        break;
      }
      case 'cancel': {
        const t = nth(model.all(), op.i);
        if (!t) break;
        await ex.cancel(t.id);
        model.cancel(t.id);
        break;
      }
      case 'end':
      case 'lose': {
        const t = nth(model.runningTasks(), op.i);
        if (!t) break;
        if (op.k === 'lose') fake.lose(t.id);
        else fake.complete(t.id, { exitCode: op.exitCode });
        // A failure that would be retried asks the backoff function: a hostile one is reported.
        if (op.k === 'end' && op.exitCode !== 0 && t.noRetry && t.attempt < t.attempts) callbackFailures++;
        model.end(t.id, op.k === 'lose' ? 'lost' : op.exitCode);
        break;
      }
      case 'pause':
        ex.pause(op.group);
        model.pause(op.group);
        break;
      case 'resume':
        ex.resume(op.group);
        model.resume(op.group);
        break;
      case 'advance':
        await clock.advance(op.ms);
        model.advance(op.ms);
        break;
    }
    await flush(3);
    compare(ex, fake, model, audit, concurrency, { a: capA, b: capB }, where);
  }

  // Wind down: everything left is cancelled; then every task is terminal exactly once.
  ex.resume();
  model.resume(undefined);
  await flush(3);
  for (const t of model.all()) {
    await ex.cancel(t.id);
    model.cancel(t.id);
  }
  await flush(3);
  compare(ex, fake, model, audit, concurrency, { a: capA, b: capB }, 'after cancelling the rest');
  for (const t of model.all()) {
    expect(isTerminal(ex.get(t.id)!.status), t.id).toBe(true);
    expect(audit.count(t.id, 'task:settled'), `${t.id} settled once`).toBe(1);
  }
  expect(fake.running()).toEqual([]);
  // The only errors are the hostile backoff functions, each reported once as what it is.
  expect(errors.filter((c) => c !== 'CALLBACK_FAILED'), 'unexpected error events').toEqual([]);
  expect(errors.length, 'CALLBACK_FAILED events').toBe(callbackFailures);
  await ex.shutdown();
  open = undefined;
}

function compare(ex: BackgroundExecutor, fake: FakeTransport, model: ExecutorModel, audit: EventAudit, concurrency: number, caps: Record<string, number>, where: string): void {
  audit.assertValid(where);
  // Exactly the model's tasks run: caps, priority order, FIFO ties, nothing after cancel.
  const running = fake.running().map((r) => r.taskId).sort();
  expect(running, `${where}: running set`).toEqual(model.runningTasks().map((t) => t.id).sort());
  expect(running.length, where).toBeLessThanOrEqual(concurrency);
  for (const [g, cap] of Object.entries(caps)) {
    expect(model.runningTasks().filter((t) => t.group === g).length, `${where}: group ${g}`).toBeLessThanOrEqual(cap);
  }
  for (const t of model.all()) {
    const rec = ex.get(t.id)!;
    expect(`${category(rec.status)}#${rec.attempt}`, `${where}: ${t.id}`).toBe(`${t.status}#${t.attempt}`);
    expect(rec.attempt, `${where}: ${t.id} attempts`).toBeLessThanOrEqual(t.attempts);
    // One transport start per attempt, and as many task:started events.
    expect(fake.started.filter((r) => r.taskId === t.id).length, `${where}: ${t.id} starts`).toBe(t.attempt);
    expect(audit.count(t.id, 'task:started'), `${where}: ${t.id} started events`).toBe(t.attempt);
    expect(audit.count(t.id, 'task:settled'), `${where}: ${t.id} settled events`).toBe(isTerminal(t.status as TaskStatus) ? 1 : 0);
  }
  const m = ex.metrics();
  expect([m.running, m.queued], `${where}: metrics`).toEqual([model.runningTasks().length, model.all().filter((t) => t.status === 'pending').length]);
}

describe('executor against a reference model (fast-check, FakeTransport + ManualClock)', () => {
  it('keeps every invariant under random submit/cancel/pause/resume/exit/lose/advance sequences', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 2 }),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        check,
      ),
      { numRuns: propertyRuns(300) },
    );
  }, 120_000);
});

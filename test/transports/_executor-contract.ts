import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import type { Scheduler } from '../../src/scheduler/types.js';
import type { TaskSpec } from '../../src/task.js';
import type { Transport } from '../../src/transports/types.js';
import type { ContractOutcome } from './_contract.js';

/** How one transport turns abstract outcomes into task specs, for the executor-level contract. */
export interface ExecutorFixture {
  transport: Transport;
  scheduler: Scheduler;
  /** A spec whose attempts behave as `outcomes[attempt - 1]` (the last one repeats). */
  spec(...outcomes: ContractOutcome[]): TaskSpec;
  /** A spec that cannot start. */
  spawnFailure(): TaskSpec;
  /** Resolves `p`, moving fake time forward meanwhile where the transport runs on a fake clock. */
  drive<T>(p: Promise<T>): Promise<T>;
  teardown(): Promise<void>;
}

/**
 * The executor contract: for the same outcomes, a BackgroundExecutor on any transport ends with
 * the same records, output and events. FakeTransport passing this is what makes it a faithful
 * stand-in for unit tests of code built on bgexec.
 */
export function describeExecutorContract(name: string, make: () => Promise<ExecutorFixture>): void {
  describe(`executor contract: ${name}`, () => {
    let f: ExecutorFixture;
    let ex: BackgroundExecutor;

    beforeEach(async () => {
      f = await make();
      ex = new BackgroundExecutor({ transports: { t: f.transport }, scheduler: f.scheduler });
      await ex.start();
    });

    afterEach(async () => {
      await f.drive(ex.shutdown({ mode: 'kill', graceMs: 200 }));
      await f.teardown();
    });

    const run = async (spec: TaskSpec) => f.drive(ex.wait((await ex.submit(spec)).id));

    it('exit 0 → completed with exact stdout', async () => {
      const done = await run(f.spec({ stdout: 'hello ✓\n', exitCode: 0 }));
      expect(done).toMatchObject({ status: 'completed', exitCode: 0, signal: null, attempt: 1, stdoutBytes: Buffer.byteLength('hello ✓\n') });
      const out = await ex.readOutput(done.id);
      expect(out).toMatchObject({ text: 'hello ✓\n', eof: true, truncated: false });
    });

    it('non-zero exit → failed with the code and exact stderr', async () => {
      const done = await run(f.spec({ stderr: 'bad thing\n', exitCode: 3 }));
      expect(done).toMatchObject({ status: 'failed', exitCode: 3, stderrBytes: 10, stdoutBytes: 0 });
      expect((await ex.readOutput(done.id, { stream: 'stderr' })).text).toBe('bad thing\n');
      expect((await ex.readOutput(done.id)).text).toBe('');
    });

    it('fails, then succeeds on retry, keeping each attempt\'s output', async () => {
      const done = await run({
        ...f.spec({ stdout: 'one\n', exitCode: 1 }, { stdout: 'two\n', exitCode: 0 }),
        retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 20 } },
      });
      expect(done.status).toBe('completed');
      expect(done.history.map((h) => [h.attempt, h.status, h.exitCode])).toEqual([
        [1, 'failed', 1],
        [2, 'completed', 0],
      ]);
      expect((await ex.readOutput(done.id, { attempt: 1 })).text).toBe('one\n');
      expect((await ex.readOutput(done.id)).text).toBe('two\n');
    });

    it('cancel of a running task → cancelled by SIGTERM, never retried', async () => {
      const t = await ex.submit({ ...f.spec({ hang: true }), retry: { attempts: 3, retryOn: ['failed', 'timed_out', 'lost'] } });
      await f.drive(new Promise<void>((resolve) => ex.once('task:started', () => resolve())));
      const done = await f.drive(ex.cancel(t.id, { graceMs: 1000 }));
      expect(done).toMatchObject({ status: 'cancelled', signal: 'SIGTERM', exitCode: null, reason: 'cancelled', attempt: 1 });
    });

    it('timeout → timed_out', async () => {
      const done = await run({ ...f.spec({ hang: true }), timeoutMs: 150, graceMs: 1000 });
      expect(done).toMatchObject({ status: 'timed_out', reason: 'timeout', signal: 'SIGTERM' });
    });

    it('a process that ignores TERM dies by SIGKILL after the grace', async () => {
      const done = await run({ ...f.spec({ hang: true, ignoreTerm: true }), timeoutMs: 100, graceMs: 200 });
      expect(done).toMatchObject({ status: 'timed_out', signal: 'SIGKILL' });
    });

    it('spawn failure → failed with SPAWN_FAILED', async () => {
      const done = await run(f.spawnFailure());
      expect(done.status).toBe('failed');
      expect(done.error?.code).toBe('SPAWN_FAILED');
    });

    it('follow yields all output of a task', async () => {
      const t = await ex.submit(f.spec({ stdout: 'a\nb\nc\n', durationMs: 50 }));
      const collect = (async () => {
        let text = '';
        for await (const c of ex.follow(t.id)) text += c.text;
        return text;
      })();
      expect(await f.drive(collect)).toBe('a\nb\nc\n');
    });

    it('events: queued, started, completed, settled in order', async () => {
      const names: string[] = [];
      for (const n of ['task:queued', 'task:started', 'task:completed', 'task:settled'] as const) ex.on(n, () => names.push(n));
      await run(f.spec({ exitCode: 0 }));
      expect(names).toEqual(['task:queued', 'task:started', 'task:completed', 'task:settled']);
    });
  });
}

// Transports for the scheduler benchmark's diagnosis. LeanTransport: every attempt exits 0 on
// the next macrotask and nothing is recorded; running the benchmark on it next to FakeTransport
// shows how much of the per-task cost is the fake's own bookkeeping rather than the executor's.
// runFakeAlone: FakeTransport on its own (start → wait → poll), a floor under the executor's
// figure on the fake.
import type { ExitInfo, LaunchRequest, PollResult, ReadResult, Transport, TransportHandle } from '../../src/index.js';
import { FakeTransport } from '../../src/testing/index.js';

const EMPTY = Buffer.alloc(0);
const LOST: ExitInfo = { state: 'lost', exitCode: null, signal: null, endedAt: 0 };

export class LeanTransport implements Transport {
  readonly kind = 'lean';
  /** Exit of each attempt still running, by task id (one attempt per task in the benchmarks). */
  readonly #ends = new Map<string, Promise<ExitInfo>>();
  started = 0;

  async start(req: LaunchRequest): Promise<TransportHandle> {
    this.started++;
    const exit = new Promise<ExitInfo>((resolve) => {
      setImmediate(() => resolve({ state: 'exited', exitCode: 0, signal: null, endedAt: Date.now() }));
    });
    this.#ends.set(req.taskId, exit);
    return { kind: this.kind, taskId: req.taskId, attempt: req.attempt, detached: req.detached, startedAt: Date.now() };
  }

  wait(handle: TransportHandle): Promise<ExitInfo> {
    const exit = this.#ends.get(handle.taskId) ?? Promise.resolve(LOST);
    // The executor waits once per attempt: forget it now, so nothing accumulates.
    this.#ends.delete(handle.taskId);
    return exit;
  }

  async poll(handle: TransportHandle): Promise<PollResult> {
    if (this.#ends.has(handle.taskId)) return { state: 'running', stdoutBytes: 0, stderrBytes: 0 };
    return { state: 'exited', exit: { state: 'exited', exitCode: 0, signal: null, endedAt: Date.now() }, stdoutBytes: 0, stderrBytes: 0 };
  }

  async read(): Promise<ReadResult> {
    return { data: EMPTY, totalBytes: 0 };
  }

  async kill(): Promise<void> {}

  async cleanup(): Promise<void> {}

  async close(): Promise<void> {}
}

export interface FakeAloneResult {
  usPerTask: number;
  completed: number;
  /** Entries left in `calls` and `started` afterwards: the fake keeps every call it saw. */
  retainedCalls: number;
  retainedStarts: number;
}

export async function runFakeAlone(n: number, concurrency: number): Promise<FakeAloneResult> {
  const fake = new FakeTransport();
  let next = 0;
  let completed = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const handle = await fake.start({ taskId: `t${i}`, attempt: 1, command: 'true', detached: false });
      const exit = await fake.wait(handle);
      await fake.poll(handle);
      if (exit.exitCode === 0) completed++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  const ms = performance.now() - t0;
  return { usPerTask: (ms * 1000) / n, completed, retainedCalls: fake.calls.length, retainedStarts: fake.started.length };
}

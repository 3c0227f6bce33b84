// The contract-suite fixtures every real transport shares: requests built from ContractOutcome
// shell snippets, an executor fixture over a transport, a skip notice, and a wrapper that keeps
// a transport shared by a whole file open.
import { describe, it } from 'vitest';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskSpec, TransportHandle } from '../../src/task.js';
import type { LaunchRequest, Transport } from '../../src/transports/types.js';
import { contractTaskId, killLeftovers, type ContractOutcome, type TransportFixture } from './_contract.js';
import type { ExecutorFixture } from './_executor-contract.js';
import { shellFor } from './_shell.js';

/** Registers a single skipped test named `name` that says why (`reason`). */
export function describeSkippedBecause(name: string, reason: string | undefined): void {
  describe(name, () => it.skip(reason ?? 'skipped', () => {}));
}

/** How {@link contractFixture} builds requests and tears down. */
export interface ContractFixtureOptions {
  /** `detached` of every request; default false. */
  detached?: boolean;
  /** The working directory of the request that cannot start; default `/nonexistent/bgexec/dir`. */
  missingCwd?: string;
  /** Runs at teardown after the leftovers of every request are killed (closing the transport, …). */
  after?: () => Promise<void>;
}

/** A contract-suite fixture over `transport`, whose requests run {@link shellFor} snippets. */
export function contractFixture(transport: Transport, options: ContractFixtureOptions = {}): TransportFixture {
  const requests: LaunchRequest[] = [];
  const echoed = new Map<string, string>();
  const build = (command: string, extra: Partial<LaunchRequest> = {}): LaunchRequest => {
    const req: LaunchRequest = { taskId: contractTaskId(), attempt: 1, command, detached: options.detached ?? false, ...extra };
    requests.push(req);
    return req;
  };
  return {
    transport,
    request: (o: ContractOutcome, extra?: Partial<LaunchRequest>) => {
      const req = build(shellFor(o), extra);
      if (o.echoEnv !== undefined) echoed.set(req.taskId, o.echoEnv);
      return req;
    },
    spawnFailure: () => build('true', { cwd: options.missingCwd ?? '/nonexistent/bgexec/dir' }),
    tick: async () => {},
    now: () => Date.now(),
    envSeen: async (handle: TransportHandle, name: string) => {
      if (echoed.get(handle.taskId) !== name) throw new Error(`request ${handle.taskId} was not built with echoEnv ${name}`);
      const text = (await transport.read(handle, 'stdout', 0, 1 << 20)).data.toString('utf8');
      return text.startsWith('env=') ? text.slice(4) : undefined;
    },
    teardown: async () => {
      await killLeftovers(transport, requests);
      await options.after?.();
    },
  };
}

/** An executor-contract fixture over `transport`: each attempt runs the outcome of its number. */
export function shellExecutorFixture(transport: Transport, concurrency: number): ExecutorFixture {
  return {
    transport,
    scheduler: new PriorityScheduler({ concurrency }),
    spec: (...outcomes: ContractOutcome[]): TaskSpec => {
      if (outcomes.length === 1) return { command: shellFor(outcomes[0]!) };
      const arms = outcomes.map((o, i) => `${i === outcomes.length - 1 ? '*' : i + 1}) ${shellFor(o)} ;;`);
      return { command: `case "$BGEXEC_ATTEMPT" in ${arms.join(' ')} esac` };
    },
    spawnFailure: () => ({ command: 'true', cwd: '/nonexistent/bgexec/dir' }),
    drive: (p) => p,
    teardown: async () => {},
  };
}

/**
 * `t` behind a Transport whose close() does nothing: for a transport a whole test file shares
 * (its vagrant answers are asked once), closed by the file's afterAll, not by each executor.
 */
export function unclosed(t: Transport): Transport {
  return {
    kind: t.kind,
    start: (r) => t.start(r),
    wait: (h) => t.wait(h),
    poll: (h) => t.poll(h),
    read: (h, s, o, l) => t.read(h, s, o, l),
    kill: (h, o) => t.kill(h, o),
    cleanup: (h) => t.cleanup(h),
    ...(t.probe === undefined ? {} : { probe: (id: string, a: number) => t.probe!(id, a) }),
    close: async () => {},
  };
}

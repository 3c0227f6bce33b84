// Fixtures of the SSH transport tests: one real sshd per test file, transports against it.
import { afterAll, describe, it } from 'vitest';
import type { TaskSpec } from '../../src/task.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TransportHandle } from '../../src/task.js';
import type { LaunchRequest, Transport } from '../../src/transports/types.js';
import { SshTransport, type SshTransportOptions } from '../../src/transports/ssh/ssh-transport.js';
import { sshUnavailable, startSshd, type Sshd } from '../harness/sshd.js';
import { contractTaskId, killLeftovers, type ContractOutcome, type TransportFixture } from './_contract.js';
import type { ExecutorFixture } from './_executor-contract.js';
import { shellFor } from './_shell.js';

/** Why these tests skip (binaries missing), or undefined. */
export const skipReason = sshUnavailable();

/** Registers a single skipped test that says why, when the SSH binaries are absent. */
export function describeSkipped(name: string): void {
  describe(name, () => it.skip(skipReason ?? 'skipped', () => {}));
}

let server: Promise<Sshd> | undefined;
// Registered while the test file is collected (this module is imported then), so it runs after
// the file's tests; a hook registered later, from inside a test, would never run.
afterAll(async () => {
  const s = server;
  server = undefined;
  if (s) await (await s).close();
});

/** The file's sshd, started on first use and stopped after the file's tests. */
export function sshd(): Promise<Sshd> {
  server ??= startSshd();
  return server;
}

/** Fast polling, so that the tests do not wait on the idle backoff. */
export const FAST: Partial<SshTransportOptions> = { pollIntervalMs: 25, maxPollIntervalMs: 200 };

/** A transport fixture for the contract suite; `make` builds the transport under test. */
export function transportFixture(make: (s: Sshd) => Promise<Transport> | Transport, close = true) {
  return async (): Promise<TransportFixture> => {
    const s = await sshd();
    const transport = await make(s);
    const requests: LaunchRequest[] = [];
    const echoed = new Map<string, string>();
    const build = (command: string, extra: Partial<LaunchRequest> = {}): LaunchRequest => {
      const req: LaunchRequest = { taskId: contractTaskId(), attempt: 1, command, detached: false, ...extra };
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
      spawnFailure: () => build('true', { cwd: '/nonexistent/bgexec/dir' }),
      tick: async () => {},
      now: () => Date.now(),
      envSeen: async (handle: TransportHandle, name: string) => {
        if (echoed.get(handle.taskId) !== name) throw new Error(`request ${handle.taskId} was not built with echoEnv ${name}`);
        const text = (await transport.read(handle, 'stdout', 0, 1 << 20)).data.toString('utf8');
        return text.startsWith('env=') ? text.slice(4) : undefined;
      },
      teardown: async () => {
        await killLeftovers(transport, requests);
        if (close) await transport.close();
      },
    };
  };
}

/** An executor fixture for the executor contract suite. */
export function executorFixture(make: (s: Sshd) => Promise<Transport> | Transport) {
  return async (): Promise<ExecutorFixture> => {
    const s = await sshd();
    return {
      transport: await make(s),
      scheduler: new PriorityScheduler({ concurrency: 4 }),
      spec: (...outcomes: ContractOutcome[]): TaskSpec => {
        if (outcomes.length === 1) return { command: shellFor(outcomes[0]!) };
        const arms = outcomes.map((o, i) => `${i === outcomes.length - 1 ? '*' : i + 1}) ${shellFor(o)} ;;`);
        return { command: `case "$BGEXEC_ATTEMPT" in ${arms.join(' ')} esac` };
      },
      spawnFailure: () => ({ command: 'true', cwd: '/nonexistent/bgexec/dir' }),
      drive: (p) => p,
      teardown: async () => {},
    };
  };
}

/** A new SshTransport against the file's sshd. */
export function sshTransport(s: Sshd, extra: Parameters<Sshd['options']>[0] = {}): SshTransport {
  return new SshTransport(s.options({ ...FAST, ...extra }));
}

// Fixtures of the Slurm transport tests: the shared test cluster, a shared root per file, and
// the contract-suite fixtures for SlurmTransport.
import { afterAll, describe, it } from 'vitest';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskSpec, TransportHandle } from '../../src/task.js';
import { SlurmTransport } from '../../src/transports/slurm/slurm-transport.js';
import type { SlurmTransportOptions } from '../../src/transports/slurm/options.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { contractTaskId, killLeftovers, type ContractOutcome, type TransportFixture } from '../transports/_contract.js';
import type { ExecutorFixture } from '../transports/_executor-contract.js';
import { shellFor } from '../transports/_shell.js';
import { SLURM_ENV, ensureSlurm, makeSharedRoot, slurmUnavailable } from './slurm.js';

/** Why these tests skip, or undefined. */
export const skipReason = slurmUnavailable();

/** Registers a single skipped test that says why. */
export function describeSkipped(name: string): void {
  describe(name, () => it.skip(skipReason ?? 'skipped', () => {}));
}

let root: ReturnType<typeof makeSharedRoot> | undefined;
// Registered while the file is collected, so it runs after the file's tests.
afterAll(() => {
  root?.remove();
  root = undefined;
});

/** The file's shared root, created on first use. */
export function sharedRoot(): string {
  root ??= makeSharedRoot();
  return root.dir;
}

/** A SlurmTransport on the test cluster, polling fast. */
export function slurmTransport(extra: Partial<SlurmTransportOptions> = {}): SlurmTransport {
  return new SlurmTransport({ sharedRoot: sharedRoot(), env: SLURM_ENV, pollMs: 100, markerGraceMs: 1500, ...extra });
}

/** A transport fixture for the contract suite. */
export function transportFixture() {
  return async (): Promise<TransportFixture> => {
    await ensureSlurm();
    const transport = slurmTransport();
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
        await transport.close();
      },
    };
  };
}

/** An executor fixture for the executor contract suite. */
export function executorFixture() {
  return async (): Promise<ExecutorFixture> => {
    await ensureSlurm();
    return {
      transport: slurmTransport(),
      scheduler: new PriorityScheduler({ concurrency: 8 }),
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

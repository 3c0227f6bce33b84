// Fixtures of the tests against a real Vagrant machine (docker provider, see
// test/harness/vagrant-docker.ts): contract fixtures for a VagrantTransport, and small helpers.
import { beforeAll, describe, it } from 'vitest';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskSpec, TransportHandle } from '../../src/task.js';
import type { LaunchRequest, Transport } from '../../src/transports/types.js';
import { vagrantDockerUnavailable, vagrantDockerUp, type VagrantDockerMachines, type VagrantDockerProject } from '../harness/vagrant-docker.js';
import { contractTaskId, killLeftovers, type ContractOutcome, type TransportFixture } from './_contract.js';
import type { ExecutorFixture } from './_executor-contract.js';
import { shellFor } from './_shell.js';

/** Why these tests skip, or undefined. */
export const dockerSkipReason = vagrantDockerUnavailable();

/** Registers one skipped test that says why. */
export function describeDockerSkipped(name: string): void {
  describe(name, () => it.skip(dockerSkipReason ?? 'skipped', () => {}));
}

// Bringing a project up builds the image the first time (a minute or two), hence the long hook.
const UP_MS = 600_000;

/**
 * Registers a file-level `beforeAll` that brings `project` up; the returned function gives the
 * machines afterwards.
 */
export function useVagrantDocker(project: VagrantDockerProject): () => VagrantDockerMachines {
  let machines: VagrantDockerMachines | undefined;
  beforeAll(async () => {
    const t0 = Date.now();
    machines = await vagrantDockerUp(project);
    console.log(`vagrant-docker: project ${project} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, UP_MS);
  return () => {
    if (machines === undefined) throw new Error(`vagrant-docker project ${project} is not up`);
    return machines;
  };
}

/** A transport fixture for the contract suite over `make()` (kept open: the file closes it). */
export function dockerTransportFixture(make: () => Promise<Transport>) {
  return async (): Promise<TransportFixture> => {
    const transport = await make();
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
      teardown: () => killLeftovers(transport, requests),
    };
  };
}

/** An executor fixture for the executor contract suite over `make()`. */
export function dockerExecutorFixture(make: () => Promise<Transport>) {
  return async (): Promise<ExecutorFixture> => ({
    transport: await make(),
    scheduler: new PriorityScheduler({ concurrency: 4 }),
    spec: (...outcomes: ContractOutcome[]): TaskSpec => {
      if (outcomes.length === 1) return { command: shellFor(outcomes[0]!) };
      const arms = outcomes.map((o, i) => `${i === outcomes.length - 1 ? '*' : i + 1}) ${shellFor(o)} ;;`);
      return { command: `case "$BGEXEC_ATTEMPT" in ${arms.join(' ')} esac` };
    },
    spawnFailure: () => ({ command: 'true', cwd: '/nonexistent/bgexec/dir' }),
    drive: (p) => p,
    teardown: async () => {},
  });
}

/** Polls `check` every 100 ms until it returns a value other than undefined; fails after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

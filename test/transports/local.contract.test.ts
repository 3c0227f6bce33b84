import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalTransport } from '../../src/transports/local.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { shellFor } from './_shell.js';
import { contractTaskId, describeTransportContract, killLeftovers, type ContractOutcome, type TransportFixture } from './_contract.js';

function localFixture(detached: boolean) {
  return async (): Promise<TransportFixture> => {
    const root = await mkdtemp(join(tmpdir(), 'bgexec-contract-'));
    const transport = new LocalTransport({ root });
    const requests: LaunchRequest[] = [];
    const echoed = new Map<string, string>();
    const build = (command: string, extra: Partial<LaunchRequest> = {}): LaunchRequest => {
      const req: LaunchRequest = { taskId: contractTaskId(), attempt: 1, command, detached, ...extra };
      requests.push(req);
      return req;
    };
    return {
      transport,
      request: (o, extra) => {
        const req = build(shellFor(o), extra);
        if (o.echoEnv !== undefined) echoed.set(req.taskId, o.echoEnv);
        return req;
      },
      spawnFailure: () => build('true', { cwd: join(root, 'no', 'such', 'dir') }),
      tick: async () => {},
      now: () => Date.now(),
      envSeen: async (handle, name) => {
        if (echoed.get(handle.taskId) !== name) throw new Error(`request ${handle.taskId} was not built with echoEnv ${name}`);
        const text = (await transport.read(handle, 'stdout', 0, 1 << 20)).data.toString('utf8');
        return text.startsWith('env=') ? text.slice(4) : undefined;
      },
      teardown: async () => {
        await killLeftovers(transport, requests);
        await transport.close();
        await rm(root, { recursive: true, force: true });
      },
    };
  };
}

describeTransportContract('LocalTransport (attached)', localFixture(false));
describeTransportContract('LocalTransport (detached)', localFixture(true));

describe('LocalTransport environment', () => {
  it('exports BGEXEC_TASK_ID to the attempt', async () => {
    const fx = await localFixture(false)();
    try {
      const req = fx.request({ echoEnv: 'BGEXEC_TASK_ID' });
      const handle = await fx.transport.start(req);
      expect((await fx.transport.wait(handle)).exitCode).toBe(0);
      expect(await fx.envSeen(handle, 'BGEXEC_TASK_ID')).toBe(req.taskId);
    } finally {
      await fx.teardown();
    }
  });
});

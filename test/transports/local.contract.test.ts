import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalTransport } from '../../src/transports/local.js';
import { describeTransportContract, type TransportFixture } from './_contract.js';
import { contractFixture } from './_contract-fixture.js';

function localFixture(detached: boolean) {
  return async (): Promise<TransportFixture> => {
    const root = await mkdtemp(join(tmpdir(), 'bgexec-contract-'));
    const transport = new LocalTransport({ root });
    return contractFixture(transport, {
      detached,
      missingCwd: join(root, 'no', 'such', 'dir'),
      after: async () => {
        await transport.close();
        await rm(root, { recursive: true, force: true });
      },
    });
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

// VagrantTransport passes the same contracts as every transport against a real Vagrant machine:
// the docker provider's machine `one` (Debian, its own users, filesystem and process table),
// brought up by test/harness/vagrant-docker.sh. The whole file costs two vagrant processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/transports/types.js';
import { VagrantTransport } from '../../src/transports/vagrant.js';
import { describeExecutorContract } from './_executor-contract.js';
import { describeTransportContract } from './_contract.js';
import { unclosed } from './_contract-fixture.js';
import { describeDockerSkipped, dockerExecutorFixture, dockerSkipReason, dockerTransportFixture, useVagrantDocker } from './_vagrant-docker-fixture.js';

if (dockerSkipReason !== undefined) describeDockerSkipped(`VagrantTransport contract, docker provider (${dockerSkipReason})`);
else {
  const machines = useVagrantDocker('shared');
  let shared: VagrantTransport | undefined;
  // One transport for the file, its own close() left to afterAll: its vagrant answer is asked once.
  async function transport(): Promise<Transport> {
    shared ??= new VagrantTransport(machines().options('one'));
    return unclosed(shared);
  }
  // vagrant's two answers (seconds each on a loaded machine) are asked here, not inside a test's time limit.
  let asked = 0;
  beforeAll(async () => {
    await (await transport()).probe!('warm-up', 1);
    asked = shared!.vagrantCalls;
  }, 300_000);
  afterAll(async () => {
    await shared?.close();
  });

  describeTransportContract('VagrantTransport (docker provider)', dockerTransportFixture(transport));
  describeExecutorContract('VagrantTransport (docker provider)', dockerExecutorFixture(transport));

  describe('VagrantTransport (docker provider): vagrant processes', () => {
    it('spawned no vagrant process for all the operations above: status + ssh-config were asked once, before', () => {
      // Two, or more when another test file's vagrant held the machine at that moment ("locked": asked again).
      expect(asked).toBeGreaterThanOrEqual(2);
      expect(shared?.vagrantCalls).toBe(asked);
    });
  });
}

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
  beforeAll(async () => {
    await (await transport()).probe!('warm-up', 1);
  }, 300_000);
  afterAll(async () => {
    await shared?.close();
  });

  describeTransportContract('VagrantTransport (docker provider)', dockerTransportFixture(transport));
  describeExecutorContract('VagrantTransport (docker provider)', dockerExecutorFixture(transport));

  describe('VagrantTransport (docker provider): vagrant processes', () => {
    it('spawned 2 vagrant processes (status + ssh-config) for all the operations above', () => {
      expect(shared?.vagrantCalls).toBe(2);
    });
  });
}

import { describeExecutorContract } from './_executor-contract.js';
import { describeTransportContract } from './_contract.js';
import { describeSkipped, executorFixture, skipReason, sshTransport, transportFixture } from './_ssh-fixture.js';

if (skipReason !== undefined) describeSkipped('SshTransport contract');
else {
  describeTransportContract('SshTransport', transportFixture((s) => sshTransport(s)));
  describeExecutorContract('SshTransport', executorFixture((s) => sshTransport(s)));
}

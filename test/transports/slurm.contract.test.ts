import { describeExecutorContract } from './_executor-contract.js';
import { describeTransportContract } from './_contract.js';
import { describeSkipped, executorFixture, skipReason, transportFixture } from '../harness/slurm-fixture.js';

if (skipReason !== undefined) describeSkipped('SlurmTransport contract');
else {
  describeTransportContract('SlurmTransport', transportFixture());
  describeExecutorContract('SlurmTransport', executorFixture());
}

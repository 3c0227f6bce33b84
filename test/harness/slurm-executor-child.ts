// A child executor for the Slurm restart test, run with `node --import tsx`:
//   slurm-executor-child.ts <store dir> '<SlurmTransportOptions json>' '<TaskSpec[] json>'
// Starts an executor on the JsonDirStore with one Slurm transport named `cluster`, submits the
// specs, and prints `pending <id> <jobId>` / `started <id> <jobId>` once each record is on disk.
// Runs until killed.
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskSpec } from '../../src/task.js';
import { SlurmTransport } from '../../src/transports/slurm/slurm-transport.js';
import type { SlurmTransportOptions } from '../../src/transports/slurm/options.js';

const [dir, optionsJson, specsJson] = process.argv.slice(2);
if (!dir || !optionsJson || !specsJson) throw new Error('usage: slurm-executor-child.ts <dir> <options> <specs>');
const transport = new SlurmTransport(JSON.parse(optionsJson) as SlurmTransportOptions);
const store = new JsonDirStore({ dir, durability: 'rename' });
const ex = new BackgroundExecutor({ store, transports: { cluster: transport }, scheduler: new PriorityScheduler({ concurrency: 8 }) });
const say = (line: string): void => void process.stdout.write(`${line}\n`);
for (const name of ['task:pending', 'task:started'] as const) {
  ex.on(name, (e) => {
    void store.flush().then(() => say(`${name.slice(5)} ${e.taskId} ${String(e.record.handle?.['jobId'])}`));
  });
}
await ex.start();
for (const spec of JSON.parse(specsJson) as TaskSpec[]) await ex.submit({ ...spec, transport: 'cluster' });
setInterval(() => {}, 60_000);

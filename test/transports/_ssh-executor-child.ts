// A child executor for the SSH restart test, run with `node --import tsx`:
//   _ssh-executor-child.ts <store dir> '<SshTransportOptions json>' '<TaskSpec json>'
// Starts an executor on the JsonDirStore with one SSH transport named `build1`, submits the
// spec and prints `dir <transport localDir>` and `started <id> <pid>`. Runs until killed.
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskSpec } from '../../src/task.js';
import { SshTransport, type SshTransportOptions } from '../../src/transports/ssh/ssh-transport.js';

const [dir, optionsJson, specJson] = process.argv.slice(2);
if (!dir || !optionsJson || !specJson) throw new Error('usage: _ssh-executor-child.ts <dir> <options> <spec>');
const transport = new SshTransport(JSON.parse(optionsJson) as SshTransportOptions);
const store = new JsonDirStore({ dir, durability: 'rename' });
const ex = new BackgroundExecutor({ store, transports: { build1: transport }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
const say = (line: string): void => void process.stdout.write(`${line}\n`);
say(`dir ${transport.localDir}`);
ex.on('task:started', (e) => {
  // Started means the handle is in the record; wait until the store has it on disk.
  void store.flush().then(() => say(`started ${e.taskId} ${String(e.record.handle?.pid)}`));
});
ex.on('task:output', (e) => say(`output ${e.taskId} ${e.record.stdoutBytes}`));
await ex.start();
await ex.submit({ ...(JSON.parse(specJson) as TaskSpec), transport: 'build1' });

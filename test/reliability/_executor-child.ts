// A child executor that the orphan test SIGKILLs, run with `node --import tsx`:
//   _executor-child.ts <dir> '<json array of TaskSpec>'
// Starts an executor on the JsonDirStore at <dir>, submits the specs and prints
// `started <id> <detached>` once a task's start (with its handle) is durably stored.
// Runs until killed.
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskSpec } from '../../src/task.js';

const [dir, specsJson = '[]'] = process.argv.slice(2);
if (!dir) throw new Error('usage: _executor-child.ts <dir> <specs-json>');
const store = new JsonDirStore({ dir, durability: 'rename' });
const ex = new BackgroundExecutor({ store, scheduler: new PriorityScheduler({ concurrency: 8 }) });
const say = (line: string): void => void process.stdout.write(`${line}\n`);
// The flush makes the handle durable before the test kills this process, so what is tested
// is the restart, not the (separately tested) window between spawn and the stored handle.
ex.on('task:started', (e) => void store.flush().then(() => say(`started ${e.taskId} ${String(e.record.spec.detached ?? false)}`)));
ex.on('error', (e) => process.stderr.write(`child error: ${e.error.code} ${e.error.message}\n`));
await ex.start();
for (const spec of JSON.parse(specsJson) as TaskSpec[]) await ex.submit(spec);
setInterval(() => undefined, 60_000); // stay alive until killed

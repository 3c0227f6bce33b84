// A child executor for recovery scenarios, run with `node --import tsx`:
//   _executor-child.ts <dir> '<json array of TaskSpec>'
// Starts an executor on the JsonDirStore at <dir>, submits the specs in order and prints one
// line per fact: `submitted <index> <id>`, `started <id> <attempt> <pid>`, `settled <id> <status>`.
// Reads `cancel <id>` lines on stdin. Runs until killed (the tests SIGKILL it).
import { createInterface } from 'node:readline';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskSpec } from '../../src/task.js';

const [dir, specsJson = '[]'] = process.argv.slice(2);
if (!dir) throw new Error('usage: _executor-child.ts <dir> <specs-json>');
const specs = JSON.parse(specsJson) as TaskSpec[];
const store = new JsonDirStore({ dir, durability: 'rename' });
const ex = new BackgroundExecutor({
  store,
  scheduler: new PriorityScheduler({ concurrency: 8 }),
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
ex.on('task:started', (e) => say(`started ${e.taskId} ${e.attempt} ${String(e.record.handle?.pid)}`));
ex.on('task:settled', (e) => say(`settled ${e.taskId} ${e.record.status}`));
ex.on('error', (e) => process.stderr.write(`child error: ${e.error.code} ${e.error.message}\n`));
await ex.start();
for (const [i, spec] of specs.entries()) {
  const rec = await ex.submit(spec);
  say(`submitted ${i} ${rec.id}`);
}
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, id] = line.split(' ');
  if (cmd === 'cancel' && id) {
    void ex.cancel(id).catch(() => undefined);
    // Acknowledged once the kill has begun and the store has written what the runner put.
    setImmediate(() => void store.flush().then(() => say(`cancelling ${id}`)));
  }
});

// The executor the crash test SIGKILLs, run with `node --import tsx`:
//   _crash-child.ts <dir> <seed> <log> <durability>
// Submits the seeded workload (each submit awaited: durably queued) and prints `ready`, `submitted <id>` after each submit and `settled <id> <status> <exitCode>`
// on every task:settled. It never stops by itself: the test kills it.
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { CONCURRENCY, crashSpecs } from './_crash-workload.js';

const [dir, seedArg, log, durability = 'fsync'] = process.argv.slice(2);
if (!dir || !seedArg || !log || (durability !== 'fsync' && durability !== 'rename')) {
  throw new Error('usage: _crash-child.ts <dir> <seed> <log> <fsync|rename>');
}
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const ex = new BackgroundExecutor({
  store: new JsonDirStore({ dir, durability }),
  scheduler: new PriorityScheduler({ concurrency: CONCURRENCY }),
});
ex.on('task:settled', (e) => out(`settled ${e.taskId} ${e.record.status} ${String(e.exitCode)}`));
ex.on('error', (e) => process.stderr.write(`crash child error: ${e.error.code} ${e.error.message}\n`));
await ex.start();
out('ready');
// Twenty at a time: submission spans a while (so kills can land during it) without taking long.
const specs = crashSpecs(Number(seedArg), log);
for (let i = 0; i < specs.length; i += 20) {
  await Promise.all(specs.slice(i, i + 20).map(async (spec) => out(`submitted ${(await ex.submit(spec)).id}`)));
}
await ex.onIdle();
out('idle');
// Stay alive (and holding the store) until killed.
setInterval(() => undefined, 60_000);

// bgexec quickstart: run with `npm run demo`.
// Shows priorities under a concurrency cap, a group cap, a flaky command that succeeds on retry,
// a timeout that kills a whole process tree, live events, and output reads by cursor and tail.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundExecutor, PriorityScheduler } from '../src/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'bgexec-demo-'));
const t0 = Date.now();
const stamp = (): string => `${String(Date.now() - t0).padStart(5)} ms`;

const ex = new BackgroundExecutor({
  // Two tasks at a time overall, and at most one of group "db".
  scheduler: new PriorityScheduler({ concurrency: 2, groups: { db: 1 } }),
});

ex.on('task:started', (e) => console.log(`${stamp()}  started   ${e.record.spec.command.slice(0, 50)} (attempt ${e.attempt})`));
ex.on('task:retrying', (e) => console.log(`${stamp()}  retrying  attempt ${e.attempt} exited ${e.exitCode}; next in ${e.delayMs} ms`));
ex.on('task:settled', (e) =>
  console.log(`${stamp()}  ${e.record.status.padEnd(9)} ${e.record.spec.command.slice(0, 50)} (exit ${e.exitCode ?? e.signal})`),
);

await ex.start();
// Hold dispatch while we queue, so the priority order is visible.
ex.pause();

const low = await ex.submit({ command: 'sleep 0.2; echo low priority', priority: 0 });
const high = await ex.submit({ command: 'sleep 0.2; echo high priority', priority: 10 });
const migrate = await ex.submit({ command: 'sleep 0.3; echo migrated', group: 'db', priority: 5 });
const backup = await ex.submit({ command: 'sleep 0.3; echo backed up', group: 'db', priority: 5 });

// Fails twice, then succeeds: each attempt appends to a counter file.
const counter = join(scratch, 'count');
const flaky = await ex.submit({
  command: `echo x >> '${counter}'; n=$(wc -l < '${counter}'); echo "try $n"; [ "$n" -ge 3 ]`,
  retry: { attempts: 5, backoff: { type: 'exponential', delayMs: 100 } },
});

// A tree of sleeps that would run for 100 s: the timeout kills the whole process group.
const stuck = await ex.submit({ command: 'sleep 100 & sleep 100 & wait', timeoutMs: 300, graceMs: 500 });

// Lots of output, kept on disk, read back by cursor and by tail.
const noisy = await ex.submit({ command: 'seq 1 100000', priority: -1 });

ex.resume();
await ex.onIdle();

console.log('\nresults:');
for (const t of [high, low, migrate, backup, flaky, stuck, noisy]) {
  const r = ex.get(t.id)!;
  console.log(`  ${r.status.padEnd(9)} attempts=${r.attempt} exit=${r.exitCode ?? r.signal} ${r.spec.command.slice(0, 40)}`);
}

const first = await ex.readOutput(noisy.id, { maxBytes: 20 });
console.log(`\nseq output: ${first.totalBytes} bytes on disk; first 20 bytes: ${JSON.stringify(first.text)}`);
const tail = await ex.readOutput(noisy.id, { tail: 3 });
console.log(`last 3 lines: ${JSON.stringify(tail.text)}`);
console.log(`flaky stdout of attempt 3: ${JSON.stringify((await ex.readOutput(flaky.id)).text)}`);
console.log('metrics:', JSON.stringify(ex.metrics().counts));

await ex.shutdown();
rmSync(scratch, { recursive: true, force: true });

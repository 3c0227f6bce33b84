// What a durable store's writes cost, outside the benchmark table (docs/performance.md, "Durable
// store"): `npx tsx bench/store-writes.ts [writes=400] [tasks=300]`.
//
// 1. The main-thread CPU of one fsynced atomic write (temp file, write, fsync, close, rename):
//    JsonDirStore's `writeFileAtomic` (fs callbacks) against the same steps through
//    fs/promises FileHandles, interleaved, 8 writes in flight, on the default temp directory.
// 2. How many task files JsonDirStore writes per task when `tasks` `true` commands run through
//    an executor (LocalTransport, concurrency 8), from the store's own counters.
import { mkdtempSync, rmSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundExecutor, JsonDirStore, PriorityScheduler } from '../src/index.js';
import { tempPathFor, writeFileAtomic } from '../src/stores/atomic-write.js';
import { median } from './lib/stats.js';
import { startCpuSpan } from './lib/system.js';
import { submitAll } from './lib/workloads.js';

const writes = Number(process.argv[2] ?? 400);
const tasks = Number(process.argv[3] ?? 300);
const IN_FLIGHT = 8;
const REPS = 5;

// The baseline: the steps of an atomic write through FileHandles, as the store did them before.
async function viaFileHandles(target: string, text: string): Promise<void> {
  const temp = tempPathFor(target);
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(temp);
    throw err;
  }
  await fh.close();
  await rename(temp, target);
}

const text = `${JSON.stringify({ id: 'x'.repeat(21), spec: { command: 'true', transport: 'local' }, status: 'running', attempt: 1, history: [] })}\n`;
const variants: Record<string, (file: string) => Promise<void>> = {
  'writeFileAtomic (fs callbacks)': (file) => writeFileAtomic(file, text, { fsync: true }),
  'the same steps through fs/promises': (file) => viaFileHandles(file, text),
};

const cpu: Record<string, number[]> = {};
for (let rep = 0; rep < REPS; rep++) {
  for (const [name, write] of Object.entries(variants)) {
    const dir = mkdtempSync(join(tmpdir(), 'bgexec-writes-'));
    const span = startCpuSpan();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < writes) await write(join(dir, `${next++ % 50}.json`));
      }),
    );
    const used = span();
    (cpu[name] ??= []).push(((used.mainCpuMs ?? used.processCpuMs) * 1000) / writes);
    rmSync(dir, { recursive: true, force: true });
  }
}
for (const [name, list] of Object.entries(cpu)) console.log(`${name.padEnd(36)} main-thread CPU ${median(list).toFixed(0)} µs per fsynced write`);

const dir = mkdtempSync(join(tmpdir(), 'bgexec-writes-'));
try {
  const store = new JsonDirStore({ dir });
  const ex = new BackgroundExecutor({ store, scheduler: new PriorityScheduler({ concurrency: IN_FLIGHT }) });
  await ex.start();
  await submitAll(ex, tasks, () => ({ command: 'true' }));
  await ex.onIdle();
  await ex.shutdown();
  const s = store.stats;
  console.log(`JsonDirStore, ${tasks} true tasks: ${(s.writes / tasks).toFixed(2)} task files written per task, ${s.batches} group commits, ${s.dirSyncs} directory fsyncs`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

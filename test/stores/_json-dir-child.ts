// Child process for json-dir tests, run with `node --import tsx`:
//   hold  <dir>                    take the store's lock, print "ready", hold it until stdin closes
//   write <dir> <seed> <durability> write records in a tight loop until killed
//   load  <dir>                    load the store, print {ids, problems} as one JSON line, close
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { makeRecord } from './_records.js';

const [mode, dir, seedArg = '1', durability = 'fsync'] = process.argv.slice(2);
if (!dir || (durability !== 'fsync' && durability !== 'rename')) throw new Error('usage: hold|write|load <dir> [seed] [durability]');
const store = new JsonDirStore({ dir, durability });
const loaded = await store.load();

if (mode === 'load') {
  const problems = loaded.problems.map((p) => ({ source: p.source, quarantinedTo: p.quarantinedTo, code: p.error.code, message: p.error.message }));
  process.stdout.write(`${JSON.stringify({ ids: loaded.records.map((r) => r.id), problems })}\n`);
  await store.close();
} else if (mode === 'hold') {
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    void store.close().then(() => process.exit(0));
  });
} else {
  let seed = Number(seedArg) >>> 0 || 1;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  let n = 0;
  let announced = false;
  for (;;) {
    const ops: Array<Promise<void>> = [];
    const k = 1 + rnd(40);
    for (let i = 0; i < k; i++) {
      const id = `t${rnd(300)}`;
      if (rnd(10) === 0) ops.push(store.delete(id));
      // Sizes up to ~40 KB so a kill often lands in the middle of writing a file.
      else ops.push(store.put(makeRecord(id, { attempt: n++, spec: { command: 'x'.repeat(rnd(40_000)) } })));
    }
    await Promise.all(ops);
    if (!announced) {
      announced = true;
      process.stdout.write('ready\n');
    }
  }
}

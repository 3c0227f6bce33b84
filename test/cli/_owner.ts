// A stand-in for an application that embeds bgexec: it owns a JsonDirStore in its own process,
// submits the specs given as JSON in argv[3] (if any), prints one JSON line
// `{"ready":true,"pid":…,"ids":[…]}` on stdout, reports every executor error on stderr as
// `ERROR <code> <message>`, and on SIGTERM shuts down (mode kill) and exits 0.
import { BackgroundExecutor, JsonDirStore, type TaskSpec } from 'bgexec';

const dir = process.argv[2];
if (!dir) throw new Error('usage: _owner.ts DIR [SPECS_JSON]');
const specs = JSON.parse(process.argv[3] ?? '[]') as TaskSpec[];
const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir, durability: 'rename' }) });
ex.on('error', (e) => process.stderr.write(`ERROR ${e.error.code} ${e.error.message.replace(/\n/g, ' ')}\n`));
await ex.start();
const ids: string[] = [];
for (const spec of specs) ids.push((await ex.submit(spec)).id);
// The executor holds nothing open while idle: the application's own work would.
const keepAlive = setInterval(() => undefined, 1 << 30);
process.on('SIGTERM', () => {
  void ex.shutdown({ mode: 'kill', graceMs: 1000 }).finally(() => {
    clearInterval(keepAlive);
    process.exit(0);
  });
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, ids })}\n`);

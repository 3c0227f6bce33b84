// Child of trace.test.ts: runs a few real tasks (one completes, one is retried after a 30 ms
// backoff and fails, one is cancelled) so NODE_DEBUG=bgexec has each kind of line to print.
import { BackgroundExecutor } from '../../src/executor.js';

const ex = new BackgroundExecutor();
const ok = await ex.submit({ command: 'echo traced' });
const bad = await ex.submit({ command: 'exit 3', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 30 } } });
const slow = await ex.submit({ command: 'sleep 30', graceMs: 100 });
await ex.wait(ok.id);
await ex.wait(bad.id);
for (let i = 0; i < 200 && ex.get(slow.id)?.status !== 'running'; i++) await new Promise((r) => setTimeout(r, 10));
await ex.cancel(slow.id);
await ex.shutdown();
process.stdout.write(JSON.stringify({ ok: ok.id, bad: bad.id, slow: slow.id }));

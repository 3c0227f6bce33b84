// bgexec quickstart: `npm run demo` (or, after `npm run build`, `npx tsx examples/quickstart.ts`).
// Seven real tasks under a scheduler that runs 2 at a time and at most 1 of group "db":
// priorities, a group cap that lets a lower-priority task go first, a flaky command that
// succeeds on its third attempt, a timeout that kills a whole process tree (and the proof that
// the tree is gone), and output kept on disk, read back by byte cursor and by tail.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundExecutor, PriorityScheduler, type TaskRecord } from 'bgexec';

const CONCURRENCY = 2;
const DB_CAP = 1;
const scratch = mkdtempSync(join(tmpdir(), 'bgexec-demo-'));
const t0 = Date.now();
const ms = (): string => `${String(Date.now() - t0).padStart(5)} ms`;

// Task names for the printout, by task id.
const names = new Map<string, string>();
const nameOf = (r: TaskRecord): string => names.get(r.id) ?? r.id;
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** Prints `head` + `text`, wrapping `text` at spaces (never inside a word) under a hanging indent. */
function print(head: string, text: string, width = 112): void {
  const indent = ' '.repeat(head.length);
  let line = head;
  for (const word of text.split(' ')) {
    if (line.length > head.length && line.length + 1 + word.length > width) {
      console.log(line);
      line = indent + word;
    } else line += (line.length > head.length ? ' ' : '') + word;
  }
  console.log(line);
}

const scheduler = new PriorityScheduler({ concurrency: CONCURRENCY, groups: { db: DB_CAP } });
const ex = new BackgroundExecutor({ scheduler });

console.log('legend: <ms since start>  <event>  <task>  p<priority> [group]  $ <command>');
console.log(`rules:  ${CONCURRENCY} tasks at a time, at most ${DB_CAP} of group "db"; higher priority first, FIFO among equals\n`);

ex.on('task:started', (e) => {
  const r = e.record;
  const group = r.spec.group ? ` [${r.spec.group}]` : '';
  const attempt = e.attempt > 1 ? ` (attempt ${e.attempt})` : '';
  print(`${ms()}  started    ${pad(nameOf(r), 8)} `, `p${r.spec.priority ?? 0}${group}${attempt}  $ ${r.spec.command}`);
  // Say why a task starts while one of higher priority still waits: a group at its cap.
  const running = ex.list({ status: 'running' });
  for (const q of ex.list({ status: 'queued' })) {
    if ((q.spec.priority ?? 0) <= (r.spec.priority ?? 0) || !q.spec.group) continue;
    const holders = running.filter((x) => x.spec.group === q.spec.group && x.id !== r.id);
    const cap = scheduler.groupCap(q.spec.group);
    if (holders.length < cap) continue;
    print(
      `${' '.repeat(10)}  ↳ why      `,
      `${nameOf(q)} (p${q.spec.priority ?? 0}) waits: group "${q.spec.group}" is at its cap of ${cap} ` +
        `(${holders.map(nameOf).join(', ')} running), so the free slot goes to ${nameOf(r)}, the best task allowed to run.`,
    );
  }
});
ex.on('task:retrying', (e) =>
  print(`${ms()}  retrying   ${pad(nameOf(e.record), 8)} `, `attempt ${e.attempt} exited ${e.exitCode}; attempt ${e.attempt + 1} in ${e.delayMs} ms`),
);
ex.on('task:settled', (e) => {
  const r = e.record;
  const how = r.reason === 'timeout' ? `killed by its ${r.spec.timeoutMs} ms timeout (${r.signal})` : `exit ${r.exitCode ?? r.signal}`;
  print(`${ms()}  ${pad(r.status, 10)} ${pad(nameOf(r), 8)} `, how);
});

await ex.start();
// Hold dispatch while we queue, so the priority order is visible.
ex.pause();

async function submit(name: string, spec: Parameters<typeof ex.submit>[0]): Promise<TaskRecord> {
  const r = await ex.submit(spec);
  names.set(r.id, name);
  return r;
}

const low = await submit('low', { command: 'sleep 0.2; echo low priority', priority: 0 });
const high = await submit('high', { command: 'sleep 0.2; echo high priority', priority: 10 });
const migrate = await submit('migrate', { command: 'sleep 0.6; echo migrated', group: 'db', priority: 5 });
const backup = await submit('backup', { command: 'sleep 0.2; echo backed up', group: 'db', priority: 5 });
// Fails twice, then succeeds: each attempt appends a line to a file in its cwd and counts them.
const flaky = await submit('flaky', {
  command: 'echo x >> tries; n=$(wc -l < tries); echo "try $n"; [ $n -ge 3 ]',
  cwd: scratch,
  retry: { attempts: 5, backoff: { type: 'exponential', delayMs: 100 } },
});
// A shell with two sleeps that would run for 100 s; it prints its pids so we can check on them.
const stuck = await submit('stuck', {
  command: 'sleep 100 & a=$!; sleep 100 & echo "pids $$ $a $!"; wait',
  timeoutMs: 300,
  graceMs: 500,
});
// Lots of output, kept on disk, read back by cursor and by tail.
const noisy = await submit('noisy', { command: 'seq 1 100000', priority: -1 });

ex.resume();
await ex.onIdle();

console.log('\nresults:');
for (const t of [high, migrate, low, backup, flaky, stuck, noisy]) {
  const r = ex.get(t.id)!;
  console.log(`  ${pad(nameOf(r), 8)} ${pad(r.status, 10)} attempts=${r.attempt} exit=${r.exitCode ?? r.signal}`);
}

// The timed-out tree. Signal 0 tests whether a pid exists; a zombie (state Z in /proc) still
// does, but it has exited and runs nothing: it only waits for its parent, or PID 1 once its
// parent is gone, to collect its exit status.
function state(pid: number): 'gone' | 'zombie' | 'RUNNING' {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').startsWith('Z') ? 'zombie' : 'RUNNING';
  } catch {
    // On Linux it exited between the two checks; elsewhere there is no /proc to ask.
    return process.platform === 'linux' ? 'gone' : 'RUNNING';
  }
}
const pids = ((await ex.readOutput(stuck.id)).text.match(/pids ([\d ]+)/)?.[1] ?? '').trim().split(' ').map(Number);
const states = pids.map((pid) => ({ pid, state: state(pid) }));
const running = states.filter((s) => s.state === 'RUNNING');
const [shell, ...sleeps] = states.map((s) => `${s.pid} ${s.state}`);
console.log(`\nstuck after its timeout: shell ${shell}; sleeps ${sleeps.join(', ')}`);
console.log(
  pids.length === 3 && running.length === 0
    ? `stuck: the whole tree is dead${states.some((s) => s.state === 'zombie') ? ' (a zombie has exited; it only waits for PID 1 to collect its status)' : ''}`
    : `stuck: NOT ALL DEAD: ${running.map((s) => s.pid).join(', ')}`,
);

const first = await ex.readOutput(noisy.id, { maxBytes: 20 });
console.log(`noisy: ${first.totalBytes} bytes on disk; first 20 bytes: ${JSON.stringify(first.text)}, next cursor ${first.nextCursor}`);
const tail = await ex.readOutput(noisy.id, { tail: 3 });
console.log(`noisy: last 3 lines: ${JSON.stringify(tail.text)}`);
console.log(`flaky: stdout of its last attempt: ${JSON.stringify((await ex.readOutput(flaky.id)).text)}`);
console.log(`metrics: ${JSON.stringify(ex.metrics().counts)}`);

await ex.shutdown();
rmSync(scratch, { recursive: true, force: true });

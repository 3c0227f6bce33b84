// Task input on LocalTransport's attached attempts, driven as a user would (executor.write /
// closeStdin), with real programs: sh `read`, python3 -i, cat, wc, on a pipe and on a terminal,
// through the spawn helper and through direct spawn (spawnHelper: false).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { MAX_STDIN_IN_FLIGHT } from '../../src/runner/stdin-channel.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TaskRecord, TaskSpec } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import { eventually, processesOfTask } from '../proc.js';

let dir: string;
let executors: BackgroundExecutor[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgexec-stdin-local-'));
  executors = [];
});

afterEach(async () => {
  await Promise.all(executors.map((ex) => ex.shutdown({ mode: 'kill', graceMs: 100 })));
  rmSync(dir, { recursive: true, force: true });
});

function make(spawnHelper: boolean): BackgroundExecutor {
  const ex = new BackgroundExecutor({
    transports: { local: new LocalTransport({ root: join(dir, 'runs'), spawnHelper }) },
    scheduler: new PriorityScheduler({ concurrency: 8 }),
  });
  executors.push(ex);
  return ex;
}

async function stdout(ex: BackgroundExecutor, id: string): Promise<string> {
  return (await ex.readOutput(id, { stream: 'stdout', maxBytes: 1 << 20 })).text;
}

/** Waits (bounded) until the task's stdout satisfies `test`; returns it. */
async function outputUntil(ex: BackgroundExecutor, id: string, test: (text: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let text = await stdout(ex, id);
  while (!test(text) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    text = await stdout(ex, id);
  }
  return text;
}

/** Resolves at the task's next `task:input_wanted` (bounded). */
function inputWanted(ex: BackgroundExecutor, id: string, timeoutMs = 15_000): Promise<TaskRecord | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ex.off('task:input_wanted', on);
      resolve(undefined);
    }, timeoutMs);
    const on = (e: { taskId: string }): void => {
      if (e.taskId !== id) return;
      clearTimeout(timer);
      ex.off('task:input_wanted', on);
      resolve(ex.get(id));
    };
    ex.on('task:input_wanted', on);
  });
}

/** Submits and waits until the attempt has started (its handle is known: input can go to it). */
async function runningTask(ex: BackgroundExecutor, spec: TaskSpec): Promise<TaskRecord> {
  const t = await ex.submit(spec);
  expect(await eventually(() => ex.get(t.id)?.status === 'running' && ex.get(t.id)?.handle !== undefined, 10_000)).toBe(true);
  return t;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe.each([
  ['the spawn helper', true],
  ['direct spawn', false],
])('task input through %s', (_name, spawnHelper) => {
  it('answers `read` prompts of sh one by one, and says when the task waits for input', async () => {
    const ex = make(spawnHelper);
    const wanted: string[] = [];
    ex.on('task:input_wanted', (e) => wanted.push(e.taskId));
    const t = await runningTask(ex, {
      command: 'printf "name? "; read name; printf "age? "; read age; echo "hello $name, $age"',
      stdin: 'pipe',
    });
    expect((await inputWanted(ex, t.id))?.awaitingInput).toBe(true);
    expect(await stdout(ex, t.id)).toBe('name? ');
    await ex.write(t.id, 'Ada\n');
    expect(await outputUntil(ex, t.id, (s) => s.endsWith('age? '))).toBe('name? age? ');
    // The write cleared the flag; the next prompt raises it again.
    expect((await inputWanted(ex, t.id))?.awaitingInput).toBe(true);
    await ex.write(t.id, '36\n');
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(await stdout(ex, t.id)).toBe('name? age? hello Ada, 36\n');
    expect(done.awaitingInput).toBeUndefined();
    expect(wanted.filter((w) => w === t.id).length).toBeGreaterThanOrEqual(2);
  });

  it('drives python3 -i through a few exchanges on a pipe', async () => {
    const ex = make(spawnHelper);
    const t = await runningTask(ex, { command: 'python3', args: ['-i', '-q', '-u'], stdin: 'pipe' });
    expect(await inputWanted(ex, t.id)).toBeDefined();
    await ex.write(t.id, 'x = 6\n');
    await ex.write(t.id, 'print(x * 7)\n');
    expect(await outputUntil(ex, t.id, (s) => s.includes('42\n'))).toBe('42\n');
    await ex.write(t.id, 'import os; print("isatty", os.isatty(0))\n');
    expect(await outputUntil(ex, t.id, (s) => s.includes('isatty'))).toBe('42\nisatty False\n');
    expect(await inputWanted(ex, t.id)).toBeDefined();
    await ex.closeStdin(t.id);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
  });

  it('drives python3 -i on a terminal: prompts, echo and isatty as in a terminal', async () => {
    const ex = make(spawnHelper);
    const t = await runningTask(ex, { command: 'python3', args: ['-i', '-q'], stdin: 'pipe', tty: true });
    expect(await inputWanted(ex, t.id)).toBeDefined();
    expect(await outputUntil(ex, t.id, (s) => s.endsWith('>>> '))).toBe('>>> ');
    await ex.write(t.id, 'import os; print(os.isatty(0), os.isatty(1), os.get_terminal_size())\n');
    const text = await outputUntil(ex, t.id, (s) => s.includes('columns'));
    expect(text).toContain('True True os.terminal_size(columns=80, lines=24)\r\n');
    expect(await inputWanted(ex, t.id)).toBeDefined();
    await ex.write(t.id, 'print(6 * 7)\n');
    expect(await outputUntil(ex, t.id, (s) => s.includes('\r\n42\r\n>>> '))).toContain('print(6 * 7)\r\n42\r\n>>> ');
    await ex.write(t.id, 'exit(3)\n');
    const done = await ex.wait(t.id);
    expect(done.exitCode).toBe(3);
  });

  it('echoes a 10 MB stream written in chunks through cat byte-exact, never over the in-flight cap', async () => {
    const ex = make(spawnHelper);
    const data = randomBytes(10 * 1024 * 1024);
    const t = await runningTask(ex, { command: 'cat', stdin: 'pipe' });
    const chunk = 256 * 1024;
    const inFlight: Promise<void>[] = [];
    let refused = 0;
    for (let off = 0; off < data.length; off += chunk) {
      // At most 1 MiB waits at any moment: a write is made only after an earlier one landed.
      if (inFlight.length * chunk >= MAX_STDIN_IN_FLIGHT) await inFlight.shift();
      inFlight.push(ex.write(t.id, data.subarray(off, off + chunk)));
      if (inFlight.length * chunk === MAX_STDIN_IN_FLIGHT) {
        // At the cap a further byte is refused at once (nothing of it is delivered).
        await ex.write(t.id, 'X').catch((e: { code?: string }) => {
          expect(e.code).toBe('STDIN_FULL');
          refused++;
        });
      }
    }
    await Promise.all(inFlight);
    await ex.closeStdin(t.id);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(done.stdoutBytes).toBe(data.length);
    const out = readFileSync(join(String(done.handle!.runDir), 'out'));
    expect(sha256(out)).toBe(sha256(data));
    expect(refused).toBeGreaterThan(0);
  });

  it('delivers end-of-file only on closeStdin: wc -c prints its count after the close', async () => {
    const ex = make(spawnHelper);
    // After wc, the task waits for a gate file (bounded: 60 s), so that it is still running when
    // the write after the close is made; without it, a loaded machine may see the task end first
    // (TASK_NOT_RUNNING, also right, but not what this checks).
    const gate = join(dir, 'gate');
    const command = `wc -c; i=0; while [ ! -e '${gate}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`;
    const t = await runningTask(ex, { command, stdin: 'pipe' });
    await ex.write(t.id, 'hello');
    await ex.write(t.id, ' world');
    // wc is blocked reading: nothing printed, and it does not end between writes.
    expect(await inputWanted(ex, t.id)).toBeDefined();
    expect(await stdout(ex, t.id)).toBe('');
    expect(ex.get(t.id)?.status).toBe('running');
    await ex.closeStdin(t.id);
    await expect(ex.write(t.id, 'more')).rejects.toMatchObject({ code: 'STDIN_CLOSED' });
    writeFileSync(gate, '');
    const done = await ex.wait(t.id);
    expect((await stdout(ex, t.id)).trim()).toBe('11');
    expect(done.status).toBe('completed');
    await expect(ex.write(t.id, 'late')).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
  });

  it('reports STDIN_CLOSED for a write after a close that reached the transport, and TASK_NOT_RUNNING once ended', async () => {
    const ex = make(spawnHelper);
    // The task outlives the close of its input: only the transport can tell that the input is shut.
    const t = await runningTask(ex, { command: 'cat >/dev/null; echo closed; read _ </dev/null; sleep 30', stdin: 'pipe' });
    await ex.write(t.id, 'abc\n');
    await ex.closeStdin(t.id);
    expect(await outputUntil(ex, t.id, (s) => s === 'closed\n')).toBe('closed\n');
    await expect(ex.write(t.id, 'x')).rejects.toMatchObject({ code: 'STDIN_CLOSED' });
    await ex.cancel(t.id, { graceMs: 100 });
    await ex.wait(t.id);
    await expect(ex.write(t.id, 'x')).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    // Nothing of the attempt is left: no holder of its input either.
    expect(await eventually(() => processesOfTask(t.id).length === 0)).toBe(true);
  });

  it('runs a tty task on a terminal of the asked size, stdout and stderr merged', async () => {
    const ex = make(spawnHelper);
    const t = await ex.submit({
      command: 'test -t 0 && test -t 1 && test -t 2 && echo on-a-tty; stty size; echo to-stderr >&2; exit 5',
      tty: { cols: 132, rows: 43 },
    });
    const done = await ex.wait(t.id);
    expect(done.exitCode).toBe(5);
    expect(await stdout(ex, t.id)).toBe('on-a-tty\r\n43 132\r\nto-stderr\r\n');
    expect(done.stderrBytes).toBe(0);
    const py = await ex.submit({ command: 'python3', args: ['-c', 'import os,sys; print(os.isatty(0), os.isatty(1), sys.stdin.read() == "")'], tty: true });
    expect((await ex.wait(py.id)).status).toBe('completed');
    // Without input the terminal reads end-of-file: the program is not killed by it.
    expect(await stdout(ex, py.id)).toBe('True True True\r\n');
  });

  it('feeds a terminal from the pipe; closing the input is end-of-file on the terminal, not a kill', async () => {
    const ex = make(spawnHelper);
    const t = await runningTask(ex, { command: 'cat; echo "cat ended $?"', stdin: 'pipe', tty: true });
    await ex.write(t.id, 'abc\n');
    // The terminal echoes the line, then cat prints it.
    expect(await outputUntil(ex, t.id, (s) => s === 'abc\r\nabc\r\n')).toBe('abc\r\nabc\r\n');
    await ex.closeStdin(t.id);
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(await stdout(ex, t.id)).toBe('abc\r\nabc\r\ncat ended 0\r\n');
  });

  it('cancels a tty task: the program under the terminal ends too', async () => {
    const ex = make(spawnHelper);
    const t = await runningTask(ex, { command: 'echo started; sleep 60', stdin: 'pipe', tty: true });
    expect(await outputUntil(ex, t.id, (s) => s.includes('started'))).toContain('started\r\n');
    // A long grace: the kill's first signal alone must end it (script's own TERM handling would
    // hold the end back 2 s and report exit code 0).
    const cancelled = await ex.cancel(t.id, { graceMs: 20_000 });
    const done = await ex.wait(cancelled.id);
    expect(done.status).toBe('cancelled');
    expect(done.signal).toBe('SIGTERM');
    expect(await eventually(() => processesOfTask(t.id).length === 0)).toBe(true);
  });

  it('reads input given up front byte-exact: a string, and bytes with NUL and invalid UTF-8', async () => {
    const ex = make(spawnHelper);
    const text = 'héllo\n"quotes" $HOME `x` \\\nno newline at the end';
    const s = await ex.submit({ command: 'od -An -tx1 -v', stdin: text });
    const bytes = new Uint8Array([0, 1, 0xff, 0xfe, 0xc3, 0x28, 10, 0, 0x80]);
    const b = await ex.submit({ command: 'od', args: ['-An', '-tx1', '-v'], stdin: bytes });
    const hex = (buf: Uint8Array): string => Buffer.from(buf).toString('hex');
    const dumped = async (id: string): Promise<string> => {
      expect((await ex.wait(id)).status).toBe('completed');
      return (await stdout(ex, id)).replace(/\s+/g, '');
    };
    expect(await dumped(s.id)).toBe(hex(Buffer.from(text)));
    expect(await dumped(b.id)).toBe(hex(bytes));
    // Up to the 1 MiB that may be given up front.
    const big = randomBytes(1024 * 1024);
    const m = await ex.submit({ command: 'sha256sum', stdin: big });
    expect((await ex.wait(m.id)).status).toBe('completed');
    expect((await stdout(ex, m.id)).split(' ')[0]).toBe(sha256(big));
    // Up front on a terminal: read from it (echoed), then end-of-file.
    const tt = await ex.submit({ command: 'read a; read b; echo "[$a|$b]"; cat; echo done', stdin: 'one\ntwo\n', tty: true });
    expect((await ex.wait(tt.id)).status).toBe('completed');
    expect(await stdout(ex, tt.id)).toContain('[one|two]\r\ndone\r\n');
  });

  it('flags `read x` as waiting for input and never a task that only sleeps', async () => {
    const ex = make(spawnHelper);
    const flagged = new Set<string>();
    ex.on('task:input_wanted', (e) => flagged.add(e.taskId));
    const sleeper = await runningTask(ex, { command: 'sleep 30; echo woke', stdin: 'pipe' });
    const bare = await runningTask(ex, { command: 'sleep', args: ['30'], stdin: 'pipe' });
    const ttySleeper = await runningTask(ex, { command: 'sleep 30', stdin: 'pipe', tty: true });
    const reader = await runningTask(ex, { command: 'read x; echo "got $x"', stdin: 'pipe' });
    expect(await inputWanted(ex, reader.id)).toBeDefined();
    // The sleepers were polled as often as the reader by then; give them a few more looks.
    const polls = 8;
    await new Promise((r) => setTimeout(r, polls * 100));
    for (const s of [sleeper, bare, ttySleeper]) {
      expect(ex.get(s.id)?.status).toBe('running');
      expect(ex.get(s.id)?.awaitingInput).toBeUndefined();
      expect(flagged.has(s.id)).toBe(false);
    }
    await ex.write(reader.id, 'it\n');
    expect((await ex.wait(reader.id)).status).toBe('completed');
    expect(await stdout(ex, reader.id)).toBe('got it\n');
  });

  it('gives a retried attempt fresh input: what attempt 1 left unread never reaches attempt 2', async () => {
    const ex = make(spawnHelper);
    const t = await runningTask(ex, {
      command: 'read x; echo "attempt $BGEXEC_ATTEMPT got $x"; [ "$BGEXEC_ATTEMPT" = 2 ]',
      stdin: 'pipe',
      retry: { attempts: 2 },
    });
    await ex.write(t.id, 'one\ntwo\n');
    expect(await eventually(() => ex.get(t.id)?.attempt === 2 && ex.get(t.id)?.status === 'running' && ex.get(t.id)?.handle?.attempt === 2, 15_000)).toBe(true);
    await ex.write(t.id, 'three\n');
    const done = await ex.wait(t.id);
    expect(done.status).toBe('completed');
    expect(await stdout(ex, t.id)).toBe('attempt 2 got three\n');
    // Input given up front is given again, whole, to each attempt.
    const u = await ex.submit({ command: 'cat; [ "$BGEXEC_ATTEMPT" = 2 ]', stdin: 'abc', retry: { attempts: 2 } });
    const second = await ex.wait(u.id);
    expect(second.attempt).toBe(2);
    expect(second.status).toBe('completed');
    expect(await stdout(ex, u.id)).toBe('abc');
  });
});

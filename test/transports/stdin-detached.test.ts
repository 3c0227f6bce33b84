// Task input of detached local attempts, which run under the job-protocol wrapper: the FIFO `in`
// and its holder are the wrapper's, so the input outlives the executor process (a task keeps
// its input open across an executor SIGKILL and restart, and the restarted executor's writes
// reach it), input given up front and terminals work as for attached attempts, and the holder
// ends with the attempt without holding back its output.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import { alive, eventually, processesOfTask } from '../proc.js';
import { child, onCleanup, openExecutor, runCleanups, sigkill, tempDir } from '../recovery/_helpers.js';

afterEach(runCleanups);

function transport(): LocalTransport {
  const t = new LocalTransport({ root: join(tempDir('bgexec-stdin-detached-'), 'runs') });
  onCleanup(() => t.close());
  return t;
}

const outOf = (h: TransportHandle): string => readFileSync(join(h.runDir!, 'out'), 'utf8');
const holderOf = (h: TransportHandle): number => Number(readFileSync(join(h.runDir!, 'in.pid'), 'utf8'));
describe('detached local attempts with input', () => {
  it('answer a read prompt through the FIFO the wrapper holds open, across separate writes', async () => {
    const t = transport();
    const h = await t.start({ taskId: 'prompt', attempt: 1, command: 'printf "name? "; read n; echo "hello $n"; cat; echo end', detached: true, stdin: 'pipe', maxOutputBytes: 1 << 20 });
    expect(await eventually(() => outOf(h) === 'name? ', 20_000)).toBe(true);
    // The wrapper's holder, marked with the run directory, not a process of the command's.
    const holder = holderOf(h);
    expect(readFileSync(`/proc/${holder}/environ`, 'latin1').split('\0')).toContain(`BGEXEC_STDIN_HOLDER=${h.runDir!}`);
    await t.writeStdin(h, Buffer.from('world\n'));
    await t.writeStdin(h, Buffer.from('one '));
    // A writer closing its end between writes is no end of file for the task.
    await t.writeStdin(h, Buffer.from('two\n'));
    expect(await eventually(() => outOf(h) === 'name? hello world\none two\n', 20_000)).toBe(true);
    await t.closeStdin(h);
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(outOf(h)).toBe('name? hello world\none two\nend\n');
    expect(alive(holder)).toBe(false);
  });

  it('end the holder with the attempt: a task that never reads its input exits, and its output is complete', async () => {
    const t = transport();
    // With a cap the output goes through the copiers' FIFOs, which the holder must not hold open.
    const h = await t.start({ taskId: 'noread', attempt: 1, command: 'echo out; echo err >&2; exit 4', detached: true, stdin: 'pipe', maxOutputBytes: 1000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 4 });
    expect(outOf(h)).toBe('out\n');
    expect(readFileSync(join(h.runDir!, 'err'), 'utf8')).toBe('err\n');
    expect(alive(holderOf(h))).toBe(false);
    expect(processesOfTask('noread')).toEqual([]);
  });

  it('end the holder with a kill of the attempt', async () => {
    const t = transport();
    const h = await t.start({ taskId: 'killed', attempt: 1, command: 'exec sleep 60', detached: true, stdin: 'pipe' });
    const holder = holderOf(h);
    expect(alive(holder)).toBe(true);
    await t.kill(h, { graceMs: 2000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', signal: 'SIGTERM' });
    expect(alive(holder)).toBe(false);
  });

  it('read input given up front, byte-exact, then end of file', async () => {
    const t = transport();
    const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const h = await t.start({ taskId: 'upfront', attempt: 1, command: 'cat; echo "[eof]"', detached: true, stdin: data });
    expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(h.runDir!, 'out')).equals(Buffer.concat([data, Buffer.from('[eof]\n')]))).toBe(true);
  });

  it('run on a terminal of the asked size (args form too), with the caller\'s SHELL and exit code', async () => {
    const t = transport();
    const h = await t.start({
      taskId: 'tty', attempt: 1, command: 'test -t 0 && test -t 1 && echo "tty yes"; stty size; echo "shell=$SHELL"; exit 3',
      detached: true, tty: { cols: 120, rows: 40 }, env: { SHELL: '/bin/false-shell' },
    });
    expect(await t.wait(h)).toMatchObject({ exitCode: 3 });
    expect(outOf(h)).toBe('tty yes\r\n40 120\r\nshell=/bin/false-shell\r\n');
    const a = await t.start({ taskId: 'ttyargs', attempt: 1, command: 'sh', args: ['-c', 'test -t 0 && printf "%s|" "$@"', 'sh', "it's", 'a b'], detached: true, tty: { cols: 80, rows: 24 } });
    expect(await t.wait(a)).toMatchObject({ exitCode: 0 });
    expect(outOf(a)).toBe("it's|a b|");
  });

  it('on a terminal, are killed whole: the command in the terminal\'s session, its children, the holder', async () => {
    const t = transport();
    const h = await t.start({ taskId: 'ttykill', attempt: 1, command: 'sleep 60 & echo started; wait', detached: true, stdin: 'pipe', tty: { cols: 80, rows: 24 } });
    expect(await eventually(() => outOf(h) === 'started\r\n', 20_000)).toBe(true);
    const holder = holderOf(h);
    await t.kill(h, { graceMs: 2000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', signal: 'SIGTERM' });
    // `script` took no TERM of its own: nothing of it in the output.
    expect(outOf(h)).toBe('started\r\n');
    expect(await eventually(() => processesOfTask('ttykill').length === 0, 20_000)).toBe(true);
    expect(alive(holder)).toBe(false);
  });

  it('feed a terminal from the pipe; closing the input is end of file on the terminal, not a kill', async () => {
    const t = transport();
    const h = await t.start({ taskId: 'ttypipe', attempt: 1, command: 'stty -echo; echo ready; read a; echo "got [$a]"; cat >/dev/null; echo "after eof"', detached: true, stdin: 'pipe', tty: { cols: 80, rows: 24 } });
    // Typed once echo is off (typeahead would be echoed, as on any terminal).
    expect(await eventually(() => outOf(h) === 'ready\r\n', 20_000)).toBe(true);
    await t.writeStdin(h, Buffer.from('typed\n'));
    expect(await eventually(() => outOf(h) === 'ready\r\ngot [typed]\r\n', 20_000)).toBe(true);
    await t.closeStdin(h);
    expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
    expect(outOf(h)).toBe('ready\r\ngot [typed]\r\nafter eof\r\n');
  });

  it('keep their input open across an executor SIGKILL; the restarted executor writes to them', async () => {
    const dir = tempDir();
    const command = 'read a; echo "a=$a"; cat; echo end';
    const proc = child('./_executor-child.ts', [dir, JSON.stringify([{ command, detached: true, stdin: 'pipe' }])]);
    const id = (await proc.waitFor((l) => l.startsWith('submitted 0 '))).split(' ')[2]!;
    await proc.waitFor((l) => l.startsWith(`started ${id} `));
    await sigkill(proc);
    // The task still runs and still waits: its input was not closed by the executor's death.
    expect(processesOfTask(id).length).toBeGreaterThan(0);
    const { ex } = openExecutor(dir);
    await ex.start();
    expect(ex.get(id)?.status).toBe('running');
    await ex.write(id, 'after restart\n');
    await ex.write(id, 'more\n');
    await ex.closeStdin(id);
    expect(await ex.wait(id, { timeoutMs: 20_000 })).toMatchObject({ status: 'completed', exitCode: 0, attempt: 1 });
    expect((await ex.readOutput(id)).text).toBe('a=after restart\nmore\nend\n');
    const runDir = ex.get(id)!.handle!.runDir!;
    expect(existsSync(join(runDir, 'in'))).toBe(true);
  });
});

// Task input over SSH: bytes written through the transport reach the remote task's stdin (one
// call per chunk over the shared connection), the input is closed on request, a terminal is a
// terminal, input given up front arrives byte-exact, and the poll says when every process of
// an attempt waits for input (and not for a task that only sleeps).
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TransportHandle } from '../../src/task.js';
import type { SshTransport } from '../../src/transports/ssh/ssh-transport.js';
import { pidsOfTask } from '../harness/procs.js';
import { shellUnavailable } from '../harness/sshd.js';
import { contractTaskId } from './_contract.js';
import { q } from './_shell.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

// Polls until `check` holds, at most `ms` (a bound on a failure, not a timing assertion).
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Processes named base64 blocked writing into a pipe (the write script's decoder, on this host).
function blockedWriters(): number {
  let n = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'base64' && /pipe_write/.test(readFileSync(`/proc/${pid}/wchan`, 'utf8'))) n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

async function stdoutOf(t: SshTransport, h: TransportHandle): Promise<string> {
  const p = await t.poll(h);
  return (await t.read(h, 'stdout', 0, p.stdoutBytes)).data.toString('utf8');
}

if (skipReason !== undefined) describeSkipped('SshTransport stdin');
else {
  describe('SshTransport stdin', () => {
    it('answers a read prompt; the poll says the task waits for input before the answer, not after', async () => {
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'printf "name? "; read n; echo "hello $n"; read m; echo "bye $m"', detached: false, stdin: 'pipe' });
        await until('the prompt', async () => (await stdoutOf(t, h)) === 'name? ');
        await until('awaitingInput', async () => (await t.poll(h)).awaitingInput === true);
        await t.writeStdin(h, Buffer.from('world\n'));
        expect((await t.poll(h)).awaitingInput).toBe(false);
        await until('the reply', async () => (await stdoutOf(t, h)) === 'name? hello world\n');
        await t.writeStdin(h, Buffer.from('now\n'));
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        expect(await stdoutOf(t, h)).toBe('name? hello world\nbye now\n');
        await expect(t.writeStdin(h, Buffer.from('late\n'))).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
        await t.closeStdin(h);
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('echoes 3 MiB of random bytes written in chunks through cat, byte-exact, and ends it with closeStdin', async () => {
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'cat; echo "eof:$?" >&2', detached: false, stdin: 'pipe' });
        const data = randomBytes(3 << 20);
        // Uneven chunks, some past the transport's per-call chunk, as the executor may hand them over.
        for (let off = 0, i = 0; off < data.length; i++) {
          const n = Math.min(data.length - off, [100_000, 700_000, 4096, 1 << 20][i % 4]!);
          await t.writeStdin(h, data.subarray(off, off + n));
          off += n;
        }
        await t.closeStdin(h);
        await t.closeStdin(h);
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        const p = await t.poll(h);
        expect(p.stdoutBytes).toBe(data.length);
        expect(sha((await t.read(h, 'stdout', 0, data.length)).data)).toBe(sha(data));
        expect((await t.read(h, 'stderr', 0, 100)).data.toString()).toBe('eof:0\n');
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('refuses writes after closeStdin with STDIN_CLOSED while the task still runs', async () => {
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'cat; echo "eof"; exec sleep 60', detached: false, stdin: 'pipe' });
        await t.writeStdin(h, Buffer.from('abc'));
        await t.closeStdin(h);
        await until('end of file seen', async () => (await stdoutOf(t, h)) === 'abceof\n');
        await expect(t.writeStdin(h, Buffer.from('more\n'))).rejects.toMatchObject({ code: 'STDIN_CLOSED' });
        expect((await t.poll(h)).state).toBe('running');
        await t.kill(h, { graceMs: 500 });
        expect(await t.wait(h)).toMatchObject({ state: 'exited' });
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('a write blocked on a task that does not read fails with TASK_NOT_RUNNING once the task ends, instead of hanging', async () => {
      const gateDir = mkdtempSync(join(tmpdir(), 'bgexec-stdin-gate-'));
      chmodSync(gateDir, 0o777);
      const t = sshTransport(await sshd());
      try {
        const gate = join(gateDir, 'go');
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: `while [ ! -e ${q(gate)} ]; do sleep 0.05; done; echo done`, detached: false, stdin: 'pipe' });
        // More than the pipe holds: the write waits for a reader that never reads.
        const write = t.writeStdin(h, randomBytes(1 << 20));
        const outcome = write.then(() => 'resolved', (e: unknown) => e);
        // The remote writer (`base64 -d` into the FIFO) is blocked on the full pipe before the task may end.
        await until('the remote writer to block', async () => blockedWriters() > 0);
        writeFileSync(gate, '');
        expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
        expect(await outcome).toMatchObject({ code: 'TASK_NOT_RUNNING' });
        await t.cleanup(h);
      } finally {
        await t.close();
        rmSync(gateDir, { recursive: true, force: true });
      }
    });

    it('runs a task on a terminal of the asked size, exit code passed through, args form included', async () => {
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'test -t 0 && test -t 1 && echo "tty yes"; stty size; echo "to stderr" >&2; exit 7', detached: false, tty: { cols: 100, rows: 30 } });
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 7 });
        // A terminal turns \n into \r\n, and stderr shares the terminal with stdout.
        expect(await stdoutOf(t, h)).toBe('tty yes\r\n30 100\r\nto stderr\r\n');
        const a = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'sh', args: ['-c', 'test -t 0 && printf "%s|" "$@"', 'sh', "it's", 'a b', '$HOME'], detached: false, tty: { cols: 80, rows: 24 } });
        expect(await t.wait(a)).toMatchObject({ exitCode: 0 });
        expect(await stdoutOf(t, a)).toBe("it's|a b|$HOME|");
        await t.cleanup(h);
        await t.cleanup(a);
      } finally {
        await t.close();
      }
    });

    it('kills a terminal task whole, with its status and nothing of the terminal relay in its output', async () => {
      const t = sshTransport(await sshd());
      try {
        const id = contractTaskId();
        const h = await t.start({ taskId: id, attempt: 1, command: 'sleep 60 & echo started; wait', detached: false, stdin: 'pipe', tty: { cols: 80, rows: 24 } });
        await until('the start', async () => (await stdoutOf(t, h)) === 'started\r\n');
        await t.kill(h, { graceMs: 3000 });
        expect(await t.wait(h)).toMatchObject({ state: 'exited', signal: 'SIGTERM' });
        expect(await stdoutOf(t, h)).toBe('started\r\n');
        await until('no process of the task left', async () => pidsOfTask(id).length === 0);
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('feeds a terminal task from the pipe, and end of input reaches it as end of file', async () => {
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'stty -echo; read a; echo "got [$a]"; cat >/dev/null; echo done', detached: false, stdin: 'pipe', tty: { cols: 80, rows: 24 } });
        await until('awaitingInput on the terminal', async () => (await t.poll(h)).awaitingInput === true);
        await t.writeStdin(h, Buffer.from('typed\n'));
        await until('the reply', async () => (await stdoutOf(t, h)) === 'got [typed]\r\n');
        await t.closeStdin(h);
        expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
        expect(await stdoutOf(t, h)).toBe('got [typed]\r\ndone\r\n');
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('delivers input given up front byte-exact (every byte value), then end of file', async () => {
      const t = sshTransport(await sshd());
      try {
        const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(200_000)]);
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'cat', detached: false, stdin: data });
        expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
        expect(sha((await t.read(h, 'stdout', 0, data.length + 1)).data)).toBe(sha(data));
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('says a task waits for input only when it does: not for sleep, nor for a read of another pipe', async () => {
      const t = sshTransport(await sshd());
      try {
        const reader = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'read x; echo "$x"', detached: false, stdin: 'pipe' });
        const sleeper = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'sleep 60', detached: false, stdin: 'pipe' });
        // cat blocks reading the FIFO f (its fd 4), with the input pipe as its fd 0: not a read of its input.
        const other = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'cd "$(mktemp -d)" && mkfifo f && exec 3<>f && exec cat f', detached: false, stdin: 'pipe' });
        // One poll round covers every attempt: once the reader is seen waiting twice, the others were looked at as often.
        await until('the reader to wait', async () => (await t.poll(reader)).awaitingInput === true);
        await until('one more round', async () => (await t.poll(reader)).awaitingInput === true);
        expect((await t.poll(sleeper)).awaitingInput).toBe(false);
        expect((await t.poll(other)).awaitingInput).toBe(false);
        await t.writeStdin(reader, Buffer.from('x\n'));
        expect(await t.wait(reader)).toMatchObject({ exitCode: 0 });
        for (const h of [sleeper, other]) await t.kill(h, { graceMs: 500 });
        for (const h of [reader, sleeper, other]) await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('a new transport instance (a restarted executor) writes to and closes an attempt started by another', async () => {
      const s = await sshd();
      const first = sshTransport(s);
      const h = await first.start({ taskId: contractTaskId(), attempt: 1, command: 'read a; echo "a=$a"; cat; echo end', detached: true, stdin: 'pipe' });
      await first.writeStdin(h, Buffer.from('one\n'));
      await first.close();
      const second = sshTransport(s);
      try {
        await second.writeStdin(h, Buffer.from('two\n'));
        await second.closeStdin(h);
        expect(await second.wait(h)).toMatchObject({ exitCode: 0 });
        expect(await stdoutOf(second, h)).toBe('a=one\ntwo\nend\n');
        await second.cleanup(h);
      } finally {
        await second.close();
      }
    });

    for (const shell of ['dash', 'bash', 'busybox'] as const) {
      const missing = shellUnavailable(shell);
      const title = `with ${shell} as the remote sh: prompt answered after awaitingInput, terminal, input given up front`;
      (missing === undefined ? it : it.skip)(missing === undefined ? title : `${title} (${missing})`, async () => {
        const t = sshTransport(await sshd(), { shell });
        try {
          const p = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'printf "q? "; read a; echo "a=$a"', detached: false, stdin: 'pipe' });
          const y = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'test -t 0 && echo tty', detached: false, tty: { cols: 80, rows: 24 } });
          const d = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'cat', detached: false, stdin: Buffer.from("it's\n$HOME\n") });
          await until('awaitingInput', async () => (await t.poll(p)).awaitingInput === true);
          await t.writeStdin(p, Buffer.from('yes\n'));
          for (const h of [p, y, d]) expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
          expect(await stdoutOf(t, p)).toBe('q? a=yes\n');
          expect(await stdoutOf(t, y)).toBe('tty\r\n');
          expect(await stdoutOf(t, d)).toBe("it's\n$HOME\n");
          for (const h of [p, y, d]) await t.cleanup(h);
        } finally {
          await t.close();
        }
      });
    }

    // The remote user's PATH is the system's: a python3 of the local user (pyenv) does not count.
    (['/usr/bin/python3', '/usr/local/bin/python3'].some((f) => existsSync(f)) ? it : it.skip)('drives python3 -i through a few exchanges, on a pipe and on a terminal (waits seen in read and in select)', async () => {
      const t = sshTransport(await sshd());
      try {
        const p = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'python3', args: ['-u', '-q', '-i'], detached: false, stdin: 'pipe' });
        await until('the REPL to wait', async () => (await t.poll(p)).awaitingInput === true);
        await t.writeStdin(p, Buffer.from('x = 6 * 7\nprint(x)\n'));
        await until('42', async () => (await stdoutOf(t, p)) === '42\n');
        await until('the REPL to wait again', async () => (await t.poll(p)).awaitingInput === true);
        await t.writeStdin(p, Buffer.from('print(x + 1)\n'));
        await until('43', async () => (await stdoutOf(t, p)) === '42\n43\n');
        await t.closeStdin(p);
        expect(await t.wait(p)).toMatchObject({ exitCode: 0 });

        // On a terminal the REPL waits in select(), with its prompt and echo on the terminal.
        const y = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'python3 -q', detached: false, stdin: 'pipe', tty: { cols: 80, rows: 24 } });
        await until('the prompt', async () => (await stdoutOf(t, y)).endsWith('>>> '));
        await until('the terminal REPL to wait', async () => (await t.poll(y)).awaitingInput === true);
        await t.writeStdin(y, Buffer.from('print(2 ** 10)\n'));
        await until('1024', async () => (await stdoutOf(t, y)).includes('1024\r\n>>> '));
        await t.writeStdin(y, Buffer.from('exit(5)\n'));
        expect(await t.wait(y)).toMatchObject({ exitCode: 5 });
        for (const h of [p, y]) await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    // Input read on another descriptor than fd 0: the terminal through /dev/tty, a duplicate of the FIFO.
    (['/usr/bin/python3', '/usr/local/bin/python3'].some((f) => existsSync(f)) ? it : it.skip)('sees a wait for input on /dev/tty (getpass) and on a duplicate of a closed fd 0, not on a pipe of its own', async () => {
      const t = sshTransport(await sshd());
      try {
        const tty = { cols: 80, rows: 24 };
        const getpass = await t.start({ taskId: contractTaskId(), attempt: 1, command: `python3 -c 'import getpass; print("got=" + getpass.getpass("Password: "))'`, detached: false, stdin: 'pipe', tty });
        const devTty = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'printf "pw: "; read x </dev/tty; echo "got=$x"', detached: false, stdin: 'pipe', tty });
        const dup = await t.start({ taskId: contractTaskId(), attempt: 1, command: `python3 -c 'import os; fd = os.dup(0); os.close(0); print("got=" + os.read(fd, 100).decode(), end="")'`, detached: false, stdin: 'pipe' });
        const ownPipe = await t.start({ taskId: contractTaskId(), attempt: 1, command: `python3 -c 'import os; r, w = os.pipe(); os.read(r, 1)'`, detached: false, stdin: 'pipe' });
        for (const [h, input] of [[getpass, 'secret\n'], [devTty, 'abc\n'], [dup, 'dup\n']] as const) {
          await until('the task to wait for input', async () => (await t.poll(h)).awaitingInput === true);
          await t.writeStdin(h, Buffer.from(input));
          expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        }
        expect(await stdoutOf(t, getpass)).toMatch(/Password: .*got=secret/s);
        expect(await stdoutOf(t, devTty)).toMatch(/got=abc/);
        expect(await stdoutOf(t, dup)).toBe('got=dup\n');
        // Many poll rounds went by while the others waited: ownPipe was looked at in each.
        for (let i = 0; i < 3; i++) expect((await t.poll(ownPipe)).awaitingInput).toBe(false);
        await t.kill(ownPipe, { graceMs: 500 });
        for (const h of [getpass, devTty, dup, ownPipe]) await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('through the executor: task:input_wanted, then write() answers the prompt', async () => {
      const ex = new BackgroundExecutor({ transports: { box: sshTransport(await sshd()) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
      await ex.start();
      try {
        const wanted = new Promise<string>((resolve) => ex.on('task:input_wanted', (e) => resolve(e.record.id)));
        const rec = await ex.submit({ command: 'printf "pin? "; read p; echo "pin=$p"', transport: 'box', stdin: 'pipe' });
        expect(await wanted).toBe(rec.id);
        expect(ex.get(rec.id)?.awaitingInput).toBe(true);
        await ex.write(rec.id, '1234\n');
        expect(await ex.wait(rec.id)).toMatchObject({ status: 'completed', exitCode: 0 });
        expect((await ex.readOutput(rec.id)).text).toBe('pin? pin=1234\n');
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });
  });
}

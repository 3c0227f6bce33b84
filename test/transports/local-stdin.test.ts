// LocalTransport's input side at the transport level: the run-directory protocol (FIFO `in`,
// holder `in.pid`) used by another instance, the holder's lifetime, writes that wait on a full
// pipe without blocking the event loop, the waiting-for-input look, and the helper's frames.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StdinError } from '../../src/errors.js';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import { startFrame } from '../../src/transports/spawn-helper/protocol.js';
import { newRoot, newTransport, pidsOfTask, readAll, registerCleanup, req, transports, until } from './_local-fixture.js';

registerCleanup();

const helperPid = (t: LocalTransport): number | undefined => (t as unknown as { helper?: { helperPid?: number } }).helper?.helperPid;
const holderPid = (h: TransportHandle): number => Number(readFileSync(join(String(h.runDir), 'in.pid'), 'latin1').trim());
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function transport(spawnHelper: boolean, root = newRoot()): LocalTransport {
  const t = new LocalTransport({ root, spawnHelper });
  transports.push(t);
  return t;
}

describe.each([
  ['the spawn helper', true],
  ['direct spawn', false],
])('LocalTransport input through %s', (_name, spawnHelper) => {
  it('lets another instance (an executor restarted) write and close through the run directory', async () => {
    const root = newRoot();
    const a = transport(spawnHelper, root);
    const h = await a.start(req('while read x; do echo "got $x"; done; echo eof', { stdin: 'pipe' }));
    expect(h.stdin).toBe('pipe');
    const b = transport(spawnHelper, root);
    await b.writeStdin(h, Buffer.from('one\n'));
    await a.writeStdin(h, Buffer.from('two\n'));
    await until(async () => (await readAll(a, h, 'stdout')).toString() === 'got one\ngot two\n', 'both lines');
    await b.closeStdin(h);
    expect((await a.wait(h)).exitCode).toBe(0);
    expect((await readAll(a, h, 'stdout')).toString()).toBe('got one\ngot two\neof\n');
    await expect(b.writeStdin(h, Buffer.from('x'))).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
  });

  it('ends the input with the leader: the holder is gone once the attempt has ended', async () => {
    const t = transport(spawnHelper);
    const h = await t.start(req('read x; echo "[$x]"', { stdin: 'pipe' }));
    const holder = holderPid(h);
    expect(alive(holder)).toBe(true);
    await t.writeStdin(h, Buffer.from('a\n'));
    expect((await t.wait(h)).exitCode).toBe(0);
    await until(() => !alive(holder), 'the holder to end');
    expect(pidsOfTask(h.taskId)).toEqual([]);
  });

  it('waits while the pipe is full without blocking the event loop; the kill of the task fails the write', async () => {
    const t = transport(spawnHelper);
    const h = await t.start(req('sleep 60', { stdin: 'pipe' }));
    let settled: unknown = 'pending';
    const write = t.writeStdin(h, Buffer.alloc(1 << 20, 0x61)).then(() => { settled = 'ok'; }, (e: unknown) => { settled = e; throw e; });
    write.catch(() => {});
    // Timers keep firing while the write waits for room (a pipe holds 64 KiB).
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await until(() => ticks >= 20, 'timer ticks during the write');
    clearInterval(timer);
    expect(settled).toBe('pending');
    await t.kill(h, { graceMs: 100 });
    await expect(write).rejects.toBeInstanceOf(StdinError);
    await expect(write).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
  });

  it('tells a task blocked reading its input from one that computes, sleeps or waits for a pipeline', async () => {
    const t = transport(spawnHelper);
    const reader = await t.start(req('read x; echo "$x"', { stdin: 'pipe' }));
    const pipeline = await t.start(req('cat | head -n 1', { stdin: 'pipe' }));
    const busy = await t.start(req('while :; do :; done', { stdin: 'pipe' }));
    const sleeper = await t.start(req('sleep 60', { stdin: 'pipe' }));
    const noPipe = await t.start(req('read x </dev/null; sleep 60'));
    await until(async () => (await t.poll(reader)).awaitingInput === true, 'the reader to block');
    await until(async () => (await t.poll(pipeline)).awaitingInput === true, 'the pipeline to block');
    for (let i = 0; i < 5; i++) {
      expect((await t.poll(busy)).awaitingInput).toBe(false);
      expect((await t.poll(sleeper)).awaitingInput).toBe(false);
      // Without an input pipe or a terminal nothing is looked at.
      expect((await t.poll(noPipe)).awaitingInput).toBeUndefined();
      await sleep(20);
    }
    await t.writeStdin(pipeline, Buffer.from('abc\n'));
    await until(async () => (await readAll(t, pipeline, 'stdout')).toString() === 'abc\n', 'the pipeline output');
    for (const h of [reader, pipeline, busy, sleeper, noPipe]) await t.kill(h, { graceMs: 100 });
  });

  it('never ends a process that in.pid names but that is not the attempt\'s holder', async () => {
    const t = transport(spawnHelper);
    const h = await t.start(req('cat; echo eof', { stdin: 'pipe' }));
    const holder = holderPid(h);
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(String(h.runDir), 'in.pid'), `${stranger.pid}\n`);
      await t.closeStdin(h);
      expect(alive(stranger.pid!)).toBe(true);
      expect(alive(holder)).toBe(true);
    } finally {
      stranger.kill('SIGKILL');
    }
    await t.kill(h, { graceMs: 100 });
  });
});

describe('LocalTransport input of detached attempts (the wrapper\'s FIFO and holder)', () => {
  it('tells a detached task waiting for input from one that sleeps, on a pipe and on a terminal', async () => {
    const t = newTransport(newRoot());
    const reader = await t.start(req('read x; echo "[$x]"', { stdin: 'pipe', detached: true }));
    const python = await t.start(req('python3 -i -q', { stdin: 'pipe', detached: true, tty: { cols: 80, rows: 24 } }));
    const sleeper = await t.start(req('sleep 60', { stdin: 'pipe', detached: true }));
    const ttySleeper = await t.start(req('sleep 60', { stdin: 'pipe', detached: true, tty: { cols: 80, rows: 24 } }));
    await until(async () => (await t.poll(reader)).awaitingInput === true, 'the reader to block');
    await until(async () => (await t.poll(python)).awaitingInput === true, 'python to prompt');
    for (let i = 0; i < 5; i++) {
      expect((await t.poll(sleeper)).awaitingInput).toBe(false);
      expect((await t.poll(ttySleeper)).awaitingInput).toBe(false);
      await sleep(20);
    }
    await t.writeStdin(reader, Buffer.from('hi\n'));
    expect((await t.wait(reader)).exitCode).toBe(0);
    expect((await readAll(t, reader, 'stdout')).toString()).toBe('[hi]\n');
    for (const h of [python, sleeper, ttySleeper]) await t.kill(h, { graceMs: 100 });
  });
});

describe('LocalTransport input, spawn helper specifics', () => {
  it('a holder outlives the death of the spawn helper only as long as the task', async () => {
    const t = newTransport(newRoot());
    const gate = join(newRoot(), 'gate');
    const h = await t.start(req(`while [ ! -e ${gate} ]; do sleep 0.05; done`, { stdin: 'pipe' }));
    const holder = holderPid(h);
    const helper = helperPid(t)!;
    process.kill(helper, 'SIGKILL');
    await until(() => !alive(helper), 'the helper to die');
    expect(alive(holder)).toBe(true);
    writeFileSync(gate, '');
    await until(() => !alive(holder), 'the holder to end with the task');
    await until(() => pidsOfTask(h.taskId).length === 0, 'nothing of the attempt left');
    // Nobody was left to record its status: watched by its markers, it ends as lost.
    expect((await t.wait(h)).state).toBe('lost');
  });

  it('sends attempts without input in an S frame, and with input in an I frame', () => {
    const launch = { runDir: '/r/jobs/a-1', cwd: undefined, maxOutputBytes: undefined, env: { A: 'b' }, argv: ['/bin/sh', '-c', 'x'] };
    expect(startFrame(7, launch).toString('latin1')).toBe('38\nS\x007\x00/r/jobs/a-1\x00\x00\x00\x001\x00A=b\x00/bin/sh\x00-c\x00x\x00');
    expect(startFrame(7, { ...launch, volatile: true }).toString('latin1')).toContain('S\x007\x00/r/jobs/a-1\x00\x00\x00v\x001\x00');
    expect(startFrame(7, { ...launch, input: 'pipe' }).toString('latin1')).toContain('I\x007\x00/r/jobs/a-1\x00\x00\x00\x00p\x001\x00');
    expect(startFrame(7, { ...launch, input: new Uint8Array([0, 0xff]) }).toString('latin1')).toContain('\x00d00ff\x001\x00');
  });

  it('offers tty only where util-linux script is on the PATH', () => {
    expect(newTransport(newRoot()).capabilities).toEqual({ stdin: true, tty: true, findsEveryStart: true });
    const path = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      expect(newTransport(newRoot()).capabilities).toEqual({ stdin: true, tty: false, findsEveryStart: true });
    } finally {
      process.env['PATH'] = path;
    }
  });

  it('says it finds every start only with a root a later process can probe', () => {
    expect(new LocalTransport().capabilities.findsEveryStart).toBe(false);
    expect(new LocalTransport({ root: newRoot() }).capabilities.findsEveryStart).toBe(true);
  });
});

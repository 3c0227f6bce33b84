// The spawn helper behind LocalTransport's non-detached attempts: one long-lived process per
// transport forks the tasks (so Node does not), and every promise of direct spawn still holds.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HelperStartError, SpawnHelper } from '../../src/transports/spawn-helper/client.js';
import { decodeWaitStatus, encodeFrame, parseEvent } from '../../src/transports/spawn-helper/protocol.js';
import { LocalTransport } from '../../src/transports/local.js';
import { id, newRoot, newTransport, pidsOfTask, readAll, registerCleanup, req, transports, until } from './_local-fixture.js';

registerCleanup();

const helperPid = (t: LocalTransport): number | undefined => (t as unknown as { helper?: { helperPid?: number } }).helper?.helperPid;
/** The helper's forker: the tasks' parent. */
const forkerPid = (t: LocalTransport): number | undefined => (t as unknown as { helper?: { forkerPid?: number } }).helper?.forkerPid;

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, pgrp, session, …]. */
function statOf(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

describe('LocalTransport through the spawn helper', () => {
  it('forks tasks from one long-lived helper (its forker), not from Node; spawnHelper: false spawns from Node', async () => {
    const t = newTransport(newRoot());
    const parents = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const h = await t.start(req('echo $PPID'));
      expect((await t.wait(h)).exitCode).toBe(0);
      parents.add((await readAll(t, h, 'stdout')).toString().trim());
    }
    expect(parents.size).toBe(1);
    const parent = Number([...parents][0]);
    expect(parent).toBe(forkerPid(t));
    expect(Number(statOf(parent)[1])).toBe(helperPid(t));
    expect(parent).not.toBe(process.pid);

    const d = new LocalTransport({ root: newRoot(), spawnHelper: false });
    transports.push(d);
    const h = await d.start(req('echo $PPID'));
    await d.wait(h);
    expect((await readAll(d, h, 'stdout')).toString().trim()).toBe(String(process.pid));
  });

  it('passes command, args, cwd and env byte-exact: quotes, $, backquotes, backslashes, newlines, leading dashes', async () => {
    const t = newTransport(newRoot());
    const odd = `it's "q" $(echo no) \`x\` \\ \n-n %s`;
    const cwd = join(newRoot(), `dir ${odd.replaceAll('/', '_')}`);
    mkdirSync(cwd);
    const h = await t.start(req('printf', { args: ['%s|', odd, '-e', ''], cwd, env: { ODD: odd, 'WEIRD-NAME.x': odd } }));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).toString()).toBe(`${odd}|-e||`);
    const sh = await t.start(req(`printf '%s|' "$ODD" "$PWD"\nprintf end`, { cwd, env: { ODD: odd } }));
    expect((await t.wait(sh)).exitCode).toBe(0);
    expect((await readAll(t, sh, 'stdout')).toString()).toBe(`${odd}|${cwd}|end`);
    // A name no shell can hold still reaches a program started without one.
    const env = await t.start(req('/usr/bin/env', { args: [], env: { 'WEIRD-NAME.x': odd } }));
    expect((await t.wait(env)).exitCode).toBe(0);
    expect((await readAll(t, env, 'stdout')).toString()).toContain(`\nWEIRD-NAME.x=${odd}\n`);
  });

  it('finds and runs programs as direct spawn does: a PATH of the task (once in its environment), a relative PATH entry, a script without #!', async () => {
    const dir = newRoot();
    mkdirSync(join(dir, 'sub'));
    // Only on the task's own PATH; prints its PATH entries.
    writeFileSync(join(dir, 'sub', 'bgexec-paths'), '#!/bin/sh\nenv | grep "^PATH="\n', { mode: 0o755 });
    // No #!: execvp hands it to /bin/sh.
    writeFileSync(join(dir, 'sub', 'bgexec-plain'), 'echo "plain $1"\n', { mode: 0o755 });
    const cases = [
      { command: 'bgexec-paths', args: [], env: { PATH: `${join(dir, 'sub')}:/usr/bin:/bin` } },
      { command: 'bgexec-plain', args: ['x'], env: { PATH: `${join(dir, 'sub')}:/usr/bin:/bin` } },
      { command: 'bgexec-plain', args: ['rel'], env: { PATH: 'sub:/usr/bin:/bin' }, cwd: dir },
    ];
    const viaHelper = newTransport(newRoot());
    const direct = new LocalTransport({ root: newRoot(), spawnHelper: false });
    transports.push(direct);
    const outputs: string[][] = [[], []];
    for (const [i, t] of [viaHelper, direct].entries()) {
      for (const c of cases) {
        const h = await t.start(req(c.command, c));
        expect((await t.wait(h)).exitCode).toBe(0);
        outputs[i]!.push((await readAll(t, h, 'stdout')).toString());
      }
    }
    expect(outputs[0]).toEqual([`PATH=${join(dir, 'sub')}:/usr/bin:/bin\n`, 'plain x\n', 'plain rel\n']);
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it('runs each task as the leader of its own session with no signal ignored or blocked; SIGINT ends it', async () => {
    const t = newTransport(newRoot());
    // The program itself (no shell, which blocks signals for a moment around each fork it makes).
    const status = await t.start(req('grep', { args: ['-E', '^Sig(Ign|Blk)', '/proc/self/status'] }));
    expect((await t.wait(status)).exitCode).toBe(0);
    expect((await readAll(t, status, 'stdout')).toString()).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    const h = await t.start(req('echo up; exec sleep 30'));
    await until(async () => (await readAll(t, h, 'stdout')).length > 0, 'the first line');
    const [, , pgrp, session] = statOf(h.pid!);
    expect([Number(pgrp), Number(session)]).toEqual([h.pid, h.pid]);
    await t.kill(h, { graceMs: 5_000, signal: 'SIGINT' });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGINT' });
  });

  it('reports exact statuses without a kill request: a signal the command sends itself, and exit 143', async () => {
    const t = newTransport(newRoot());
    expect(await t.wait(await t.start(req('kill -USR1 $$')))).toMatchObject({ exitCode: null, signal: 'SIGUSR1' });
    expect(await t.wait(await t.start(req('exit 143')))).toMatchObject({ exitCode: 143, signal: null });
  });

  it('leaves no zombie: every task it forked is reaped', async () => {
    const t = newTransport(newRoot());
    const handles = await Promise.all(Array.from({ length: 8 }, () => t.start(req('true'))));
    for (const h of handles) await t.wait(h);
    const childrenOf = (parent: number): number[] =>
      readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
        try {
          return Number(statOf(p)[1]) === parent;
        } catch {
          return false;
        }
      });
    expect(childrenOf(forkerPid(t)!)).toEqual([]);
    expect(childrenOf(helperPid(t)!)).toEqual([forkerPid(t)]);
  });

  it('is restarted after it dies; the attempt it ran is watched from /proc and can still be killed', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(req('exec sleep 30'));
    const first = helperPid(t)!;
    const firstForker = forkerPid(t)!;
    process.kill(first, 'SIGKILL');
    await until(() => helperPid(t) === undefined, 'the transport to see the helper die');
    const next = await t.start(req('echo $PPID'));
    await t.wait(next);
    const second = Number((await readAll(t, next, 'stdout')).toString());
    expect(second).toBe(forkerPid(t));
    expect(second).not.toBe(firstForker);
    // The forker of the dead helper went with it; its task did not.
    await until(() => !existsSync(`/proc/${firstForker}`), 'the old forker to go');
    expect(pidsOfTask(h.taskId)).toEqual([h.pid]);
    await t.kill(h, { graceMs: 2_000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', signal: 'SIGKILL' });
    expect(pidsOfTask(h.taskId)).toEqual([]);
  });

  it('goes when its forker dies, and is restarted; the attempt in flight is watched from /proc', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(req('exec sleep 30'));
    const [helper, forker] = [helperPid(t)!, forkerPid(t)!];
    process.kill(forker, 'SIGKILL');
    await until(() => helperPid(t) === undefined, 'the transport to see the helper go');
    await until(() => !existsSync(`/proc/${helper}`), 'the helper to be gone');
    const next = await t.start(req('echo $PPID'));
    expect((await t.wait(next)).exitCode).toBe(0);
    expect(Number((await readAll(t, next, 'stdout')).toString())).toBe(forkerPid(t));
    expect(forkerPid(t)).not.toBe(forker);
    expect(pidsOfTask(h.taskId)).toEqual([h.pid]);
    await t.kill(h, { graceMs: 2_000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', signal: 'SIGKILL' });
  });

  it('reads a pid-less run directory with the empty pid file the helper creates before its fork as spawn_unconfirmed (may have run)', async () => {
    const root = newRoot();
    const t = newTransport(root);
    const [forked, never] = [id(), id()];
    mkdirSync(join(root, 'jobs', `${forked}-1`), { recursive: true });
    writeFileSync(join(root, 'jobs', `${forked}-1`, 'pid'), '');
    mkdirSync(join(root, 'jobs', `${never}-1`));
    const a = await t.probe(forked, 1);
    expect(await t.wait({ ...a!, ownerGone: true })).toMatchObject({ state: 'lost', reason: 'spawn_unconfirmed' });
    const b = await t.probe(never, 1);
    expect(await t.wait({ ...b!, ownerGone: true })).toMatchObject({ state: 'lost', reason: 'spawn_interrupted' });
  });

  it('falls back to direct spawn on a host without perl', async () => {
    const saved = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    let t: LocalTransport;
    try {
      t = newTransport(newRoot());
    } finally {
      process.env['PATH'] = saved;
    }
    const h = await t.start(req('/bin/echo', { args: ['direct'] }));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).toString()).toBe('direct\n');
    expect(helperPid(t)).toBeUndefined();
  });
});

describe('SpawnHelper', () => {
  it('reports "unavailable" (nothing done) when the interpreter dies before it is ready, and then stops trying', async () => {
    const helper = new SpawnHelper({ baseEnv: {}, perl: '/bin/false' });
    const launch = { runDir: join(newRoot(), 'never'), cwd: undefined, maxOutputBytes: undefined, env: {}, argv: ['/bin/true'] };
    for (let i = 0; i < 2; i++) {
      const err = await helper.start(launch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HelperStartError);
      expect((err as HelperStartError).reason).toBe('unavailable');
    }
    expect(helper.usable).toBe(false);
  });

  it('says when no task left a process behind (it adopts orphans as a child subreaper), so the /proc scan can be skipped', async () => {
    const helper = new SpawnHelper({ baseEnv: { PATH: process.env['PATH'] } });
    const root = newRoot();
    const launch = (name: string, argv: string[]) => ({ runDir: join(root, name), cwd: undefined, maxOutputBytes: undefined, env: { BGEXEC_TASK_ID: id() }, argv });
    try {
      const plain = await helper.start(launch('plain', ['/bin/true']));
      expect(await plain.exited).toEqual({ exitCode: 0, signal: null, alone: true });
      await plain.release('0\n', 1000);
      const leaving = await helper.start(launch('leaving', ['/bin/sh', '-c', `sleep 30 >/dev/null 2>&1 & echo $! >'${root}/left'; exit 3`]));
      expect(await leaving.exited).toEqual({ exitCode: 3, signal: null, alone: false });
      const left = Number(readFileSync(join(root, 'left'), 'latin1'));
      // Adopted by the helper's forker, not by init: the forker is its parent now.
      expect(Number(statOf(left)[1])).toBe(helper.forkerPid);
      process.kill(left, 'SIGKILL');
      expect(await leaving.release('3\n', 1000)).toMatchObject({ markerWritten: true });
    } finally {
      helper.close();
    }
  });

  it('gives a task no descriptor but its stdio, also when it was forked in one batch with others', async () => {
    const helper = new SpawnHelper({ baseEnv: { PATH: process.env['PATH'] } });
    const root = newRoot();
    try {
      // Requests written in one go reach the forker together: it prepares all (their pipes are
      // open in it) before it forks any.
      const started = await Promise.all(
        Array.from({ length: 8 }, (_, i) => helper.start({ runDir: join(root, `t${i}`), cwd: undefined, maxOutputBytes: undefined, env: { BGEXEC_TASK_ID: id() }, argv: ['sleep', '30'] })),
      );
      // What a task's descriptors point to (pipe:[inode], …), by number.
      const fds = (pid: number): Map<string, string> => new Map(readdirSync(`/proc/${pid}/fd`).map((fd) => [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)]));
      const tables = started.map((s) => fds(s.pid));
      for (const [i, table] of tables.entries()) {
        // Beyond its stdio, a task may hold only what Node itself passed down to the helper;
        // never another task's output pipe.
        const others = new Set(tables.filter((_, j) => j !== i).flatMap((t) => [t.get('1'), t.get('2')]));
        const extra = [...table].filter(([fd]) => !['0', '1', '2'].includes(fd)).map(([, target]) => target);
        expect(extra.filter((target) => others.has(target))).toEqual([]);
        expect(table.get('1')).toMatch(/^pipe:/);
      }
      for (const s of started) process.kill(s.pid, 'SIGKILL');
      for (const s of started) {
        expect(await s.exited).toMatchObject({ signal: 'SIGKILL' });
        expect(await s.release('x\n', 1000)).toMatchObject({ markerWritten: true });
      }
    } finally {
      helper.close();
    }
  });

  it('frames values by length with NUL-terminated fields, and decodes wait statuses exactly', () => {
    expect(encodeFrame(['S', 'a\nb', '']).toString('latin1')).toBe('7\nS\0a\nb\0\0');
    expect(encodeFrame(['é']).toString('latin1')).toBe('3\n\u00c3\u00a9\0');
    expect(decodeWaitStatus(0)).toEqual({ exitCode: 0, signal: null });
    expect(decodeWaitStatus(143 << 8)).toEqual({ exitCode: 143, signal: null });
    expect(decodeWaitStatus(15)).toEqual({ exitCode: null, signal: 'SIGTERM' });
    expect(decodeWaitStatus(0x80 | 11)).toEqual({ exitCode: null, signal: 'SIGSEGV' });
    expect(parseEvent('E 3 ok 10 0 1')).toEqual({ kind: 'ended', serial: 3, markerWritten: true, runDirCreated: true, stdoutBytes: 10, stderrBytes: 0, limitReached: true });
    expect(parseEvent('E 4 none 0 0 0')).toMatchObject({ markerWritten: false, runDirCreated: false });
    expect(parseEvent('X 2 2304 1')).toEqual({ kind: 'exited', serial: 2, status: 2304, alone: true });
    expect(parseEvent('S 1')).toBeUndefined();
  });
});

import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { newRoot, newTransport, pidsOfTask, readAll, registerCleanup, req, until } from './_local-fixture.js';

registerCleanup();

describe.each([false, true])('LocalTransport (detached: %s)', (detached) => {
  const r = (command: string, extra: Partial<LaunchRequest> = {}) => req(command, { detached, ...extra });

  it('reports exit codes 0, 1 and 42', async () => {
    const t = newTransport(newRoot());
    for (const code of [0, 1, 42]) {
      const h = await t.start(r(`exit ${code}`));
      expect(h).toMatchObject({ kind: 'local', attempt: 1, detached, pid: expect.any(Number), pgid: h.pid });
      expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: code, signal: null });
    }
  });

  it('runs the shell form through /bin/sh and the args form literally', async () => {
    const t = newTransport(newRoot());
    const sh = await t.start(r('echo $((1 + 2)) "$0"'));
    await t.wait(sh);
    expect((await readAll(t, sh, 'stdout')).toString()).toBe('3 /bin/sh\n');
    const args = ['%s|', 'a b', `it's "q"`, '$(echo no)', '`x`', '-n'];
    const lit = await t.start(r('printf', { args }));
    expect((await t.wait(lit)).exitCode).toBe(0);
    expect((await readAll(t, lit, 'stdout')).toString()).toBe(`a b|it's "q"|$(echo no)|\`x\`|-n|`);
  });

  it('passes env through and sets BGEXEC_TASK_ID / BGEXEC_ATTEMPT', async () => {
    const t = newTransport(newRoot());
    const q = r('printf "%s|%s|%s|%s" "$FOO" "$BGEXEC_TASK_ID" "$BGEXEC_ATTEMPT" "${HOME:+home}"', {
      attempt: 3,
      env: { FOO: `it's a $value`, BGEXEC_TASK_ID: 'spoofed' },
    });
    const h = await t.start(q);
    await t.wait(h);
    expect((await readAll(t, h, 'stdout')).toString()).toBe(`it's a $value|${q.taskId}|3|home`);
  });

  it('gives the command /dev/null as stdin', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('cat; echo "cat=$?"'));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).toString()).toBe('cat=0\n');
  });

  it('keeps stdout and stderr separate and byte-exact (MBs, binary), with exact offset reads', async () => {
    const t = newTransport(newRoot());
    const dir = newRoot();
    const out = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(3 * 1024 * 1024 + 17)]);
    const err = randomBytes(70_000);
    writeFileSync(join(dir, 'o.bin'), out);
    writeFileSync(join(dir, 'e.bin'), err);
    const h = await t.start(r('cat o.bin; cat e.bin >&2', { cwd: dir }));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).equals(out)).toBe(true);
    expect((await readAll(t, h, 'stderr')).equals(err)).toBe(true);
    for (const [offset, length] of [[0, 1], [255, 2], [1_000_000, 65_536], [out.length - 5, 100], [out.length, 10], [out.length + 9, 1]] as const) {
      const got = await t.read(h, 'stdout', offset, length);
      expect(got.totalBytes).toBe(out.length);
      expect(got.data.equals(out.subarray(offset, offset + length))).toBe(true);
    }
    expect(await t.poll(h)).toMatchObject({ state: 'exited', stdoutBytes: out.length, stderrBytes: err.length });
  });

  it('rejects a missing cwd with SPAWN_FAILED naming it, and records cwd_missing', async () => {
    const t = newTransport(newRoot());
    const cwd = join(newRoot(), 'gone');
    const q = r('true', { cwd });
    const e = await t.start(q).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'SPAWN_FAILED' });
    expect((e as Error).message).toContain(cwd);
    expect((e as Error).message).toContain('cwd_missing');
    const found = await t.probe(q.taskId, 1);
    expect(readFileSync(join(found!.runDir!, 'exit'), 'utf8')).toBe('cwd_missing\n');
    expect(await t.wait(found!)).toMatchObject({ state: 'exited', exitCode: null, reason: 'cwd_missing' });
  });

  it('rejects a missing or non-executable program with SPAWN_FAILED', async () => {
    const t = newTransport(newRoot());
    await expect(t.start(r('bgexec-no-such-program', { args: [] }))).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    const dir = newRoot();
    writeFileSync(join(dir, 'noexec.sh'), '#!/bin/sh\necho hi\n', { mode: 0o644 });
    await expect(t.start(r('./noexec.sh', { args: [], cwd: dir }))).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
  });

  it('refuses a second start of the same taskId+attempt, even from another instance', async () => {
    const root = newRoot();
    const t = newTransport(root);
    const counter = join(newRoot(), 'count');
    const q = r(`echo ran >> ${counter}`);
    await t.wait(await t.start(q));
    await expect(t.start({ ...q })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    await expect(newTransport(root).start({ ...q })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    expect(readFileSync(counter, 'utf8')).toBe('ran\n');
  });

  it('kills a shell with background children and leaves no process of the task', async () => {
    const t = newTransport(newRoot());
    const q = r('sleep 100 & sleep 100 & wait');
    const h = await t.start(q);
    await until(() => pidsOfTask(q.taskId).length >= (detached ? 4 : 3), 'the children to start');
    await t.kill(h, { graceMs: 2_000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
    expect(pidsOfTask(q.taskId)).toEqual([]);
  });

  it('SIGKILLs a process that ignores TERM after graceMs', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r(`trap '' TERM; printf ready; sleep 100`));
    await until(async () => (await t.poll(h)).stdoutBytes === 5, 'the trap to be installed');
    const t0 = Date.now();
    await t.kill(h, { graceMs: 300 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGKILL' });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(5_000);
    expect(pidsOfTask(h.taskId)).toEqual([]);
  });

  it('sweeps a grandchild that called setsid and was re-parented', async () => {
    const t = newTransport(newRoot());
    const q = r(`sh -c 'setsid sleep 100 &'; printf ready; sleep 100`);
    const h = await t.start(q);
    // Leader of its own session, other than the attempt's leader: it left the attempt's group.
    // Waited for as such: counted among the task's processes, it may not have called setsid yet.
    const loner = (): number | undefined =>
      pidsOfTask(q.taskId).find((pid) => {
        try {
          const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
          return pid !== h.pid && Number(fields[3]) === pid;
        } catch {
          return false; // ended meanwhile
        }
      });
    await until(async () => (await t.poll(h)).stdoutBytes === 5 && loner() !== undefined, 'the grandchild in its own session');
    await t.kill(h, { graceMs: 2_000 });
    await t.wait(h);
    expect(pidsOfTask(q.taskId)).toEqual([]);
  });

  it('poll reports growing sizes, then exited', async () => {
    const t = newTransport(newRoot());
    const dir = newRoot();
    const h = await t.start(r('printf 1234; printf e >&2; while [ ! -e go ]; do sleep 0.02; done; printf 56789', { cwd: dir }));
    // Each stream is copied on its own: the byte on stderr may be counted after the four on stdout.
    await until(async () => {
      const p = await t.poll(h);
      return p.stdoutBytes === 4 && p.stderrBytes === 1;
    }, 'the first bytes');
    expect(await t.poll(h)).toEqual({ state: 'running', stdoutBytes: 4, stderrBytes: 1 });
    writeFileSync(join(dir, 'go'), '');
    const exit = await t.wait(h);
    expect(await t.poll(h)).toEqual({ state: 'exited', exit, stdoutBytes: 9, stderrBytes: 1 });
  });

  it('cleanup removes the run dir; reads then fail with OUTPUT_GONE', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('printf x'));
    await t.wait(h);
    expect(existsSync(h.runDir!)).toBe(true);
    await t.cleanup(h);
    expect(existsSync(h.runDir!)).toBe(false);
    await expect(t.read(h, 'stdout', 0, 10)).rejects.toMatchObject({ code: 'OUTPUT_GONE' });
    await t.cleanup(h);
  });

  it('refuses handles whose runDir is not this attempt\'s run directory', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('true'));
    await t.wait(h);
    const victim = newRoot();
    for (const runDir of [victim, join(victim, 'jobs', 'other-1'), 'jobs/' + `${h.taskId}-1`]) {
      await expect(t.cleanup({ ...h, runDir })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(existsSync(victim)).toBe(true);
    await expect(t.poll({ ...h, kind: 'ssh' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('creates run dirs with mode 0700', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('true'));
    await t.wait(h);
    expect(statSync(h.runDir!).mode & 0o777).toBe(0o700);
    expect(statSync(join(h.runDir!, '..')).mode & 0o777).toBe(0o700);
  });

  it('records the exit marker on disk for a later process', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('exit 42'));
    await t.wait(h);
    expect(readFileSync(join(h.runDir!, 'exit'), 'utf8')).toMatch(detached ? /^42\n +\n$/ : /^42\n$/);
    // Attached, through the spawn helper: two inodes per attempt, the run directory and `pid`
    // (which became `exit`); `out` and `err` are created on their first byte, so an attempt
    // without output has none. (Direct spawn, on a host without perl, creates them up front.)
    const viaHelper = (t as unknown as { helper?: { usable: boolean } }).helper?.usable === true;
    expect(readdirSync(h.runDir!).sort()).toEqual(detached ? ['err', 'exit', 'meta', 'out', 'pid'] : viaHelper ? ['exit'] : ['err', 'exit', 'out']);
    const probed = await newTransport(t.root).probe(h.taskId, 1);
    expect(await newTransport(t.root).wait(probed!)).toMatchObject({ state: 'exited', exitCode: 42, signal: null });
    const again = await newTransport(t.root).wait(JSON.parse(JSON.stringify(h)) as TransportHandle);
    expect(again).toMatchObject({ state: 'exited', exitCode: 42, signal: null });
  });

  it('treats a handle from another boot as lost (boot_id_changed)', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(r('sleep 100'));
    const other = newTransport(t.root);
    expect(await other.wait({ ...h, bootId: 'another-boot' })).toMatchObject({ state: 'lost', reason: 'boot_id_changed' });
    await t.kill(h, { graceMs: 1_000 });
  });
});


import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import { id, newRoot, newTransport, pidsOfTask, readAll, registerCleanup, req, roots, transports, until } from './_local-fixture.js';

registerCleanup();

describe('LocalTransport detached attempts', () => {
  it('survive close(); a new instance polls and waits them with the real code and output', async () => {
    const root = newRoot();
    const dir = newRoot();
    const first = newTransport(root);
    const h = await first.start(req('printf a; while [ ! -e go ]; do sleep 0.02; done; printf bc; exit 7', { detached: true, cwd: dir }));
    await first.close();
    expect(pidsOfTask(h.taskId).length).toBeGreaterThan(0);
    const second = newTransport(root);
    const revived = JSON.parse(JSON.stringify(h)) as TransportHandle;
    await until(async () => (await second.poll(revived)).stdoutBytes === 1, 'the first byte');
    expect((await second.poll(revived)).state).toBe('running');
    const waiting = second.wait(revived);
    writeFileSync(join(dir, 'go'), '');
    expect(await waiting).toMatchObject({ state: 'exited', exitCode: 7, signal: null });
    expect((await readAll(second, revived, 'stdout')).toString()).toBe('abc');
    expect((await second.poll(revived)).state).toBe('exited');
  });

  it('report SIGTERM when killed, with the marker written by the wrapper', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(req('sleep 100', { detached: true }));
    await t.kill(h, { graceMs: 5_000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
    // The status is written over the pre-allocated placeholder: its first line, then blanks.
    expect(readFileSync(join(h.runDir!, 'exit'), 'utf8')).toMatch(/^143\n +\n$/);
    expect(existsSync(join(h.runDir!, 'killreq'))).toBe(true);
  });

  it('can be killed with SIGINT and from a new instance', async () => {
    const root = newRoot();
    const first = newTransport(root);
    // Args form: a `sh -c` parent catches INT itself while starting up (dash does).
    const h = await first.start(req('sleep', { args: ['100'], detached: true }));
    await first.close();
    const second = newTransport(root);
    await second.kill(h, { graceMs: 5_000, signal: 'SIGINT' });
    expect(await second.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGINT' });
    expect(pidsOfTask(h.taskId)).toEqual([]);
  });

  it('are lost (no_exit_marker) when SIGKILLed wrapper and all without a kill request', async () => {
    const root = newRoot();
    const first = newTransport(root);
    const h = await first.start(req('sleep 100', { detached: true }));
    await first.close();
    const second = newTransport(root);
    const waiting = second.wait(h);
    process.kill(-h.pgid!, 'SIGKILL');
    expect(await waiting).toMatchObject({ state: 'lost', exitCode: null, signal: null, reason: 'no_exit_marker' });
  });

  it('probe finds a running attempt from a new instance, and a pid-less run dir means spawn_interrupted', async () => {
    const root = newRoot();
    const first = newTransport(root);
    const q = req('sleep 100', { detached: true });
    const h = await first.start(q);
    await first.close();
    const second = newTransport(root);
    const found = await second.probe(q.taskId, 1);
    expect(found).toMatchObject({ kind: 'local', taskId: q.taskId, attempt: 1, pid: h.pid, pgid: h.pgid, bootId: h.bootId, detached: true, startedAt: h.startedAt });
    expect((await second.poll(found!)).state).toBe('running');
    await second.kill(found!, { graceMs: 2_000 });

    const bare = id();
    mkdirSync(join(root, 'jobs', `${bare}-1`), { mode: 0o700 });
    const half = await second.probe(bare, 1);
    expect(half).toBeDefined();
    expect(half!.pid).toBeUndefined();
    expect(await second.wait(half!)).toMatchObject({ state: 'lost', reason: 'spawn_interrupted' });
    expect(await second.probe(bare, 2)).toBeUndefined();
  });
});

describe('LocalTransport non-detached attempts seen from elsewhere', () => {
  it('are lost (no_exit_marker) once their process died and no owner wrote a marker', async () => {
    const root = newRoot();
    const tid = id();
    const runDir = join(root, 'jobs', `${tid}-1`);
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    // Stands in for an attempt whose executor died: a live process carrying the markers.
    const child = spawn('sleep', ['100'], { env: { ...process.env, BGEXEC_TASK_ID: tid, BGEXEC_ATTEMPT: '1' }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    writeFileSync(join(runDir, 'pid'), `${child.pid} ${child.pid}\n`);
    const t = newTransport(root);
    const handle = (await t.probe(tid, 1))!;
    expect((await t.poll(handle)).state).toBe('running');
    const waiting = t.wait(handle);
    const waitingOrphan = newTransport(root).wait({ ...handle, ownerGone: true });
    child.kill('SIGKILL');
    await exited;
    expect(await waitingOrphan).toMatchObject({ state: 'lost', reason: 'no_exit_marker' });
    expect(await waiting).toMatchObject({ state: 'lost', exitCode: null, signal: null, reason: 'no_exit_marker' });
  });
});

describe('LocalTransport default root', () => {
  it('is created lazily and removed by close() when nothing detached is alive', async () => {
    const t = new LocalTransport();
    expect(t.root).toBeUndefined();
    const h = await t.start(req('true'));
    await t.wait(h);
    const root = t.root!;
    expect(root.startsWith(join(tmpdir(), 'bgexec-'))).toBe(true);
    await t.close();
    expect(existsSync(root)).toBe(false);
    await expect(t.start(req('true'))).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
  });

  it('is kept by close() while a detached attempt is alive', async () => {
    const t = new LocalTransport();
    transports.push(t);
    const h = await t.start(req('sleep 100', { detached: true }));
    roots.push(t.root!);
    await t.close();
    expect(existsSync(h.runDir!)).toBe(true);
    expect((await newTransport(t.root).poll(h)).state).toBe('running');
  });
});

describe('LocalTransport start from another process', () => {
  it('cannot run an attempt twice across processes', async () => {
    const root = newRoot();
    const t = newTransport(root);
    const counter = join(newRoot(), 'count');
    const q = req(`echo ran >> ${counter}`);
    await t.wait(await t.start(q));
    const src = new URL('../../src/transports/local.ts', import.meta.url).pathname;
    const code = `import { LocalTransport } from ${JSON.stringify(src)};
      const t = new LocalTransport({ root: ${JSON.stringify(root)} });
      t.start(${JSON.stringify(q)}).then(() => process.exit(0), (e) => { console.log(e.code); process.exit(3); });`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 20_000 });
    expect(child.stdout.trim()).toBe('SPAWN_FAILED');
    expect(child.status).toBe(3);
    expect(readFileSync(counter, 'utf8')).toBe('ran\n');
  });
});

// Attempts nobody can recover (`recoverable: false`: the executor's store dies with the process)
// write nothing that only recovery reads: through the spawn helper they get no pid file and no
// exit marker, and their run directory appears only when a file must go into it. Cleanup of an
// ended attempt removes the files the helper reported without listing the directory.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor, LocalTransport, PriorityScheduler } from '../../src/index.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { newRoot, newTransport, readAll, registerCleanup, req, transports, until } from './_local-fixture.js';

registerCleanup();

const volatile = (command: string, extra: Parameters<typeof req>[1] = {}) => req(command, { recoverable: false, ...extra });

describe('LocalTransport: attempts nobody will recover, and cleanup of ended attempts', () => {
  it('a task without output leaves no run directory: its end, sizes and (empty) output come from memory', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(volatile('exit 3'));
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 3, signal: null });
    expect(existsSync(h.runDir as string)).toBe(false);
    expect(await t.poll(h)).toMatchObject({ state: 'exited', stdoutBytes: 0, stderrBytes: 0 });
    // "No output yet", not OUTPUT_GONE: the directory was simply never needed.
    expect(await t.read(h, 'stdout', 0, 100)).toMatchObject({ totalBytes: 0 });
    expect((await t.read(h, 'stderr', 0, 100)).data.length).toBe(0);
    await t.cleanup(h);
    await expect(t.read(h, 'stdout', 0, 100)).rejects.toMatchObject({ code: 'OUTPUT_GONE' });
  });

  it('output creates the run directory on its first byte, with out/err only: no pid file, no exit marker', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(volatile('printf out; printf err >&2'));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect(readdirSync(h.runDir as string).sort()).toEqual(['err', 'out']);
    expect((await readAll(t, h, 'stdout')).toString()).toBe('out');
    expect((await readAll(t, h, 'stderr')).toString()).toBe('err');
    expect(await t.poll(h)).toMatchObject({ state: 'exited', stdoutBytes: 3, stderrBytes: 3 });
    await t.cleanup(h);
    expect(existsSync(h.runDir as string)).toBe(false);
  });

  it('cuts output at maxOutputBytes exactly on disk and reports limitReached', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(volatile('yes', { maxOutputBytes: 10_000 }));
    // `yes` gets SIGPIPE once the copier closes its end (the transport does not kill it).
    expect(await t.wait(h)).toMatchObject({ state: 'exited' });
    expect((await readAll(t, h, 'stdout')).length).toBe(10_000);
    expect(await t.poll(h)).toMatchObject({ stdoutBytes: 10_000, limitReached: true });
    expect(readdirSync(h.runDir as string).sort()).toEqual(['limit', 'out']);
  });

  it('input given up front goes into `in` (the run directory is made at once), still without pid or marker', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(volatile('cat', { stdin: new TextEncoder().encode('in put') }));
    expect((await t.wait(h)).exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).toString()).toBe('in put');
    expect(readdirSync(h.runDir as string).sort()).toEqual(['in', 'out']);
  });

  it('a kill reaches a task that wrote nothing, and creates no run directory for its request', async () => {
    const t = newTransport(newRoot());
    const h = await t.start(volatile('sleep 30'));
    await t.kill(h, { graceMs: 5000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
    expect(existsSync(h.runDir as string)).toBe(false);
  });

  it('a killed terminal task reads as killed by its signal (the request is known in memory)', async () => {
    const root = newRoot();
    const t = newTransport(root);
    const ready = join(root, 'ready');
    const h = await t.start(volatile(`touch '${ready}'; exec sleep 30`, { tty: { cols: 80, rows: 24 } }));
    // The kill goes to the program on the terminal: it must be running before the kill.
    await until(() => existsSync(ready), 'the program on the terminal');
    await t.kill(h, { graceMs: 5000 });
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
    expect(existsSync(join(h.runDir as string, 'killreq'))).toBe(false);
  });

  it('a missing program or cwd is still SPAWN_FAILED with its reason', async () => {
    const t = newTransport(newRoot());
    await expect(t.start(volatile('/nonexistent/prog', { args: [] }))).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    await expect(t.start(volatile('true', { cwd: '/nonexistent/dir' }))).rejects.toMatchObject({ code: 'SPAWN_FAILED', reason: 'cwd_missing' });
  });

  it('cleanup removes an ended durable attempt whatever it holds: the files the helper reported, or more (killreq)', async () => {
    const t = newTransport(newRoot());
    const quiet = await t.start(req('true'));
    const loud = await t.start(req('printf x; printf y >&2'));
    const capped = await t.start(req('yes', { maxOutputBytes: 100 }));
    const killed = await t.start(req('sleep 30'));
    await t.kill(killed, { graceMs: 5000 });
    for (const h of [quiet, loud, capped, killed]) await t.wait(h);
    expect(readdirSync(killed.runDir as string).sort()).toEqual(['exit', 'killreq']);
    expect(readdirSync(capped.runDir as string).sort()).toEqual(['exit', 'limit', 'out']);
    for (const h of [quiet, loud, capped, killed]) {
      await t.cleanup(h);
      expect(existsSync(h.runDir as string)).toBe(false);
    }
  });

  it('through the executor: a memory store leaves silent tasks without run directories; a durable store keeps the full protocol', async () => {
    const root = newRoot();
    const mem = new LocalTransport({ root: join(root, 'mem') });
    const durable = new LocalTransport({ root: join(root, 'durable') });
    transports.push(mem, durable);
    const run = async (ex: BackgroundExecutor): Promise<string[]> => {
      await ex.start();
      try {
        const quiet = await ex.submit({ command: 'true' });
        const loud = await ex.submit({ command: 'echo hi' });
        await ex.onIdle();
        expect(ex.get(quiet.id)).toMatchObject({ status: 'completed' });
        expect((await ex.readOutput(loud.id)).text).toBe('hi\n');
        expect((await ex.readOutput(quiet.id)).text).toBe('');
        return [quiet.id, loud.id];
      } finally {
        await ex.shutdown();
      }
    };
    const scheduler = (): PriorityScheduler => new PriorityScheduler({ concurrency: 2 });
    const [q1, l1] = await run(new BackgroundExecutor({ scheduler: scheduler(), transports: { local: mem } }));
    expect(existsSync(join(root, 'mem', 'jobs', `${q1}-1`))).toBe(false);
    expect(readdirSync(join(root, 'mem', 'jobs', `${l1}-1`))).toEqual(['out']);
    const store = new JsonDirStore({ dir: join(root, 'store') });
    const [q2, l2] = await run(new BackgroundExecutor({ scheduler: scheduler(), transports: { local: durable }, store }));
    expect(readdirSync(join(root, 'durable', 'jobs', `${q2}-1`))).toEqual(['exit']);
    expect(readdirSync(join(root, 'durable', 'jobs', `${l2}-1`)).sort()).toEqual(['exit', 'out']);
  });
});

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { child, openExecutor, record, runCleanups, seed, sigkill, stored, tempDir } from './_helpers.js';

afterEach(runCleanups);

describe('completions across restarts', () => {
  it('brings back unacknowledged terminal tasks, and ack() is persisted', async () => {
    const dir = tempDir();
    const first = openExecutor(dir);
    const ids: string[] = [];
    for (const code of [0, 1, 2]) ids.push((await first.ex.submit({ command: `exit ${code}` })).id);
    await first.ex.onIdle();
    expect(first.ex.completions().map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(first.ex.ack(ids[0]!)).toBe(1);
    await first.ex.shutdown();
    expect(stored(dir, ids[0]!).acked).toBe(true);

    const second = openExecutor(dir);
    await second.ex.start();
    const back = second.ex.completions();
    expect(back.map((r) => r.id).sort()).toEqual([ids[1]!, ids[2]!].sort());
    expect(back.map((r) => r.exitCode).sort()).toEqual([1, 2]);
    expect(second.ex.ack([ids[1]!, 'unknown'])).toBe(1);
    await second.store.flush();
    expect(stored(dir, ids[1]!).acked).toBe(true);
    await second.ex.shutdown();

    const third = openExecutor(dir);
    await third.ex.start();
    expect(third.ex.completions().map((r) => r.id)).toEqual([ids[2]!]);
    expect(third.ex.list()).toHaveLength(3);
  });
});

describe('quarantined task files', () => {
  it('are reported on `error` with their file name and the executor still starts and runs the rest', async () => {
    const dir = tempDir();
    await seed(dir, [record('good', { spec: { command: 'exit 0', transport: 'local' } })]);
    const whole = JSON.stringify(record('truncated'));
    const tasks = join(dir, 'tasks');
    writeFileSync(join(tasks, 'corrupt.json'), '{"version":1,"id":"corrupt",,,}');
    writeFileSync(join(tasks, 'truncated.json'), whole.slice(0, whole.length >> 1));
    writeFileSync(join(tasks, 'notes.txt'), 'a foreign file');
    writeFileSync(join(tasks, 'old.json'), JSON.stringify({ ...record('old'), version: 99 }));
    const { ex, of } = openExecutor(dir);
    await ex.start();
    const errors = of('error').map((e) => e.error as { code: string; message: string; taskId?: string });
    expect(errors.map((e) => e.code)).toEqual(['STORE_CORRUPT', 'STORE_CORRUPT', 'STORE_CORRUPT', 'STORE_CORRUPT']);
    for (const name of ['corrupt.json', 'truncated.json', 'notes.txt', 'old.json']) {
      expect(errors.some((e) => e.message.includes(join(tasks, name))), name).toBe(true);
    }
    expect(of('error').map((e) => e.taskId).filter(Boolean).sort()).toEqual(['corrupt', 'old', 'truncated']);
    expect(readdirSync(join(dir, 'quarantine')).map((n) => n.split('.').slice(0, 2).join('.')).sort()).toEqual(
      ['corrupt.json', 'notes.txt', 'old.json', 'truncated.json'],
    );
    expect(readdirSync(tasks)).toEqual(['good.json']);
    expect(await ex.wait('good', { timeoutMs: 10_000 })).toMatchObject({ status: 'completed' });
    expect(ex.list().map((r) => r.id)).toEqual(['good']);
  });
});

describe('the store lock, seen from executors', () => {
  it('makes a second executor on the same directory fail fast with STORE_LOCKED, on start() and submit()', async () => {
    const dir = tempDir();
    const first = openExecutor(dir);
    await first.ex.start();
    const second = openExecutor(dir);
    const t0 = Date.now();
    await expect(second.ex.start()).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`pid ${process.pid}`) });
    await expect(second.ex.submit({ command: 'true' })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    // Fails fast: no waiting for the lock to be released.
    expect(Date.now() - t0).toBeLessThan(5000);
    // The same executor may try again once the directory is free.
    await first.ex.shutdown();
    await second.ex.start();
    expect((await second.ex.submit({ command: 'true' })).status).toBe('queued');
  });

  it('refuses while another process holds the directory, and takes over the lock once that process is dead', async () => {
    const dir = tempDir();
    await seed(dir, [record('left', { spec: { command: 'exit 0', transport: 'local' } })]);
    // A process holding the store (its lock) without running anything.
    const holder = child('../stores/_json-dir-child.ts', ['hold', dir]);
    await holder.waitFor((l) => l === 'ready');
    const blocked = new BackgroundExecutor({ store: new JsonDirStore({ dir }) });
    await expect(blocked.start()).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`pid ${holder.pid}`) });
    await sigkill(holder);
    expect(existsSync(join(dir, 'lock'))).toBe(true);
    const next = openExecutor(dir);
    await next.ex.start();
    expect(await next.ex.wait('left', { timeoutMs: 10_000 })).toMatchObject({ status: 'completed' });
    await blocked.shutdown();
  });
});

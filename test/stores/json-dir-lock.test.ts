import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { procStat, selfLockOwner, type LockOwner } from '../../src/stores/json-dir-lock.js';
import { makeRecord } from './_records.js';

const CHILD = fileURLToPath(new URL('./_json-dir-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bgexec-lock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string): JsonDirStore {
  const s = new JsonDirStore({ dir });
  cleanups.push(() => s.close());
  return s;
}

async function writeLock(dir: string, owner: Partial<LockOwner>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const me = await selfLockOwner();
  await writeFile(join(dir, 'lock'), JSON.stringify({ ...me, token: 'someone-else', ...owner }));
}

const lockOf = async (dir: string): Promise<LockOwner> => JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as LockOwner;

/** Starts a child node process that holds the store's lock until its stdin closes. */
async function holder(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'hold', dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
  return child;
}

describe('JsonDirStore lock', () => {
  it('writes pid, boot id, start time and hostname, and removes the lock on close', async () => {
    const dir = await tempDir();
    const store = open(dir);
    await store.load();
    const lock = await lockOf(dir);
    expect(lock).toMatchObject({ pid: process.pid, hostname: hostname(), startTime: (await procStat('self'))!.startTime });
    expect(lock.bootId).toBe((await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim());
    expect((await stat(join(dir, 'lock'))).mode & 0o777).toBe(0o600);
    await store.close();
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(dir)).filter((n) => n.includes('lock'))).toEqual([]);
  });

  it('refuses a second store in the same process, and admits it after close', async () => {
    const dir = await tempDir();
    const first = open(dir);
    await first.load();
    const second = open(dir);
    await expect(second.load()).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`pid ${process.pid}`) });
    await expect(second.put(makeRecord('x'))).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await first.close();
    await expect(second.load()).resolves.toEqual({ records: [], problems: [] });
  });

  it('refuses a lock whose owner is alive (our pid and start time, written by someone else)', async () => {
    const dir = await tempDir();
    await writeLock(dir, {});
    await expect(open(dir).load()).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`pid ${process.pid}`) });
  });

  it('takes over a lock of a pid that no longer exists', async () => {
    const dir = await tempDir();
    const dead = spawn(process.execPath, ['-e', '']);
    await once(dead, 'exit');
    await writeLock(dir, { pid: dead.pid! });
    const store = open(dir);
    await store.load();
    expect((await lockOf(dir)).pid).toBe(process.pid);
  });

  it('takes over a lock of a reused pid (wrong start time) or of another boot', async () => {
    for (const stale of [{ startTime: 1 }, { bootId: 'another-boot' }]) {
      const dir = await tempDir();
      await writeLock(dir, stale);
      const store = open(dir);
      await store.load();
      expect(await lockOf(dir)).toMatchObject({ pid: process.pid, bootId: expect.not.stringMatching(/another-boot/) });
      expect((await lockOf(dir)).token).not.toBe('someone-else');
    }
  });

  it('takes over an unreadable lock only once it is old', async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'lock'), '{"pid": 12');
    await expect(open(dir).load()).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    const past = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'lock'), past, past);
    await open(dir).load();
    expect((await lockOf(dir)).pid).toBe(process.pid);
  });

  it('does not remove a lock that is no longer its own', async () => {
    const dir = await tempDir();
    const store = new JsonDirStore({ dir });
    await store.load();
    await writeLock(dir, { token: 'taken-over' });
    await store.close();
    expect((await lockOf(dir)).token).toBe('taken-over');
  });

  it('refuses while another process holds the lock, and takes over once it is killed', async () => {
    const dir = await tempDir();
    const child = await holder(dir);
    await expect(open(dir).load()).rejects.toMatchObject({ code: 'STORE_LOCKED', message: expect.stringContaining(`pid ${child.pid}`) });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const store = open(dir);
    await store.load();
    expect((await lockOf(dir)).pid).toBe(process.pid);
  });

  it('lets another process in after a clean close', async () => {
    const dir = await tempDir();
    const child = await holder(dir);
    child.stdin!.end();
    expect((await once(child, 'exit'))[0]).toBe(0);
    await expect(stat(join(dir, 'lock'))).rejects.toMatchObject({ code: 'ENOENT' });
    await open(dir).load();
  });
});

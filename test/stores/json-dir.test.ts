import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type * as Fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { Store } from '../../src/stores/types.js';
import { describeStoreContract, makeFullRecord, makeRecord } from './_contract.js';

// Pass-through fs with counters and fault injection, seen by the store's modules.
const fsHooks = vi.hoisted(() => ({
  /** Targets of renames into a `tasks` directory. */
  renames: [] as string[],
  /** Error to throw instead of writing the temp file for a target, after writing half of it. */
  failWrite: undefined as undefined | ((tempPath: string) => NodeJS.ErrnoException | undefined),
  failRename: undefined as undefined | ((to: string) => NodeJS.ErrnoException | undefined),
  onOpen: undefined as undefined | ((path: string) => void),
}));

// The store writes task files with node:fs's callback API.
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof Fs>();
  // Paths of open temp files whose writes must fail, by descriptor.
  const failing = new Map<number, NodeJS.ErrnoException>();
  type Cb<T> = (err: NodeJS.ErrnoException | null, value: T) => void;
  const open = ((path: Fs.PathLike, flags: Fs.OpenMode, modeOrCb: Fs.Mode | Cb<number>, maybeCb?: Cb<number>) => {
    const [mode, cb] = typeof modeOrCb === 'function' ? [0o666, modeOrCb] : [modeOrCb, maybeCb!];
    fsHooks.onOpen?.(String(path));
    real.open(path, flags, mode, (err, fd) => {
      const fail = err ? undefined : fsHooks.failWrite?.(String(path));
      if (fail) failing.set(fd, fail);
      cb(err, fd);
    });
  }) as typeof real.open;
  const write = ((fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null, cb: Cb<number>) => {
    const fail = failing.get(fd);
    if (!fail) return real.write(fd, buffer, offset, length, position, cb);
    // Half the bytes reach the temp file, then the device refuses the rest.
    real.write(fd, buffer, offset, length >> 1, position, () => cb(fail, 0));
  }) as typeof real.write;
  const close = ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
    failing.delete(fd);
    real.close(fd, cb);
  }) as typeof real.close;
  const rename = ((from: Fs.PathLike, to: Fs.PathLike, cb: (err: NodeJS.ErrnoException | null) => void) => {
    const err = fsHooks.failRename?.(String(to));
    if (err) {
      process.nextTick(cb, err);
      return;
    }
    if (String(to).includes('/tasks/')) fsHooks.renames.push(String(to));
    real.rename(from, to, cb);
  }) as typeof real.rename;
  const hooked = { open, write, close, rename };
  return { ...real, ...hooked, default: { ...real, ...hooked } };
});

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: simulated`), { code });

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bgexec-jsondir-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  fsHooks.failWrite = undefined;
  fsHooks.failRename = undefined;
  fsHooks.onOpen = undefined;
  fsHooks.renames.length = 0;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

for (const durability of ['fsync', 'rename'] as const) {
  describeStoreContract(`JsonDirStore (${durability})`, async () => {
    const dir = await tempDir();
    const stores: Store[] = [new JsonDirStore({ dir, durability })];
    return {
      store: stores[0]!,
      reopen: async () => {
        const s = new JsonDirStore({ dir, durability });
        stores.push(s);
        return s;
      },
      cleanup: async () => {
        for (const s of stores) await s.close();
      },
    };
  });
}

describe('JsonDirStore', () => {
  let dir: string;
  let store: JsonDirStore;
  beforeEach(async () => {
    dir = await tempDir();
    store = new JsonDirStore({ dir: join(dir, 'state') });
    await store.load();
  });
  afterEach(async () => {
    await store.close();
  });
  const taskFile = (id: string): string => join(dir, 'state', 'tasks', `${id}.json`);

  it('creates 0700 directories and 0600 files, one JSON file per task', async () => {
    await store.put(makeFullRecord('perm'));
    const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;
    expect(await mode(join(dir, 'state'))).toBe(0o700);
    expect(await mode(join(dir, 'state', 'tasks'))).toBe(0o700);
    expect(await mode(join(dir, 'state', 'runs'))).toBe(0o700);
    expect(await mode(join(dir, 'state', 'lock'))).toBe(0o600);
    expect(await mode(taskFile('perm'))).toBe(0o600);
    expect(store.runRoot).toBe(join(dir, 'state', 'runs'));
    expect(JSON.parse(await readFile(taskFile('perm'), 'utf8'))).toEqual(makeFullRecord('perm'));
    expect(await readdir(join(dir, 'state', 'tasks'))).toEqual(['perm.json']);
  });

  it('coalesces 100 puts of one id in one tick into one write', async () => {
    const rec = makeRecord('hot');
    const puts: Array<Promise<void>> = [];
    for (let i = 1; i <= 100; i++) {
      rec.attempt = i;
      puts.push(store.put(rec));
    }
    await Promise.all(puts);
    expect(fsHooks.renames.filter((p) => p === taskFile('hot'))).toHaveLength(1);
    expect(store.stats).toMatchObject({ batches: 1, writes: 1, dirSyncs: 1 });
    expect(JSON.parse(await readFile(taskFile('hot'), 'utf8')).attempt).toBe(100);
  });

  it('group-commits many ids with one directory fsync', async () => {
    const puts: Array<Promise<void>> = [];
    for (let round = 0; round < 3; round++) for (let i = 0; i < 50; i++) puts.push(store.put(makeRecord(`g${i}`, { attempt: round })));
    await Promise.all(puts);
    expect(fsHooks.renames).toHaveLength(50);
    expect(store.stats).toMatchObject({ batches: 1, writes: 50, dirSyncs: 1 });
  });

  it('keeps tasks/ open for its directory fsyncs from load() to close(), and no longer', async () => {
    const tasksDir = join(dir, 'state', 'tasks');
    const heldOpen = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === tasksDir;
      } catch {
        return false; // the descriptor readdir itself used, closed meanwhile
      }
    }).length;
    expect(heldOpen()).toBe(1);
    await Promise.all([store.put(makeRecord('d1')), store.put(makeRecord('d2'))]);
    await store.put(makeRecord('d3'));
    expect(store.stats).toMatchObject({ dirSyncs: 2 });
    expect(heldOpen()).toBe(1);
    await store.close();
    expect(heldOpen()).toBe(0);
  });

  it('sends puts made during a flush to the next batch', async () => {
    let late: Promise<void> | undefined;
    const order: string[] = [];
    fsHooks.onOpen = (p) => {
      if (late === undefined && p.includes('.a.json.')) late = store.put(makeRecord('b')).then(() => void order.push('b'));
    };
    await store.put(makeRecord('a')).then(() => void order.push('a'));
    await late;
    expect(order).toEqual(['a', 'b']);
    expect(fsHooks.renames).toEqual([taskFile('a'), taskFile('b')]);
    expect(store.stats.batches).toBe(2);
  });

  it('cancels a pending put with delete and unlinks existing files', async () => {
    await store.put(makeRecord('old'));
    await Promise.all([store.put(makeRecord('new')), store.delete('new'), store.delete('old')]);
    expect(fsHooks.renames).toEqual([taskFile('old')]);
    expect(await readdir(join(dir, 'state', 'tasks'))).toEqual([]);
  });

  it('rejects a failed write with STORE_FAILED and keeps the previous file', async () => {
    await store.put(makeRecord('w', { attempt: 1 }));
    const before = await readFile(taskFile('w'), 'utf8');
    fsHooks.failWrite = (p) => (p.includes('.w.json.') ? errno('ENOSPC') : undefined);
    const bad = store.put(makeRecord('w', { attempt: 2, spec: { command: 'x'.repeat(10_000) } }));
    const good = store.put(makeRecord('other'));
    const flushed = store.flush();
    await expect(bad).rejects.toMatchObject({ code: 'STORE_FAILED', taskId: 'w', cause: { code: 'ENOSPC' } });
    await expect(flushed).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await good;
    expect(await readFile(taskFile('w'), 'utf8')).toBe(before);
    expect((await readdir(join(dir, 'state', 'tasks'))).sort()).toEqual(['other.json', 'w.json']);
    expect(store.stats.failures).toBe(1);
    // The store goes on working.
    fsHooks.failWrite = undefined;
    await store.put(makeRecord('w', { attempt: 3 }));
    expect(JSON.parse(await readFile(taskFile('w'), 'utf8')).attempt).toBe(3);
  });

  it('removes the temp file when the rename fails', async () => {
    await store.put(makeRecord('r', { attempt: 1 }));
    fsHooks.failRename = (to) => (to === taskFile('r') ? errno('EACCES') : undefined);
    await expect(store.put(makeRecord('r', { attempt: 2 }))).rejects.toMatchObject({ code: 'STORE_FAILED', cause: { code: 'EACCES' } });
    expect(await readdir(join(dir, 'state', 'tasks'))).toEqual(['r.json']);
    expect(JSON.parse(await readFile(taskFile('r'), 'utf8')).attempt).toBe(1);
  });

  it('rejects ids that could escape the tasks directory', async () => {
    const bad = ['', '.', '..', '../x', 'a/b', 'a\\b', 'a.b', 'a b', 'é', 'x'.repeat(129), 'nul\0'];
    for (const id of bad) {
      await expect(store.put(makeRecord(id)), JSON.stringify(id)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'id' });
      await expect(store.delete(id)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'id' });
    }
    await store.put(makeRecord('x'.repeat(128)));
    await store.put(makeRecord('A-z_09'));
    expect((await readdir(join(dir, 'state', 'tasks'))).length).toBe(2);
  });

  it('rejects records that would not load back', async () => {
    await expect(store.put({ ...makeRecord('v'), version: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'record' });
    await expect(store.put(makeRecord('s', { status: 'bogus' as never }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('quarantines bad files, reports each by name, and loads the rest', async () => {
    await Promise.all([store.put(makeRecord('ok1')), store.put(makeFullRecord('ok2'))]);
    await store.close();
    const tasks = join(dir, 'state', 'tasks');
    const valid = JSON.stringify(makeFullRecord('trunc'));
    const bad: Record<string, string> = {
      'corrupt.json': '{"version": 1, "id": "corrupt", nope',
      'trunc.json': valid.slice(0, valid.length >> 1),
      'empty.json': '',
      'foreign.txt': 'hello',
      'bad..name.json': JSON.stringify(makeRecord('x')),
      'wrongver.json': JSON.stringify({ ...makeRecord('wrongver'), version: 99 }),
      'mismatch.json': JSON.stringify(makeRecord('someone-else')),
      'nostatus.json': JSON.stringify({ ...makeRecord('nostatus'), status: 'zombie' }),
      'array.json': '[]',
    };
    for (const [name, text] of Object.entries(bad)) await writeFile(join(tasks, name), text);
    await mkdir(join(tasks, 'subdir'));
    await writeFile(join(tasks, '.ok1.json.999.1.tmp'), '{"half":'); // leftover of a crashed write
    store = new JsonDirStore({ dir: join(dir, 'state') });
    const { records, problems } = await store.load();
    expect(records.map((r) => r.id)).toEqual(['ok1', 'ok2']);
    const names = [...Object.keys(bad), 'subdir'].sort();
    expect(problems.map((p) => p.source)).toEqual(names.map((n) => join(tasks, n)));
    for (const p of problems) {
      expect(p.error.code).toBe('STORE_CORRUPT');
      expect(p.error.message).toContain(p.source);
      expect(p.quarantinedTo).toMatch(new RegExp(`/quarantine/${p.source.split('/').pop()!.replace(/\./g, '\\.')}\\.\\d{4}-`));
      const name = p.source.split('/').pop()!;
      if (name !== 'subdir') expect(await readFile(p.quarantinedTo!, 'utf8')).toBe(bad[name]);
    }
    expect(problems.find((p) => p.source.endsWith('wrongver.json'))?.error.message).toMatch(/version 99/);
    expect((await readdir(tasks)).sort()).toEqual(['ok1.json', 'ok2.json']);
    expect((await stat(join(dir, 'state', 'quarantine'))).mode & 0o777).toBe(0o700);
    // Nothing is quarantined twice.
    expect((await store.load()).problems).toEqual([]);
    expect(await readdir(join(dir, 'state', 'quarantine'))).toHaveLength(names.length);
  });

  it('refuses operations after close and before load', async () => {
    await store.close();
    await expect(store.put(makeRecord('late'))).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringMatching(/closed/) });
    await expect(store.delete('late')).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(store.flush()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(store.load()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await store.close(); // idempotent
    const fresh = new JsonDirStore({ dir: join(dir, 'other') });
    await expect(fresh.put(makeRecord('early'))).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringMatching(/load\(\)/) });
    await fresh.close();
  });

  it('validates its options', () => {
    expect(() => new JsonDirStore({ dir: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'dir' }));
    expect(() => new JsonDirStore({ dir: 'x', durability: 'sometimes' as never })).toThrow(expect.objectContaining({ field: 'durability' }));
  });
});

describe('JsonDirStore performance', () => {
  it('loads 10,000 records quickly and reports write throughput', async () => {
    const dir = await tempDir();
    const writer = new JsonDirStore({ dir, durability: 'rename' });
    await writer.load();
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => writer.put(makeFullRecord(`task-${i}`))));
    await writer.close();

    const reader = new JsonDirStore({ dir });
    const t0 = performance.now();
    const { records, problems } = await reader.load();
    const loadMs = performance.now() - t0;
    await reader.close();
    expect(records).toHaveLength(10_000);
    expect(problems).toEqual([]);
    console.log(`[json-dir] load of 10,000 records: ${loadMs.toFixed(0)} ms`);
    // Generous: ~0.5 s alone, up to ~3.5 s when other suites share the two cores. The bound is
    // there to catch a loader gone quadratic or blocking, not a few percent.
    expect(loadMs).toBeLessThan(8000);

    for (const durability of ['fsync', 'rename'] as const) {
      const s = new JsonDirStore({ dir: await tempDir(), durability });
      await s.load();
      let t = performance.now();
      await Promise.all(Array.from({ length: 2000 }, (_, i) => s.put(makeFullRecord(`c${i}`))));
      const concurrent = 2000 / ((performance.now() - t) / 1000);
      t = performance.now();
      for (let i = 0; i < 200; i++) await s.put(makeFullRecord(`s${i}`));
      const sequential = 200 / ((performance.now() - t) / 1000);
      await s.close();
      console.log(`[json-dir] ${durability}: ${concurrent.toFixed(0)} puts/s concurrent (2000 ids), ${sequential.toFixed(0)} puts/s awaited one by one`);
      expect(concurrent).toBeGreaterThan(50);
    }
  }, 120_000);
});

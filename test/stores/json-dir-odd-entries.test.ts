// What a JsonDirStore load does with entries of tasks/ that are not plain, readable, reasonably
// sized files with sane names: each one is moved to quarantine/ (never followed, never read past
// the size cap) and reported, and the load goes on with the rest. Also: put() keeps the state it
// validated, whatever happens to the object before the commit.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_RECORD_BYTES } from '../../src/stores/json-dir-load.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { StoreLoadResult } from '../../src/stores/types.js';
import { makeFullRecord, makeRecord } from './_records.js';

const CHILD = fileURLToPath(new URL('./_json-dir-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bgexec-odd-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function openStore(dir: string): JsonDirStore {
  const s = new JsonDirStore({ dir, durability: 'rename' });
  cleanups.push(() => s.close());
  return s;
}

/** A store dir holding one valid task `good` (and whatever `setup` adds to tasks/). */
async function storeWith(setup: (tasks: string, dir: string) => void): Promise<{ dir: string; tasks: string }> {
  const dir = await tempDir();
  const tasks = join(dir, 'tasks');
  mkdirSync(tasks, { mode: 0o700 });
  writeFileSync(join(tasks, 'good.json'), JSON.stringify(makeFullRecord('good')));
  setup(tasks, dir);
  return { dir, tasks };
}

/** Loads `dir`, expects `good` back and `n` problems, all STORE_CORRUPT; returns the result. */
async function loadExpecting(dir: string, n: number): Promise<StoreLoadResult> {
  const result = await openStore(dir).load();
  expect(result.records.map((r) => r.id)).toEqual(['good']);
  expect(result.problems.map((p) => p.error.code)).toEqual(Array.from({ length: n }, () => 'STORE_CORRUPT'));
  return result;
}

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const quarantined = (dir: string): string[] => readdirSync(join(dir, 'quarantine')).sort();

describe('JsonDirStore load: odd entries in tasks/', () => {
  it('moves sparse 600 MB and 3 GB task files aside unread (size checked before reading)', async () => {
    const { dir, tasks } = await storeWith((t) => {
      writeFileSync(join(t, 'big.json'), '');
      truncateSync(join(t, 'big.json'), 600 * 1024 * 1024);
      writeFileSync(join(t, 'huge.json'), '');
      truncateSync(join(t, 'huge.json'), 3 * 1024 * 1024 * 1024);
      // One byte over the cap is too large; exactly at the cap is read (and is not JSON).
      writeFileSync(join(t, 'over.json'), '');
      truncateSync(join(t, 'over.json'), MAX_RECORD_BYTES + 1);
    });
    const { problems } = await loadExpecting(dir, 3);
    for (const p of problems) {
      expect(p.error.message).toMatch(/larger than 16777216 bytes/);
      expect(p.error.taskId).toBeDefined();
    }
    expect(readdirSync(tasks)).toEqual(['good.json']);
    const sizes = problems.map((p) => statSync(p.quarantinedTo!).size).sort((a, b) => a - b);
    expect(sizes).toEqual([MAX_RECORD_BYTES + 1, 600 * 1024 * 1024, 3 * 1024 * 1024 * 1024]);
  });

  it('moves a file whose name is not valid UTF-8 aside under a safe name, content intact', async () => {
    const raw = Buffer.from([0xff, 0xfe, 0x2e, 0x6a, 0x73, 0x6f, 0x6e]); // "\xff\xfe.json"
    const { dir, tasks } = await storeWith((t) => writeFileSync(Buffer.concat([Buffer.from(`${t}/`), raw]), 'payload'));
    const { problems } = await loadExpecting(dir, 1);
    const [p] = problems;
    expect(p!.source).toBe(join(tasks, '\\xff\\xfe.json'));
    expect(p!.error.message).toMatch(/not a task file name/);
    expect(readdirSync(tasks)).toEqual(['good.json']);
    const [name] = quarantined(dir);
    expect(name).toMatch(/^[A-Za-z0-9._~-]+$/);
    expect(join(dir, 'quarantine', name!)).toBe(p!.quarantinedTo);
    expect(readFileSync(p!.quarantinedTo!, 'utf8')).toBe('payload');
  });

  it('moves entries with 250- and 255-byte names aside (the quarantine name fits NAME_MAX)', async () => {
    const long = `${'a'.repeat(245)}.json`;
    const longest = `${'é'.repeat(125)}.json`; // 255 bytes of UTF-8
    const { dir, tasks } = await storeWith((t) => {
      writeFileSync(join(t, long), 'x');
      mkdirSync(join(t, longest));
    });
    const { problems } = await loadExpecting(dir, 2);
    expect(readdirSync(tasks)).toEqual(['good.json']);
    const names = quarantined(dir);
    expect(names).toHaveLength(2);
    for (const n of names) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(128);
    expect(problems.map((p) => p.source).sort()).toEqual([join(tasks, long), join(tasks, longest)].sort());
    // Two loads in a row never reuse a quarantine name.
    const again = await storeWith((t) => writeFileSync(join(t, long), 'y'));
    expect((await loadExpecting(again.dir, 1)).problems[0]!.quarantinedTo).toMatch(/~[0-9a-f]{12}\./);
  });

  it('moves a directory, a FIFO and symlinks aside without following or opening them', async () => {
    const outside = await tempDir();
    writeFileSync(join(outside, 'other.json'), JSON.stringify(makeRecord('other')));
    const { dir, tasks } = await storeWith((t) => {
      mkdirSync(join(t, 'dir.json'));
      writeFileSync(join(t, 'dir.json', 'inner'), 'kept');
      execFileSync('mkfifo', [join(t, 'fifo.json')]);
      symlinkSync(join(outside, 'other.json'), join(t, 'other.json')); // a valid record, elsewhere
      symlinkSync('/nonexistent/x.json', join(t, 'dangling.json'));
      symlinkSync(outside, join(t, 'linkdir'));
    });
    const { problems } = await loadExpecting(dir, 5);
    for (const p of problems) expect(p.error.message).toMatch(/not a regular file/);
    expect(readdirSync(tasks)).toEqual(['good.json']);
    const moved = new Map(problems.map((p) => [p.source.split('/').pop(), p.quarantinedTo!]));
    expect(readlinkSync(moved.get('other.json')!)).toBe(join(outside, 'other.json'));
    expect(lstatSync(moved.get('fifo.json')!).isFIFO()).toBe(true);
    expect(readFileSync(join(moved.get('dir.json')!, 'inner'), 'utf8')).toBe('kept');
    expect(readdirSync(outside)).toEqual(['other.json']);
  });

  it('moves an unreadable file (EACCES) aside and loads the rest', async (ctx) => {
    if (process.getuid?.() === 0 && !hasSetpriv()) return ctx.skip();
    const { dir, tasks } = await storeWith((t) => {
      writeFileSync(join(t, 'secret.json'), JSON.stringify(makeRecord('secret')));
      chmodSync(join(t, 'secret.json'), 0);
    });
    let result: { ids: string[]; problems: Array<{ source: string; quarantinedTo?: string; code: string; message: string }> };
    if (process.getuid?.() === 0) {
      // root reads a mode-0 file anyway: load as `nobody`, who owns the store but not that file.
      for (const p of [dir, tasks, join(tasks, 'good.json')]) chownSync(p, 65534, 65534);
      chmodSync(dir, 0o700);
      const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', CHILD, 'load', dir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 20_000,
      });
      result = JSON.parse(out) as typeof result;
    } else {
      const r = await openStore(dir).load();
      result = { ids: r.records.map((x) => x.id), problems: r.problems.map((p) => ({ ...p, code: p.error.code, message: p.error.message })) };
    }
    expect(result.ids).toEqual(['good']);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ source: join(tasks, 'secret.json'), code: 'STORE_CORRUPT', message: expect.stringMatching(/EACCES/) });
    expect(readdirSync(tasks)).toEqual(['good.json']);
    expect(existsSync(result.problems[0]!.quarantinedTo!)).toBe(true);
  });

  it('quarantines hidden *.tmp files it did not write instead of deleting them', async () => {
    const { dir, tasks } = await storeWith((t) => {
      writeFileSync(join(t, '.notes.tmp'), 'someone else’s');
      writeFileSync(join(t, '.good.json.123.4.tmp'), '{"half":'); // a crashed write of ours
    });
    const { problems } = await loadExpecting(dir, 1);
    expect(problems[0]!.source).toBe(join(tasks, '.notes.tmp'));
    expect(readFileSync(problems[0]!.quarantinedTo!, 'utf8')).toBe('someone else’s');
    expect(readdirSync(tasks)).toEqual(['good.json']);
  });
});

describe('JsonDirStore load: a quarantine/ that is not a directory', () => {
  it.each([
    ['a symlink to a directory outside the store', (q: string, outside: string) => symlinkSync(outside, q)],
    ['a dangling symlink', (q: string) => symlinkSync('/nonexistent/quarantine', q)],
    ['a regular file', (q: string) => writeFileSync(q, 'not a dir')],
  ])('%s: moved aside (never followed), replaced by a real directory, reported', async (_name, make) => {
    const outside = await tempDir();
    const { dir, tasks } = await storeWith((t, d) => {
      writeFileSync(join(t, 'bad.json'), '{nope');
      make(join(d, 'quarantine'), outside);
    });
    const { problems } = await loadExpecting(dir, 2);
    expect(readdirSync(outside)).toEqual([]);
    const q = join(dir, 'quarantine');
    expect(lstatSync(q).isDirectory()).toBe(true);
    expect(statSync(q).mode & 0o777).toBe(0o700);
    const displaced = problems.find((p) => p.source === q)!;
    expect(displaced.error.message).toMatch(/not a directory/);
    expect(displaced.quarantinedTo).toMatch(/\/quarantine\.displaced-/);
    expect(existsSync(displaced.quarantinedTo!) || lstatSync(displaced.quarantinedTo!).isSymbolicLink()).toBe(true);
    const bad = problems.find((p) => p.source === join(tasks, 'bad.json'))!;
    expect(bad.quarantinedTo!.startsWith(`${q}/`)).toBe(true);
    expect(readFileSync(bad.quarantinedTo!, 'utf8')).toBe('{nope');
  });
});

describe('JsonDirStore put: what is validated is what is written', () => {
  it('writes the state of the put() call, not the object as changed before the commit', async () => {
    const dir = await tempDir();
    const store = openStore(dir);
    await store.load();
    const records = Array.from({ length: 20 }, (_, i) => makeRecord(`m${i}`, { status: 'waiting', runAt: 1000 + i }));
    const puts = records.map((r) => store.put(r));
    for (const r of records) {
      // Changed in the same tick, before the group commit runs: an invalid value and a valid one.
      r.runAt = Number.POSITIVE_INFINITY;
      r.attempt = 99;
    }
    await Promise.all(puts);
    for (const [i, r] of records.entries()) {
      const text = readFileSync(join(dir, 'tasks', `${r.id}.json`), 'utf8');
      expect(JSON.parse(text)).toEqual(makeRecord(`m${i}`, { status: 'waiting', runAt: 1000 + i }));
    }
    await store.close();
    const { records: back, problems } = await openStore(dir).load();
    expect(problems).toEqual([]);
    expect(back).toHaveLength(20);
  });

  it('keeps an earlier valid put when a later put of the same object is refused', async () => {
    const dir = await tempDir();
    const store = openStore(dir);
    await store.load();
    const live = makeRecord('live', { status: 'waiting', runAt: 5 });
    const first = store.put(live);
    live.runAt = Number.POSITIVE_INFINITY; // JSON would write null
    await expect(store.put(live)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'record' });
    await first;
    expect(JSON.parse(readFileSync(join(dir, 'tasks', 'live.json'), 'utf8')).runAt).toBe(5);
  });

  it('refuses records JSON cannot hold, or larger than a load accepts, with INVALID_ARGUMENT', async () => {
    const dir = await tempDir();
    const store = openStore(dir);
    await store.load();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad = [
      makeRecord('big', { spec: { command: 'true', metadata: { n: 1n as never } } }),
      makeRecord('circ', { spec: { command: 'true', metadata: circular } }),
      makeRecord('huge', { spec: { command: 'x'.repeat(MAX_RECORD_BYTES) } }),
    ];
    for (const r of bad) await expect(store.put(r), r.id).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'record', taskId: r.id });
    // At the edge: a file of exactly MAX_RECORD_BYTES (JSON plus newline) is written and loads back.
    const sized = (n: number): ReturnType<typeof makeRecord> => makeRecord('edge', { spec: { command: 'x'.repeat(n) } });
    const n = MAX_RECORD_BYTES - 1 - JSON.stringify(sized(0)).length;
    await expect(store.put(sized(n + 1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'record' });
    await store.put(sized(n));
    expect(statSync(join(dir, 'tasks', 'edge.json')).size).toBe(MAX_RECORD_BYTES);
    await store.close();
    const again = openStore(dir);
    const { records, problems } = await again.load();
    expect(problems).toEqual([]);
    expect(records.map((r) => r.id)).toEqual(['edge']);
    expect(JsonDirStore.MAX_RECORD_BYTES).toBe(MAX_RECORD_BYTES);
  });
});

// Errors that are about the process or the device, not about one entry, fail a JsonDirStore load
// (STORE_FAILED) and move nothing; the same kind of error naming one entry only quarantines it.
import type * as Fs from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { makeRecord } from './_records.js';

// Pass-through sync fs with an error injected into openSync for chosen paths.
const hooks = vi.hoisted(() => ({
  failOpen: undefined as undefined | ((path: string) => string | undefined),
  failRename: undefined as undefined | ((to: string) => string | undefined),
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof Fs>();
  const openSync = ((path: Fs.PathLike, ...rest: unknown[]) => {
    const code = hooks.failOpen?.(String(path));
    if (code) throw Object.assign(new Error(`${code}: simulated`), { code });
    return (real.openSync as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof real.openSync;
  return { ...real, openSync, default: { ...real, openSync } };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const rename: typeof real.rename = async (from, to) => {
    const code = hooks.failRename?.(String(to));
    if (code) throw Object.assign(new Error(`${code}: simulated`), { code });
    return real.rename(from, to);
  };
  return { ...real, rename, default: { ...real, rename } };
});

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  hooks.failOpen = undefined;
  hooks.failRename = undefined;
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function storeDir(ids: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bgexec-faults-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tasks'));
  for (const id of ids) writeFileSync(join(dir, 'tasks', `${id}.json`), JSON.stringify(makeRecord(id)));
  return dir;
}

function open(dir: string): JsonDirStore {
  const s = new JsonDirStore({ dir, durability: 'rename' });
  cleanups.push(() => s.close());
  return s;
}

describe('JsonDirStore load: process- and device-level errors', () => {
  it.each(['EMFILE', 'ENFILE', 'ENOMEM', 'EIO'])('%s opening task files → STORE_FAILED, nothing moved', async (code) => {
    const dir = await storeDir(['a', 'b', 'c']);
    hooks.failOpen = (p) => (p.includes('/tasks/') ? code : undefined);
    await expect(open(dir).load()).rejects.toMatchObject({ code: 'STORE_FAILED', cause: { code } });
    expect(readdirSync(join(dir, 'tasks')).sort()).toEqual(['a.json', 'b.json', 'c.json']);
    expect(readdirSync(dir)).not.toContain('quarantine');
  });

  it('an entry that cannot be moved to quarantine → reported without quarantinedTo, left in place, load goes on', async () => {
    const dir = await storeDir(['a']);
    writeFileSync(join(dir, 'tasks', 'bad.json'), '{nope');
    hooks.failRename = (to) => (to.includes('/quarantine/') ? 'EACCES' : undefined);
    for (let round = 0; round < 2; round++) {
      const store = open(dir);
      const { records, problems } = await store.load();
      await store.close();
      expect(records.map((r) => r.id)).toEqual(['a']);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toEqual({ source: join(dir, 'tasks', 'bad.json'), error: expect.objectContaining({ code: 'STORE_CORRUPT' }) });
      expect(problems[0]!.error.message).toMatch(/left in place \(cannot move it: EACCES/);
      expect(readdirSync(join(dir, 'tasks')).sort()).toEqual(['a.json', 'bad.json']);
    }
  });

  it.each(['EACCES', 'EPERM', 'ELOOP'])('%s opening one task file → that file quarantined, the rest loaded', async (code) => {
    const dir = await storeDir(['a', 'b', 'c']);
    hooks.failOpen = (p) => (p.endsWith('/tasks/b.json') ? code : undefined);
    const { records, problems } = await open(dir).load();
    expect(records.map((r) => r.id).sort()).toEqual(['a', 'c']);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.error).toMatchObject({ code: 'STORE_CORRUPT', taskId: 'b', message: expect.stringContaining(code) });
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1);
  });
});

// JsonDirReader: a read-only view of a store another executor owns. It takes no lock, never
// writes, quarantines or repairs anything, and reads the output of every attempt by cursor.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirReader } from '../../src/stores/json-dir-reader.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { scratch } from './_bin.js';

let tmp: { dir: string; remove: () => void };
let store: string;
let ex: BackgroundExecutor | undefined;

// Every entry of the store (but output files) with its size and mtime: what a writer would change.
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      out.push(`${relative(store, p)} ${st.size} ${st.mtimeMs} ${st.mode}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

beforeEach(() => {
  tmp = scratch('bgexec-reader-');
  store = join(tmp.dir, 'store');
});

afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
  tmp.remove();
});

describe('JsonDirReader', () => {
  it('reads a locked store without writing anything, leaving bad files where they are', async () => {
    const owned = new JsonDirStore({ dir: store, durability: 'rename' });
    ex = new BackgroundExecutor({ store: owned });
    const a = await ex.submit({ command: 'echo one' });
    const b = await ex.submit({ command: 'echo attempt $BGEXEC_ATTEMPT; echo err >&2; [ $BGEXEC_ATTEMPT = 2 ]', retry: { attempts: 2 } });
    await ex.wait(a.id);
    await ex.wait(b.id);
    await ex.onIdle();
    await owned.flush();
    // A file the owner would quarantine at its next load: a reader leaves it alone.
    writeFileSync(join(store, 'tasks', 'broken.json'), '{"version":');
    writeFileSync(join(store, 'tasks', 'notes.txt'), 'hi');
    const before = listing(store);

    const reader = new JsonDirReader({ dir: store });
    const snap = await reader.snapshot();
    expect(snap.records.map((r) => [r.id, r.status])).toEqual([[a.id, 'completed'], [b.id, 'completed']]);
    expect(snap.skipped).toEqual(
      expect.arrayContaining([
        { name: 'broken.json', reason: 'not valid JSON' },
        { name: 'notes.txt', reason: 'not a task file name' },
      ]),
    );
    expect((await reader.get(b.id))?.attempt).toBe(2);
    expect(await reader.get('missing')).toBeUndefined();
    expect(await reader.owner()).toMatchObject({ pid: process.pid, alive: true });
    expect((await reader.readOutput(b.id, { attempt: 1 })).text).toBe('attempt 1\n');
    expect((await reader.readOutput(b.id)).text).toBe('attempt 2\n');
    expect(await reader.readOutput(b.id, { stream: 'stderr', attempt: 1 })).toMatchObject({ text: 'err\n', eof: true, totalBytes: 4 });
    expect((await reader.readOutput(a.id, { cursor: 2, maxBytes: 2 })).text).toBe('e\n');
    const chunks: string[] = [];
    for await (const c of reader.follow(b.id)) chunks.push(`${c.attempt}:${c.text}`);
    expect(chunks).toEqual(['2:attempt 2\n']);
    expect(await reader.wait(a.id, { timeoutMs: 1000 })).toMatchObject({ status: 'completed' });
    await reader.close();

    expect(listing(store)).toEqual(before);
    await ex.shutdown();
    expect(await reader.owner()).toBeUndefined(); // lock released
  });

  it('refuses a directory that is no store, and a bad id', async () => {
    const reader = new JsonDirReader({ dir: join(tmp.dir, 'nothing') });
    await expect(reader.snapshot()).rejects.toMatchObject({ code: 'STORE_FAILED' });
    await expect(reader.get('../etc/passwd')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => new JsonDirReader({ dir: '' })).toThrow(/dir/);
  });

  it('times out a wait on a task that does not end', async () => {
    ex = new BackgroundExecutor({ store: new JsonDirStore({ dir: store, durability: 'rename' }) });
    ex.pause();
    const r = await ex.submit({ command: 'true' });
    const reader = new JsonDirReader({ dir: store, pollMs: 20 });
    await expect(reader.wait(r.id, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'WAIT_TIMEOUT' });
  });
});

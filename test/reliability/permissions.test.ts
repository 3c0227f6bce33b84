// Permissions: store files 0600; the store directory, its subdirectories and every local run
// directory (under the store's runs/) 0700 — with the umask cleared to 000 for the run, so that
// only modes bgexec sets itself count, not ones a restrictive umask happens to impose.
import { statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { LocalTransport } from '../../src/transports/local.js';
import { onCleanup, runCleanups, tempDir, walkFiles } from './_util.js';

let savedUmask = 0;
beforeEach(() => {
  savedUmask = process.umask(0);
});
afterEach(async () => {
  await runCleanups();
  process.umask(savedUmask);
});

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(3, '0');

/** Every directory from `dir` down (inclusive). */
function walkDirs(dir: string): string[] {
  const files = walkFiles(dir);
  const dirs = new Set<string>([dir]);
  for (const f of files) for (let d = join(f, '..'); d.startsWith(dir) && d !== dir; d = join(d, '..')) dirs.add(d);
  return [...dirs];
}

async function runSome(ex: BackgroundExecutor): Promise<void> {
  const ids = [];
  for (const spec of [{ command: 'echo out; echo err >&2' }, { command: 'echo d', detached: true }, { command: 'echo x; exit 3' }]) ids.push((await ex.submit(spec)).id);
  for (const id of ids) await ex.wait(id);
}

describe('permissions (umask 000)', () => {
  it('JsonDirStore: task files and lock 0600; store, tasks, quarantine, runs and every run directory 0700', async () => {
    const parent = tempDir();
    const dir = join(parent, 'state'); // created by the store itself
    // A pre-existing bad file, so that the quarantine directory gets created too.
    const tasks = join(dir, 'tasks');
    const seed = new JsonDirStore({ dir });
    await seed.load();
    await seed.close();
    writeFileSync(join(tasks, 'junk.json'), '{', { mode: 0o600 });
    const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir }) });
    onCleanup(() => ex.shutdown());
    ex.on('error', () => undefined); // the quarantined file is reported; expected here
    await ex.start();
    await runSome(ex);
    const files = walkFiles(dir).map((f) => relative(dir, f));
    const dirs = walkDirs(dir).map((d) => relative(dir, d) || '.');
    console.log(`[permissions] ${dirs.length} dirs, ${files.length} files: ${files.map((f) => `${f}=${mode(join(dir, f))}`).join(' ')}`);
    expect(dirs).toEqual(expect.arrayContaining(['.', 'tasks', 'quarantine', 'runs', join('runs', 'jobs')]));
    expect(dirs.filter((d) => d.startsWith('runs/jobs/')), dirs.join(' ')).toHaveLength(3);
    for (const d of dirs) expect(`${d} ${mode(join(dir, d))}`).toBe(`${d} 700`);
    const storeFiles = files.filter((f) => f.startsWith('tasks/') || f === 'lock');
    expect(storeFiles.length).toBeGreaterThanOrEqual(3);
    for (const f of storeFiles) expect(`${f} ${mode(join(dir, f))}`).toBe(`${f} 600`);
    // Output of non-detached attempts is opened by bgexec itself with 0600.
    for (const f of files.filter((x) => /jobs\/[^/]+\/(out|err)$/.test(x))) {
      const record = ex.list().find((r) => f.includes(`${r.id}-`));
      if (record?.spec.detached !== true) expect(`${f} ${mode(join(dir, f))}`).toBe(`${f} 600`);
    }
  });

  // The wrapper of a detached attempt writes pid, out, err and the exit marker through shell
  // redirections, which would follow the umask: every one of them exists beforehand with 0600.
  for (const umask of [0o000, 0o022]) {
    it(`detached attempts: every file of the run directory is 0600 (umask ${umask.toString(8).padStart(3, '0')})`, async () => {
      process.umask(umask);
      const root = tempDir();
      const transport = new LocalTransport({ root });
      onCleanup(() => transport.close());
      const h = await transport.start({ taskId: `perm_${umask}_${process.pid}`, attempt: 1, command: 'echo out; echo err >&2; exit 3', detached: true });
      expect(await transport.wait(h)).toMatchObject({ exitCode: 3 });
      const files = walkFiles(h.runDir!).map((f) => relative(h.runDir!, f)).sort();
      expect(files).toEqual(['err', 'exit', 'meta', 'out', 'pid']);
      for (const f of files) expect(`${f} ${mode(join(h.runDir!, f))}`).toBe(`${f} 600`);
      expect(mode(h.runDir!)).toBe('700');
    });
  }

  it('LocalTransport with its default root: the root and every run directory 0700', async () => {
    const transport = new LocalTransport();
    const ex = new BackgroundExecutor({ transports: { local: transport } });
    onCleanup(() => ex.shutdown());
    await runSome(ex);
    const root = transport.root!;
    expect(mode(root)).toBe('700');
    const dirs = walkDirs(root);
    expect(dirs.length).toBe(5); // root, jobs, three run dirs
    for (const d of dirs) expect(`${relative(root, d)} ${mode(d)}`).toBe(`${relative(root, d)} 700`);
  });
});

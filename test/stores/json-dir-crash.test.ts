import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isTempName } from '../../src/stores/atomic-write.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { recordProblem } from '../../src/stores/record-validate.js';

const CHILD = fileURLToPath(new URL('./_json-dir-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];

afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Runs a writer child and SIGKILLs it `delayMs` after its first durable batch. */
async function writeAndKill(dir: string, seed: number, durability: string, delayMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'write', dir, String(seed), durability], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  child.stdout.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => d.includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');
}

describe('JsonDirStore torn writes', () => {
  // Seeded, so a failure can be replayed: the kill delay and the child's workload derive from it.
  const runs = [[11, 'rename'], [23, 'fsync'], [37, 'rename'], [41, 'fsync'], [59, 'rename']] as const;
  for (const [seed, durability] of runs) {
    it(`leaves only valid task files when killed mid-write (seed ${seed}, ${durability})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'bgexec-crash-'));
      dirs.push(dir);
      const delayMs = 20 + ((seed * 7919) % 400);
      await writeAndKill(dir, seed, durability, delayMs);

      const names = await readdir(join(dir, 'tasks'));
      const taskFiles = names.filter((n) => !isTempName(n));
      expect(taskFiles.length).toBeGreaterThan(0);
      for (const name of taskFiles) {
        const text = await readFile(join(dir, 'tasks', name), 'utf8');
        expect(() => JSON.parse(text), name).not.toThrow();
        expect(recordProblem(JSON.parse(text), name.replace(/\.json$/, '')), name).toBeUndefined();
      }
      // A new store takes over the dead writer's lock, drops its temp files and loads everything.
      const store = new JsonDirStore({ dir });
      const { records, problems } = await store.load();
      await store.close();
      expect(problems).toEqual([]);
      expect(records).toHaveLength(taskFiles.length);
      expect((await readdir(join(dir, 'tasks'))).filter(isTempName)).toEqual([]);
      console.log(`[json-dir crash] seed ${seed}: killed after ${delayMs} ms, ${taskFiles.length} files valid, ${names.length - taskFiles.length} temp files removed`);
    });
  }
});

// A full file system under the run root: once a process exists it is tracked (or killed), never
// left running untracked, and a detached attempt's exit code still gets through (its
// `exit.pending` is pre-allocated). The full disk is a real one: a 64 KiB tmpfs mounted for the
// test and filled up (skipped, with the reason printed, where mounting is not allowed).
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { eventually } from '../proc.js';
import { newRoot, newTransport, pidsOfTask, registerCleanup, req } from './_local-fixture.js';

registerCleanup();

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      rmSync(m, { recursive: true, force: true });
    } catch {
      // Left for the OS; it is an empty mount point under the temp directory.
    }
  }
});

// A fresh 64 KiB tmpfs, or the reason it cannot be had.
function smallDisk(): string | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bgexec-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `cannot mount a tmpfs here (${String((err as Error).message).split('\n')[0]})` };
  }
  mounts.push(dir);
  return dir;
}

// Fills the file system of `dir` to the last block.
function fill(dir: string): void {
  const fd = openSync(join(dir, `fill-${Date.now()}-${Math.random()}`), 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (let i = 0; i < 1 << 20; i++) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  expect(() => writeFileSync(join(dir, 'probe'), 'x')).toThrow(/ENOSPC/);
}

const disk = smallDisk();
const skip = typeof disk === 'string' ? undefined : disk.skip;
if (skip !== undefined) console.log(`[full-disk] skipped: ${skip}`);

describe.skipIf(skip !== undefined)('a full disk under the run root', () => {
  const root = (): string => {
    const d = smallDisk();
    if (typeof d !== 'string') throw new Error(d.skip);
    return d;
  };

  it('an attached attempt whose pid cannot be written is still tracked: real exit code, nothing left running', async () => {
    const r = root();
    const side = join(newRoot(), 'side');
    const t = newTransport(r);
    fill(r);
    const h = await t.start(req(`echo ran >> '${side}'; sleep 0.3; exit 3`));
    expect(existsSync(join(h.runDir!, 'pid')) && readFileSync(join(h.runDir!, 'pid'), 'utf8') !== '').toBe(false);
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 3 });
    expect(readFileSync(side, 'utf8')).toBe('ran\n');
    expect(pidsOfTask(h.taskId)).toEqual([]);
  });

  it('through the executor: running and counted, then killed by shutdown({ mode: "kill" }); a plain failure is not spawn_failed', async () => {
    const r = root();
    const ex = new BackgroundExecutor({ transports: { local: newTransport(r) }, scheduler: new PriorityScheduler({ concurrency: 4 }) });
    await ex.start();
    fill(r);
    const failing = await ex.submit({ command: 'exit 3' });
    expect(await ex.wait(failing.id, { timeoutMs: 20_000 })).toMatchObject({ status: 'failed', exitCode: 3 });
    expect(ex.get(failing.id)?.reason).toBeUndefined();
    const long = await ex.submit({ command: 'sleep 300', graceMs: 300 });
    expect(await eventually(() => ex.get(long.id)?.status === 'running' && ex.get(long.id)?.handle !== undefined, 20_000)).toBe(true);
    expect(ex.metrics().running).toBe(1);
    expect(pidsOfTask(long.id).length).toBeGreaterThan(0);
    await ex.shutdown({ mode: 'kill' });
    expect(ex.get(long.id)).toMatchObject({ status: 'cancelled', reason: 'shutdown' });
    expect(await eventually(() => pidsOfTask(long.id).length === 0, 10_000)).toBe(true);
  });

  it('a detached attempt keeps its exit code when the disk fills up while it runs', async () => {
    const r = root();
    const go = join(newRoot(), 'go');
    const t = newTransport(r);
    const h = await t.start(req(`while [ ! -e '${go}' ]; do sleep 0.05; done; exit 5`, { detached: true }));
    fill(r);
    writeFileSync(go, '');
    expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 5, signal: null });
  });
});

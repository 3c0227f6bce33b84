// What a command leaves behind when its main process exits (`cmd &`, `setsid cmd &`) is reaped
// before the attempt counts as ended — so the end (wait(), the exit marker) means that no
// process of the attempt can still write its output — unless the request says `orphans: 'keep'`.
// Attached attempts are reaped by the transport, detached ones by their wrapper.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { findLeftovers } from '../../src/transports/leftovers.js';
import { LocalTransport } from '../../src/transports/local.js';
import { id, newRoot, newTransport, pidsOfTask, readAll, registerCleanup, req } from './_local-fixture.js';

registerCleanup();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

// Pids of `sleep <tag>` processes, found by their command line (they carry no markers).
function sleepers(tag: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1') === `sleep\0${tag}\0`) found.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return found;
}

for (const detached of [false, true]) {
  describe(`leftovers of a leader that exited (detached: ${detached})`, () => {
    const start = (t: LocalTransport, command: string, extra: Parameters<typeof req>[1] = {}) => t.start(req(command, { detached, ...extra }));

    it('a background child is ended before the end is reported, and writes nothing after it', async () => {
      const t = newTransport(newRoot());
      const h = await start(t, '(sleep 1; echo late) & echo first');
      expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
      expect(pidsOfTask(h.taskId)).toEqual([]);
      expect((await readAll(t, h, 'stdout')).toString()).toBe('first\n');
      await sleep(1500);
      expect((await readAll(t, h, 'stdout')).toString()).toBe('first\n');
    });

    it('`sleep 300 & exit 0` ends promptly with exit 0 and nothing left', async () => {
      const t = newTransport(newRoot());
      const h = await start(t, 'sleep 300 & exit 0');
      expect(await settledWithin(t.wait(h), 20_000)).toMatchObject({ state: 'exited', exitCode: 0, signal: null });
      expect(pidsOfTask(h.taskId)).toEqual([]);
    });

    it('reaches a child that left the group (setsid) and one that ignores SIGTERM (SIGKILL after graceMs)', async () => {
      const t = newTransport(newRoot());
      const h = await start(t, `setsid sleep 300 & (trap '' TERM; exec sleep 300) & exit 4`, { graceMs: 300 });
      expect(await settledWithin(t.wait(h), 20_000)).toMatchObject({ state: 'exited', exitCode: 4 });
      expect(pidsOfTask(h.taskId)).toEqual([]);
    });

    it('lingerMs lets leftovers finish by themselves first', async () => {
      const t = newTransport(newRoot());
      const h = await start(t, '(sleep 0.3; echo late) & echo first', { lingerMs: 10_000 });
      expect(await settledWithin(t.wait(h), 20_000)).toMatchObject({ exitCode: 0 });
      expect((await readAll(t, h, 'stdout')).toString()).toBe('first\nlate\n');
      expect(pidsOfTask(h.taskId)).toEqual([]);
    });

    it('the documented limit: a process that leaves the tree and clears its environment escapes, and the attempt still ends', async () => {
      const t = newTransport(newRoot());
      const tag = `${Date.now() % 100_000}.${process.pid % 1000}`;
      // It has cleared its environment before the main process exits, and keeps stdout open
      // (inherited): the end of an attached attempt does not wait for it past DRAIN_MS.
      const h = await start(t, `setsid -f env -i sleep ${tag}; sleep 0.5; echo done`);
      try {
        expect(await settledWithin(t.wait(h), 20_000)).toMatchObject({ exitCode: 0 });
        expect((await readAll(t, h, 'stdout')).toString()).toBe('done\n');
        expect(pidsOfTask(h.taskId)).toEqual([]);
        expect(sleepers(tag).length).toBe(1);
      } finally {
        for (const pid of sleepers(tag)) process.kill(pid, 'SIGKILL');
      }
    });

    it("a kept process that holds the output open does not hold back the end (output capped)", async () => {
      const t = newTransport(newRoot());
      const tag = `${(Date.now() % 100_000) + 1000}.${process.pid % 1000}`;
      // The daemon inherits stdout: with `maxOutputBytes` set, that is the pipe of a capped copier.
      const h = await start(t, `sleep ${tag} & echo started`, { orphans: 'keep', maxOutputBytes: 1_000_000 });
      try {
        expect(await settledWithin(t.wait(h), 15_000)).toMatchObject({ state: 'exited', exitCode: 0 });
        expect((await readAll(t, h, 'stdout')).toString()).toBe('started\n');
        expect(sleepers(tag).length).toBe(1);
      } finally {
        for (const pid of sleepers(tag)) process.kill(pid, 'SIGKILL');
      }
    });

    it("orphans: 'keep' leaves them running after the end", async () => {
      const root = newRoot();
      const t = newTransport(root);
      const flag = join(root, 'daemon-alive');
      const h = await start(t, `(sleep 0.5; touch '${flag}'; sleep 300) >/dev/null 2>&1 & exit 0`, { orphans: 'keep' });
      expect(await settledWithin(t.wait(h), 20_000)).toMatchObject({ exitCode: 0 });
      for (let i = 0; i < 200 && !existsSync(flag); i++) await sleep(25);
      expect(existsSync(flag)).toBe(true);
      expect(pidsOfTask(h.taskId).length).toBeGreaterThan(0);
    });
  });
}

describe('the /proc scan for leftovers', () => {
  it('finds processes started between two scans, by marker and by group (its census never hides a new process)', async () => {
    const startedAt = Date.now();
    const taskId = id();
    expect(await findLeftovers({ taskId, attempt: 1, pgid: 999_999_999, startedAt })).toEqual([]);
    // A marker carrier in a session of its own, and a group leader with a child in its group.
    const marked = spawn('sleep', ['30'], { env: { ...process.env, BGEXEC_TASK_ID: taskId, BGEXEC_ATTEMPT: '1' }, detached: true, stdio: 'ignore' });
    const leader = spawn('/bin/sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    try {
      await sleep(200);
      const byMarker = await findLeftovers({ taskId, attempt: 1, pgid: 999_999_999, startedAt });
      expect(byMarker).toEqual([marked.pid]);
      expect(await findLeftovers({ taskId, attempt: 2, pgid: 999_999_999, startedAt })).toEqual([]);
      const byGroup = await findLeftovers({ taskId: 'nobody', attempt: 1, pgid: leader.pid!, startedAt });
      expect(byGroup.length).toBe(2);
      expect(byGroup).toContain(leader.pid);
    } finally {
      marked.kill('SIGKILL');
      process.kill(-leader.pid!, 'SIGKILL');
    }
  });
});

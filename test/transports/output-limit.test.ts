// maxOutputBytes bounds what lands on disk: a stream is cut at exactly the limit where it is
// written (the attached attempt's pipe reader in Node, the detached wrapper's copiers, the same
// wrapper on an SSH host), the task fails with reason `output_limit`, and nothing else the
// command writes is capped. Real processes throughout; `yes` is the fastest writer at hand.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { MemoryStore } from '../../src/stores/memory.js';
import type { TaskRecord } from '../../src/task.js';
import { HANDOFF_BYTES } from '../../src/transports/job-protocol/output-cap.js';
import { LocalTransport } from '../../src/transports/local.js';
import { eventually, processesOfTask } from '../proc.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

// The documented slack: none. A stream's file never holds more than maxOutputBytes bytes.
const SLACK = 0;
// tmpfs when there is one: the 50 MB cases then cost memory copies, not disk writes.
const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function localExecutor(): { ex: BackgroundExecutor; root: string } {
  const root = mkdtempSync(join(base, 'bgexec-outlimit-'));
  dirs.push(root);
  const ex = new BackgroundExecutor({
    transports: { local: new LocalTransport({ root }) },
    store: new MemoryStore(),
    scheduler: new PriorityScheduler({ concurrency: 4 }),
  });
  return { ex, root };
}

const size = (path: string): number => statSync(path).size;
const runDir = (r: TaskRecord): string => r.handle?.runDir ?? '';

for (const detached of [false, true]) {
  const kind = detached ? 'detached' : 'attached';
  describe(`maxOutputBytes, ${kind} local attempts`, () => {
    for (const limit of [10_000, 1_000_000, 50_000_000]) {
      it(`yes with a ${limit}-byte limit: out holds exactly ${limit} bytes, failed/output_limit, nothing left running`, async () => {
        const { ex } = localExecutor();
        try {
          const t = await ex.submit({ command: 'yes', maxOutputBytes: limit, detached, graceMs: 1000 });
          const r = await ex.wait(t.id, { timeoutMs: 60_000 });
          expect(r).toMatchObject({ status: 'failed', reason: 'output_limit', stdoutBytes: limit });
          const out = join(runDir(r), 'out');
          expect(size(out)).toBeLessThanOrEqual(limit + SLACK);
          expect(size(out)).toBe(limit);
          // Cut at a line boundary of `yes` only by chance; the bytes are the writer's own.
          expect(readFileSync(out).subarray(0, 4).toString()).toBe('y\ny\n');
          expect(size(join(runDir(r), 'limit'))).toBeGreaterThan(0);
          expect(processesOfTask(t.id)).toEqual([]);
        } finally {
          await ex.shutdown({ mode: 'kill', graceMs: 200 });
        }
      }, 90_000);
    }

    it('stderr is capped on its own: yes >&2 with a 20,000-byte limit', async () => {
      const { ex } = localExecutor();
      try {
        const t = await ex.submit({ command: 'echo start; yes >&2', maxOutputBytes: 20_000, detached });
        const r = await ex.wait(t.id, { timeoutMs: 30_000 });
        expect(r).toMatchObject({ status: 'failed', reason: 'output_limit', stdoutBytes: 6, stderrBytes: 20_000 });
        expect(size(join(runDir(r), 'err'))).toBe(20_000);
        expect(readFileSync(join(runDir(r), 'out'), 'utf8')).toBe('start\n');
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('exactly maxOutputBytes is allowed: the task completes, exit code kept', async () => {
      const { ex } = localExecutor();
      try {
        const ok = await ex.submit({ command: 'head -c 10000 /dev/zero', maxOutputBytes: 10_000, detached });
        const code = await ex.submit({ command: 'head -c 10000 /dev/zero; exit 7', maxOutputBytes: 10_000, detached });
        expect(await ex.wait(ok.id)).toMatchObject({ status: 'completed', exitCode: 0, stdoutBytes: 10_000 });
        expect(await ex.wait(code.id)).toMatchObject({ status: 'failed', exitCode: 7, stdoutBytes: 10_000 });
        expect(ex.get(code.id)?.reason).toBeUndefined();
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('one byte past the limit from a command that then exits 0 is still output_limit (cut at the limit)', async () => {
      const { ex } = localExecutor();
      try {
        // One write of 10,001 bytes fits in the pipe, so the command exits 0 before any kill.
        const t = await ex.submit({ command: 'head -c 10001 /dev/zero; exit 0', maxOutputBytes: 10_000, detached });
        const r = await ex.wait(t.id, { timeoutMs: 30_000 });
        expect(r).toMatchObject({ status: 'failed', reason: 'output_limit', stdoutBytes: 10_000 });
        expect(size(join(runDir(r), 'out'))).toBe(10_000);
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('bulk output under the limit arrives byte-exact (also past the hand-off to a copier process)', async () => {
      const { ex, root } = localExecutor();
      const src = join(root, `bulk-${kind}`);
      const data = randomBytes(HANDOFF_BYTES * 2 + 12345);
      writeFileSync(src, data);
      try {
        const t = await ex.submit({ command: `cat '${src}'; cat '${src}' >&2`, maxOutputBytes: data.length, detached });
        const r = await ex.wait(t.id, { timeoutMs: 60_000 });
        expect(r).toMatchObject({ status: 'completed', stdoutBytes: data.length, stderrBytes: data.length });
        expect(readFileSync(join(runDir(r), 'out')).equals(data)).toBe(true);
        expect(readFileSync(join(runDir(r), 'err')).equals(data)).toBe(true);
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    }, 90_000);

    it('output still shows while the task runs (the copier writes each chunk as it comes)', async () => {
      const { ex } = localExecutor();
      try {
        const t = await ex.submit({ command: 'echo one; sleep 3; echo two', maxOutputBytes: 1000, detached });
        const seen = await eventually(() => ex.get(t.id)?.stdoutBytes === 4, 2500);
        expect(seen).toBe(true);
        expect(ex.get(t.id)?.status).toBe('running');
        expect(await ex.wait(t.id)).toMatchObject({ status: 'completed', stdoutBytes: 8 });
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });

    it('caps only the output streams: a file the command writes is not limited', async () => {
      const { ex, root } = localExecutor();
      const file = join(root, `big-${kind}`);
      try {
        const t = await ex.submit({ command: `head -c 200000 /dev/zero > '${file}' && echo done`, maxOutputBytes: 1000, detached });
        expect(await ex.wait(t.id)).toMatchObject({ status: 'completed', exitCode: 0, stdoutBytes: 5 });
        expect(size(file)).toBe(200_000);
        expect(readdirNames(runDir(ex.get(t.id)!)).filter((n) => n.endsWith('.p'))).toEqual([]);
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });
  });
}

function readdirNames(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

if (skipReason !== undefined || process.getuid?.() !== 0) describeSkipped('maxOutputBytes over SSH');
else {
  describe('maxOutputBytes over SSH (the wrapper on the host)', () => {
    for (const limit of [10_000, 1_000_000, 50_000_000]) {
      it(`yes with a ${limit}-byte limit: the remote out file and the local mirror hold exactly ${limit} bytes`, async () => {
        const ex = new BackgroundExecutor({
          transports: { build1: sshTransport(await sshd()) },
          store: new MemoryStore(),
          scheduler: new PriorityScheduler({ concurrency: 2 }),
        });
        try {
          const t = await ex.submit({ command: 'yes', transport: 'build1', maxOutputBytes: limit, graceMs: 1000 });
          const r = await ex.wait(t.id, { timeoutMs: 120_000 });
          expect(r).toMatchObject({ status: 'failed', reason: 'output_limit', stdoutBytes: limit });
          // The sshd runs on this machine, so the host's run directory can be read directly.
          const remoteOut = join(runDir(r), 'out');
          expect(size(remoteOut)).toBeLessThanOrEqual(limit + SLACK);
          expect(size(remoteOut)).toBe(limit);
          expect(size(join(runDir(r), 'limit'))).toBeGreaterThan(0);
          const tail = await ex.readOutput(t.id, { tail: 1 });
          expect(tail.totalBytes).toBe(limit);
        } finally {
          await ex.shutdown({ mode: 'kill', graceMs: 200 });
        }
      }, 180_000);
    }
  });
}

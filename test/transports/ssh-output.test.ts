// Remote output reaches the executor's output API: exact bytes however large or binary (the
// poller fetches in bounded slices), `task:output` and follow() while the task still runs.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { contractTaskId } from './_contract.js';
import { q } from './_shell.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

if (skipReason !== undefined) describeSkipped('SshTransport output');
else {
  describe('SshTransport output', () => {
    it('mirrors 9 MB of binary stdout and stderr byte-exact, in bounded slices', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bgexec-ssh-big-'));
      chmodSync(dir, 0o755);
      const out = randomBytes(9 << 20);
      const err = randomBytes(3 << 20);
      writeFileSync(join(dir, 'out.bin'), out, { mode: 0o644 });
      writeFileSync(join(dir, 'err.bin'), err, { mode: 0o644 });
      const t = sshTransport(await sshd());
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: `cat ${q(join(dir, 'out.bin'))}; cat ${q(join(dir, 'err.bin'))} >&2`, detached: false });
        expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
        const p = await t.poll(h);
        expect([p.stdoutBytes, p.stderrBytes]).toEqual([out.length, err.length]);
        const got = (await t.read(h, 'stdout', 0, 64 << 20)).data;
        expect(sha(got)).toBe(sha(out));
        expect(sha((await t.read(h, 'stderr', 0, 64 << 20)).data)).toBe(sha(err));
        const mid = await t.read(h, 'stdout', 5_000_000, 1000);
        expect(mid.data.equals(out.subarray(5_000_000, 5_001_000))).toBe(true);
        expect(mid.totalBytes).toBe(out.length);
        await t.cleanup(h);
      } finally {
        await t.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('task:output and follow() see remote output while the task runs', async () => {
      const ex = new BackgroundExecutor({ transports: { build1: sshTransport(await sshd()) }, scheduler: new PriorityScheduler({ concurrency: 2 }) });
      await ex.start();
      try {
        const rec = await ex.submit({ command: 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.3; done', transport: 'build1' });
        const events: number[] = [];
        ex.on('task:output', (e) => events.push(e.record.stdoutBytes));
        const chunks: Array<{ text: string; running: boolean }> = [];
        for await (const c of ex.follow(rec.id)) chunks.push({ text: c.text, running: ex.get(rec.id)?.status === 'running' });
        expect(chunks.map((c) => c.text).join('')).toBe('tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n');
        expect(chunks.filter((c) => c.running).length).toBeGreaterThanOrEqual(3);
        expect(events.length).toBeGreaterThanOrEqual(3);
        expect(await ex.wait(rec.id)).toMatchObject({ status: 'completed', stdoutBytes: 35 });
      } finally {
        await ex.shutdown({ mode: 'kill', graceMs: 200 });
      }
    });
  });
}

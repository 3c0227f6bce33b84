// Per-operation latency of SshTransport over its multiplexed connection, next to the floor: an
// `ssh host true` over the same master. Prints a table (docs/transports.md quotes it); the
// assertions only guard against gross regressions (e.g. a new connection per operation).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { contractTaskId } from './_contract.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const ROUNDS = 15;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function run(bin: string, args: string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(bin, args, { stdio: ['pipe', 'ignore', 'ignore'] });
    c.once('error', reject);
    c.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${bin} exited ${code}`))));
    c.stdin.end(input);
  });
}

if (skipReason !== undefined) describeSkipped('SshTransport latency');
else {
  describe('SshTransport latency', () => {
    it('start, poll round trip, read, kill vs `ssh host true` over the same master', async () => {
      const s = await sshd();
      const o = s.options({ pollIntervalMs: 1_000, maxPollIntervalMs: 1_000 });
      const t = sshTransport(s, o);
      const other = sshTransport(s, o);
      const reader = sshTransport(s, o);
      const wide = sshTransport(s, o);
      const same = ['-F', '/dev/null', '-o', `ControlPath=${t.localDir}/%C`, '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', ...o.sshOptions!,
        '-p', String(s.port), '-l', s.user, '-i', o.identityFile!, s.host];
      const rows: Record<string, number[]> = { 'ssh host true (same master)': [], 'ssh host sh -s (empty script)': [], start: [], 'poll (round trip, 1 attempt)': [], 'poll (round trip, 21 attempts)': [], 'poll (cached, as the executor sees it)': [], 'read (mirror)': [], 'read (round trip, unseen attempt)': [], 'kill (TERM → ended)': [] };
      try {
        // Open each instance's master connection first: that is paid once, not per operation.
        for (const x of [t, other, reader, wide]) await x.start({ taskId: contractTaskId(), attempt: 1, command: 'true', detached: false });
        // 20 running attempts that every poll of `wide` covers as well.
        const background = await Promise.all(Array.from({ length: 20 }, () => wide.start({ taskId: contractTaskId(), attempt: 1, command: 'echo x; sleep 60', detached: false })));
        for (let i = 0; i < ROUNDS; i++) {
          rows['ssh host true (same master)']!.push(await time(() => run('ssh', [...same, 'true'])));
          rows['ssh host sh -s (empty script)']!.push(await time(() => run('ssh', [...same, 'sh -s'], ':\n')));
          let h: TransportHandle | undefined;
          rows.start!.push(await time(async () => (h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'echo hello; sleep 30', detached: false }))));
          const handle = h!;
          // A handle this instance has not seen costs one poll round trip.
          rows['poll (round trip, 1 attempt)']!.push(await time(() => other.poll({ ...handle })));
          rows['poll (round trip, 21 attempts)']!.push(await time(() => wide.poll({ ...handle })));
          rows['poll (cached, as the executor sees it)']!.push(await time(() => t.poll(handle)));
          await t.read(handle, 'stdout', 0, 100);
          rows['read (mirror)']!.push(await time(() => other.read(handle, 'stdout', 0, 100)));
          rows['read (round trip, unseen attempt)']!.push(await time(() => reader.read(handle, 'stdout', 0, 100)));
          rows['kill (TERM → ended)']!.push(await time(async () => {
            await t.kill(handle, { graceMs: 5_000 });
            await t.wait(handle);
          }));
          await t.cleanup(handle);
        }
        for (const h of background) await wide.kill(h, { graceMs: 0, signal: 'SIGKILL' });
        const table = Object.entries(rows).map(([op, xs]) => ({ op, 'median ms': Number(median(xs).toFixed(1)), 'min ms': Number(Math.min(...xs).toFixed(1)) }));
        console.table(table);
        const floor = median(rows['ssh host true (same master)']!);
        expect(median(rows.start!)).toBeLessThan(floor * 6 + 50);
        expect(median(rows['poll (round trip, 1 attempt)']!)).toBeLessThan(floor * 6 + 50);
        expect(median(rows['poll (cached, as the executor sees it)']!)).toBeLessThan(5);
      } finally {
        for (const x of [t, other, reader, wide]) await x.close();
      }
    }, 120_000);
  });
}

// Write → reply latency of task input over SSH (and detached local, for comparison): `npx tsx bench/stdin-latency-ssh.ts [exchanges]` (default 100).
//
// A task echoes each line it reads (`while read l; do echo "r:$l"; done`); one exchange is a
// writeStdin() of one line, then polls until the transport reports the reply's bytes. Measured
// on the transports' own API (no executor polling interval in between):
// - ssh: SshTransport against the test sshd on 127.0.0.1 (test/harness/sshd.ts), so the figures
//   are the cost of the ssh client, the remote shell and the scripts, not of a network. One
//   exchange = one write call (its own session over the shared master connection), whose reply
//   carries the task's answer (short writes wait on the host up to ~0.2 s for it to begin).
// - local-detached: LocalTransport, attempt under the job-protocol wrapper (FIFO `in` + holder).
// Prints p50/p95/max per transport, the write call alone (resolved once the bytes are in the
// task's pipe; over SSH a short write also brings back the answer that began within ~0.2 s),
// and over SSH the floor: one call of `true` over the same kind of master connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransportHandle } from '../src/index.js';
import { LocalTransport } from '../src/transports/local.js';
import { SshClient } from '../src/transports/ssh/ssh-client.js';
import { SshTransport } from '../src/transports/ssh/ssh-transport.js';
import type { Transport } from '../src/transports/types.js';
import { sshUnavailable, startSshd } from '../test/harness/sshd.js';

const EXCHANGES = Number(process.argv[2] ?? 100);
const ECHO = 'while IFS= read -r l; do echo "r:$l"; done';

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

function summary(name: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `${name.padEnd(34)} n=${s.length}  p50 ${quantile(s, 0.5).toFixed(1)} ms  p95 ${quantile(s, 0.95).toFixed(1)} ms  max ${(s[s.length - 1] ?? NaN).toFixed(1)} ms`;
}

async function exchanges(t: Transport, h: TransportHandle, n: number): Promise<{ reply: number[]; write: number[] }> {
  const reply: number[] = [];
  const write: number[] = [];
  let have = (await t.poll(h)).stdoutBytes;
  for (let i = 0; i < n; i++) {
    const line = `ping ${i}\n`;
    const want = have + Buffer.byteLength(`r:${line}`);
    const t0 = performance.now();
    await t.writeStdin!(h, Buffer.from(line));
    write.push(performance.now() - t0);
    // Bounded: 20 s per exchange at most.
    for (let spins = 0; spins < 200_000; spins++) {
      const p = await t.poll(h);
      if (p.stdoutBytes >= want) break;
      if (performance.now() - t0 > 20_000) throw new Error(`no reply to exchange ${i}`);
      await new Promise((r) => setImmediate(r));
    }
    reply.push(performance.now() - t0);
    have = want;
  }
  return { reply, write };
}

async function bench(name: string, t: Transport): Promise<void> {
  const h = await t.start({ taskId: `stdinlat_${process.pid}`, attempt: 1, command: ECHO, detached: true, stdin: 'pipe' });
  try {
    await exchanges(t, h, 5); // warm-up: master connection, page cache
    const { reply, write } = await exchanges(t, h, EXCHANGES);
    console.log(summary(`${name}: write → reply`, reply));
    console.log(summary(`${name}: write call alone`, write));
    await t.closeStdin!(h);
    await t.wait(h);
  } finally {
    await t.cleanup(h).catch(() => {});
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bgexec-stdin-bench-'));
try {
  const local = new LocalTransport({ root: join(dir, 'runs') });
  await bench('local-detached', local);
  await local.close();
  const why = sshUnavailable();
  if (why !== undefined) console.log(`ssh: ${why}`);
  else {
    const sshd = await startSshd();
    const ssh = new SshTransport(sshd.options({ pollIntervalMs: 100, maxPollIntervalMs: 1000 }));
    // The floor: one call of `true` over a master connection of its own (same options).
    const client = new SshClient(sshd.options({}));
    try {
      await bench('ssh (127.0.0.1)', ssh);
      const floor: number[] = [];
      for (let i = 0; i < EXCHANGES; i++) {
        const t0 = performance.now();
        await client.run('true');
        floor.push(performance.now() - t0);
      }
      console.log(summary('ssh: one call of `true` (floor)', floor));
    } finally {
      await client.close();
      await ssh.close();
      await sshd.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

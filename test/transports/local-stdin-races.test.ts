// Input of directly spawned attempts (`spawnHelper: false`) against the two races that lost a
// close under load: the task opening its FIFO only after the close (the bytes written were
// dropped and the task never read end-of-file), and a close giving up while `in.pid` was not
// written yet (the holder, left running, kept the task from ever reading end-of-file).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalTransport } from '../../src/transports/local.js';

const roots: string[] = [];
const transports: LocalTransport[] = [];
function transport(): LocalTransport {
  const root = mkdtempSync(join(tmpdir(), 'bgexec-stdin-races-'));
  roots.push(root);
  const t = new LocalTransport({ root, spawnHelper: false });
  transports.push(t);
  return t;
}

afterEach(async () => {
  vi.useRealTimers();
  for (const t of transports.splice(0)) await t.close();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('direct spawn: input closed right after the start', () => {
  for (let round = 1; round <= 3; round++) {
    it(`the task holds its FIFO from the start, so nothing written before a close is lost (round ${round})`, async () => {
      const t = transport();
      const h = await t.start({ taskId: `race${round}`, attempt: 1, command: 'cat; echo eof', stdin: 'pipe', detached: false });
      // Frozen by the test: whatever the leader has not done yet, it does only after the close.
      process.kill(h.pid!, 'SIGSTOP');
      const fd0IsFifo = statSync(`/proc/${h.pid}/fd/0`).ino === statSync(join(h['runDir'] as string, 'in')).ino;
      await t.writeStdin(h, Buffer.from('abc\n'));
      await t.closeStdin(h);
      process.kill(h.pid!, 'SIGCONT');
      expect(fd0IsFifo).toBe(true);
      expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
      expect(readFileSync(join(h['runDir'] as string, 'out'), 'utf8')).toBe('abc\neof\n');
    }, 30_000);
  }

  it('a close that finds in.pid not written yet waits for it, however long, instead of being lost', async () => {
    const t = transport();
    const h = await t.start({ taskId: 'late', attempt: 1, command: 'cat; echo eof', stdin: 'pipe', detached: false });
    const pidFile = join(h['runDir'] as string, 'in.pid');
    const saved = readFileSync(pidFile, 'latin1');
    // As the spawn helper and the wrapper leave it before they name the holder.
    writeFileSync(pidFile, '');
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    let settled = false;
    const closing = t.closeStdin(h).finally(() => {
      settled = true;
    });
    // Any fixed wait would have run out by now.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(settled).toBe(false);
    writeFileSync(pidFile, saved);
    await vi.advanceTimersByTimeAsync(1_000);
    vi.useRealTimers();
    await closing;
    expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
    expect(readFileSync(join(h['runDir'] as string, 'out'), 'utf8')).toBe('eof\n');
  }, 30_000);
});

// A start refused by a real ssh client is re-queued, not failed: an SshTransport pointed at a
// loopback port where nothing listens gets "Connection refused" (nothing ran remotely), so
// the task goes back to `waiting` with a note and the same attempt number. No sshd needed.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { SshTransport } from '../../src/transports/ssh/ssh-transport.js';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('start refused by the ssh client', () => {
  it('re-queues the attempt with a note instead of failing it', async () => {
    const port = await closedPort();
    const box = new SshTransport({ host: '127.0.0.1', port, connectTimeoutMs: 2000 });
    const ex = new BackgroundExecutor({ transports: { box } });
    try {
      const retrying = new Promise<{ reason?: string; delayMs: number }>((resolve) => ex.once('task:retrying', (e) => resolve(e)));
      const t = await ex.submit({ command: 'echo never' });
      const e = await retrying;
      expect(e).toMatchObject({ reason: 'start_refused', delayMs: 1000 });
      const r = ex.get(t.id)!;
      expect(r).toMatchObject({ status: 'waiting', attempt: 0 });
      expect(r.history).toEqual([]);
      expect(r.note).toMatch(/start refused: .*Connection refused/);
      expect((await ex.cancel(t.id)).status).toBe('cancelled');
    } finally {
      await ex.shutdown();
    }
  }, 30_000);
});

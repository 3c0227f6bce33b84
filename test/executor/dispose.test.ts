// `await using ex = new BackgroundExecutor()` shuts the executor down when the block ends,
// killing what still runs (mode kill), exactly like shutdown().
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Symbol.asyncDispose', () => {
  it('an await using block shuts the executor down at its end and kills a running task', async () => {
    let outside: BackgroundExecutor | undefined;
    let pid: number | undefined;
    let id = '';
    {
      await using ex = new BackgroundExecutor();
      outside = ex;
      const t = await ex.submit({ command: 'sleep 30', graceMs: 100 });
      id = t.id;
      for (let i = 0; i < 500 && ex.get(id)?.handle?.pid === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      pid = ex.get(id)?.handle?.pid;
      expect(pid).toBeGreaterThan(0);
      expect(alive(pid!)).toBe(true);
    }
    expect(outside.get(id)?.status).toBe('cancelled');
    expect(outside.get(id)?.reason).toBe('shutdown');
    expect(alive(pid!)).toBe(false);
    await expect(outside.submit({ command: 'true' })).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('is the same as shutdown(): disposing an executor already shut down is harmless', async () => {
    const ex = new BackgroundExecutor();
    await ex.shutdown();
    await expect(ex[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });
});

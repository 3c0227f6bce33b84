import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { eventually, processesOfTask } from '../proc.js';
import { logLines, oldTransport, openExecutor, record, runCleanups, seed, startAttempt, tempDir } from './_helpers.js';

afterEach(runCleanups);

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return -1;
  }
};
const logged = (log: string): string => `echo "$BGEXEC_TASK_ID $BGEXEC_ATTEMPT" >> '${log}'`;

describe('recovery of running attempts (records and processes as a dead executor left them)', () => {
  it('kills what the exited main process of a non-detached attempt left behind when its executor died before reaping it', async () => {
    const dir = tempDir();
    const flag = join(dir, 'main-exited');
    const old = oldTransport(dir);
    const command = `sleep 300 & touch '${flag}'; exit 0`;
    // The old executor's transport is still lingering over the leftover when "it dies": the run
    // directory has the pid of a main process that has exited, no exit marker, and a live child.
    const h = await old.start({ taskId: 'leftover', attempt: 1, command, detached: false, lingerMs: 600_000 });
    expect(await eventually(() => existsSync(flag), 20_000)).toBe(true);
    expect(await eventually(() => processesOfTask('leftover').length === 1, 20_000)).toBe(true);
    await seed(dir, [record('leftover', { status: 'running', attempt: 1, startedAt: h.startedAt, handle: h, spec: { command, transport: 'local', graceMs: 300 } })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    expect(await ex.wait('leftover', { timeoutMs: 20_000 })).toMatchObject({ status: 'cancelled', reason: 'executor_restart', attempt: 1 });
    expect(await eventually(() => processesOfTask('leftover').length === 0, 10_000)).toBe(true);
  });

  it('finishes an attempt that ended meanwhile with its real exit code, and applies the retry policy', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    // Exits 3 on attempt 1, 0 afterwards.
    const command = `${logged(log)}; [ "$BGEXEC_ATTEMPT" -ge 2 ] && exit 0; exit 3`;
    const ha = await startAttempt(old, 'retried', 1, command, true);
    const hb = await startAttempt(old, 'final', 1, command, true);
    await Promise.all([old.wait(ha), old.wait(hb)]);
    await seed(dir, [
      record('retried', { status: 'running', attempt: 1, order: 1, startedAt: ha.startedAt, handle: ha, spec: { command, transport: 'local', detached: true, retry: { attempts: 2 } } }),
      record('final', { status: 'running', attempt: 1, order: 2, startedAt: hb.startedAt, handle: hb, spec: { command, transport: 'local', detached: true } }),
    ]);
    const { ex, of } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('final')).toMatchObject({ status: 'failed', exitCode: 3, attempt: 1 });
    const retried = ex.get('retried')!;
    expect(retried).toMatchObject({ status: 'completed', exitCode: 0, attempt: 2 });
    expect(retried.history.map((h) => [h.attempt, h.status, h.exitCode])).toEqual([[1, 'failed', 3], [2, 'completed', 0]]);
    expect(of('task:retrying', 'retried')).toHaveLength(1);
    expect(logLines(log).sort()).toEqual(['final 1', 'retried 1', 'retried 2']);
  });

  it('re-attaches a live detached attempt: output read on from the stored size, its own exit code', async () => {
    const dir = tempDir();
    const old = oldTransport(dir);
    // Long enough to be certainly alive when the new executor starts, even on a loaded machine.
    const command = "printf abc; sleep 2; printf def; exit 5";
    const h = await startAttempt(old, 'live', 1, command, true);
    expect(await eventually(() => sizeOf(join(h.runDir!, 'out')) === 3, 20_000)).toBe(true);
    await seed(dir, [record('live', { status: 'running', attempt: 1, startedAt: h.startedAt, handle: h, stdoutBytes: 3, spec: { command, transport: 'local', detached: true } })]);
    const { ex, of } = openExecutor(dir);
    await ex.start();
    expect(ex.get('live')!.status).toBe('running');
    const done = await ex.wait('live', { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: 'failed', exitCode: 5, attempt: 1, stdoutBytes: 6 });
    // Only the bytes written after the stored size are new.
    expect(of('task:output', 'live').map((e) => [e.bytes, e.totalBytes])).toEqual([[3, 6]]);
    expect((await ex.readOutput('live')).text).toBe('abcdef');
    expect(of('task:started', 'live')).toEqual([]);
  });

  it('counts the timeout of a re-attached attempt from its original start', async () => {
    const dir = tempDir();
    const old = oldTransport(dir);
    const h = await startAttempt(old, 'slow', 1, 'sleep 30', true);
    // Started 9 s ago with a 10 s timeout: 1 s remains, not 10 s.
    await seed(dir, [record('slow', { status: 'running', attempt: 1, startedAt: Date.now() - 9000, handle: h, spec: { command: 'sleep 30', transport: 'local', detached: true, timeoutMs: 10_000, graceMs: 1000 } })]);
    const { ex } = openExecutor(dir);
    const t0 = Date.now();
    await ex.start();
    const done = await ex.wait('slow', { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: 'timed_out', reason: 'timeout', signal: 'SIGTERM' });
    expect(Date.now() - t0).toBeLessThan(7000);
    // The wrapper writes the marker, then exits.
    expect(await eventually(() => processesOfTask('slow').length === 0, 30_000)).toBe(true);
  });

  it('kills a live non-detached attempt (cancelled, executor_restart), or retries it when attempts remain', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const command = `${logged(log)}; [ "$BGEXEC_ATTEMPT" -ge 2 ] || sleep 30`;
    const ha = await startAttempt(old, 'once', 1, command, false);
    const hb = await startAttempt(old, 'again', 1, command, false);
    await seed(dir, [
      record('once', { status: 'running', attempt: 1, order: 1, startedAt: ha.startedAt, handle: ha, spec: { command, transport: 'local', graceMs: 1000 } }),
      record('again', { status: 'running', attempt: 1, order: 2, startedAt: hb.startedAt, handle: hb, spec: { command, transport: 'local', graceMs: 1000, retry: { attempts: 2 } } }),
    ]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('once')).toMatchObject({ status: 'cancelled', reason: 'executor_restart', exitCode: null, attempt: 1 });
    const again = ex.get('again')!;
    expect(again).toMatchObject({ status: 'completed', attempt: 2 });
    expect(again.history.map((x) => [x.attempt, x.status, x.reason])).toEqual([[1, 'cancelled', 'executor_restart'], [2, 'completed', undefined]]);
    expect(logLines(log).sort()).toEqual(['again 1', 'again 2', 'once 1']);
    expect(await eventually(() => [...processesOfTask('once'), ...processesOfTask('again')].length === 0, 30_000)).toBe(true);
  });

  it('declares an attempt of another boot lost (boot_id_changed); the retry policy then decides', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const command = `${logged(log)}; exit 0`;
    // Attempts of the boot before: the machine went down before they could write their marker.
    const before = async (id: string): Promise<TransportHandle> => {
      const h = await startAttempt(old, id, 1, 'sleep 0.05', true);
      await old.wait(h);
      rmSync(join(h.runDir!, 'exit'));
      return { ...h, bootId: 'another-boot' };
    };
    const [ha, hb] = [await before('rebooted'), await before('resumed')];
    await seed(dir, [
      record('rebooted', { status: 'running', attempt: 1, order: 1, startedAt: ha.startedAt, handle: ha, spec: { command, transport: 'local', detached: true } }),
      record('resumed', {
        status: 'running', attempt: 1, order: 2, startedAt: hb.startedAt, handle: hb,
        spec: { command, transport: 'local', detached: true, retry: { attempts: 2, retryOn: ['lost'] } },
      }),
    ]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('rebooted')).toMatchObject({ status: 'lost', reason: 'boot_id_changed', exitCode: null });
    expect(ex.get('resumed')).toMatchObject({ status: 'completed', attempt: 2 });
    expect(ex.get('resumed')!.history[0]).toMatchObject({ status: 'lost', reason: 'boot_id_changed' });
    expect(logLines(log)).toEqual(['resumed 2']);
  });

  it('picks up detached attempts left running by shutdown({ mode: "detach" }) (an upgrade restart)', async () => {
    const dir = tempDir();
    const first = openExecutor(dir);
    const kept = await first.ex.submit({ command: 'sleep 0.5; exit 2', detached: true });
    const killed = await first.ex.submit({ command: 'sleep 30', graceMs: 500 });
    expect(await eventually(() => first.ex.get(kept.id)!.handle !== undefined && first.ex.get(killed.id)!.handle !== undefined, 20_000)).toBe(true);
    await first.ex.shutdown({ mode: 'detach' });
    const second = openExecutor(dir);
    await second.ex.start();
    await second.ex.onIdle();
    expect(second.ex.get(kept.id)).toMatchObject({ status: 'failed', exitCode: 2, attempt: 1 });
    expect(second.ex.get(killed.id)).toMatchObject({ status: 'cancelled', reason: 'shutdown' });
  });

  it('declares a running record whose transport is gone lost (transport_missing)', async () => {
    const dir = tempDir();
    await seed(dir, [record('orphan', { status: 'running', attempt: 1, startedAt: Date.now(), spec: { command: 'true', transport: 'ssh-box' } })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    expect(ex.get('orphan')).toMatchObject({ status: 'lost', reason: 'transport_missing' });
  });
});

// The crash window around spawn: the runner spawns without waiting for the store (the
// `running` record is written once the start resolves), so after a SIGKILL the stored record
// can lag behind attempts that did start. These tests build exactly those leftovers: records written straight into the
// store, real attempts (or bare run directories) in the store's run root.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, processesOfTask } from '../proc.js';
import { logLines, oldTransport, openExecutor, record, runCleanups, seed, startAttempt, stored, tempDir } from './_helpers.js';

afterEach(runCleanups);

const logged = (log: string): string => `echo "$BGEXEC_TASK_ID $BGEXEC_ATTEMPT" >> '${log}'`;
// Holds the command until the test creates `gate` (at most 30 s), so "still running when the new
// executor starts" does not depend on how fast a loaded machine gets there.
const until = (gate: string): string => `i=0; while [ ! -e '${gate}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done`;

describe('recovery in the crash window around spawn', () => {
  it('takes a started attempt of a task stored as queued as the running one, and never starts it again', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const gate = join(dir, 'gate');
    const command = `${logged(log)}; ${until(gate)}; exit 6`;
    await startAttempt(old, 'alive', 1, command, true);
    const ended = await startAttempt(old, 'ended', 1, `${logged(log)}; exit 0`, true);
    await old.wait(ended);
    await seed(dir, [
      record('alive', { order: 1, spec: { command, transport: 'local', detached: true } }),
      record('ended', { order: 2, spec: { command: `${logged(log)}; exit 0`, transport: 'local', detached: true } }),
    ]);
    const { ex, of } = openExecutor(dir);
    await ex.start();
    expect(ex.get('alive')).toMatchObject({ status: 'running', attempt: 1 });
    // Persisted at once: a second crash now would still find attempt 1 as the running one.
    writeFileSync(gate, '');
    await ex.onIdle();
    expect(ex.get('alive')).toMatchObject({ status: 'failed', exitCode: 6, attempt: 1 });
    expect(ex.get('ended')).toMatchObject({ status: 'completed', exitCode: 0, attempt: 1 });
    expect(ex.get('ended')!.history.map((h) => h.attempt)).toEqual([1]);
    expect(logLines(log).sort()).toEqual(['alive 1', 'ended 1']);
    expect(of('task:settled')).toHaveLength(2);
    expect(of('task:failed', 'alive')[0]).toMatchObject({ exitCode: 6 });
  });

  it('persists the adopted attempt before anything else happens', async () => {
    const dir = tempDir();
    const old = oldTransport(dir);
    const h = await startAttempt(old, 'adopted', 1, 'sleep 30', true);
    await seed(dir, [record('adopted', { spec: { command: 'sleep 30', transport: 'local', detached: true } })]);
    const { ex, store } = openExecutor(dir);
    await ex.start();
    await store.flush();
    expect(stored(dir, 'adopted')).toMatchObject({ status: 'running', attempt: 1, handle: { pid: h.pid, runDir: h.runDir } });
    await ex.cancel('adopted', { graceMs: 500 });
    expect(ex.get('adopted')).toMatchObject({ status: 'cancelled', attempt: 1 });
  });

  it('continues a retry whose next attempt started while the record still said waiting', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const command = `${logged(log)}; [ "$BGEXEC_ATTEMPT" -ge 2 ] && exit 0; exit 9`;
    const h1 = await startAttempt(old, 'backoff', 1, command, true);
    await old.wait(h1);
    const h2 = await startAttempt(old, 'backoff', 2, command, true);
    await old.wait(h2);
    await seed(dir, [
      record('backoff', {
        status: 'waiting', attempt: 1, runAt: Date.now() + 60_000, exitCode: 9, signal: null, handle: h1,
        spec: { command, transport: 'local', detached: true, retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 100 } } },
        history: [{ attempt: 1, status: 'failed', startedAt: h1.startedAt, endedAt: h1.startedAt + 5, exitCode: 9, signal: null, handle: h1 }],
      }),
    ]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    const r = ex.get('backoff')!;
    expect(r).toMatchObject({ status: 'completed', attempt: 2, exitCode: 0 });
    expect(r.history.map((x) => [x.attempt, x.status, x.exitCode])).toEqual([[1, 'failed', 9], [2, 'completed', 0]]);
    expect(r.runAt).toBeUndefined();
    expect(logLines(log)).toEqual(['backoff 1', 'backoff 2']);
  });

  it('finds the handle of a running record that never got one, and re-attaches the attempt', async () => {
    const dir = tempDir();
    const old = oldTransport(dir);
    const command = 'sleep 1.5; exit 3'; // still running when start() looks, on a busy machine too
    const h = await startAttempt(old, 'nohandle', 1, command, true);
    await seed(dir, [record('nohandle', { status: 'running', attempt: 1, startedAt: h.startedAt, spec: { command, transport: 'local', detached: true } })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    expect(ex.get('nohandle')).toMatchObject({ status: 'running', handle: { pid: h.pid } });
    expect(await ex.wait('nohandle', { timeoutMs: 10_000 })).toMatchObject({ status: 'failed', exitCode: 3, attempt: 1 });
  });

  it('declares a run directory without a pid lost (spawn_interrupted); the retry policy then decides, with a new attempt', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const command = `${logged(log)}; exit 0`;
    // The executor died between creating the run directory and spawning.
    mkdirSync(join(dir, 'runs', 'jobs'), { recursive: true });
    mkdirSync(join(dir, 'runs', 'jobs', 'gone-1'));
    mkdirSync(join(dir, 'runs', 'jobs', 'again-1'));
    await seed(dir, [
      record('gone', { status: 'running', attempt: 1, order: 1, startedAt: Date.now() - 5000, spec: { command, transport: 'local' } }),
      // Stored as queued: the running transition never reached the store either.
      record('again', { status: 'queued', attempt: 0, order: 2, spec: { command, transport: 'local', retry: { attempts: 2, retryOn: ['lost'] } } }),
    ]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('gone')).toMatchObject({ status: 'lost', reason: 'spawn_interrupted', attempt: 1 });
    const again = ex.get('again')!;
    expect(again).toMatchObject({ status: 'completed', attempt: 2 });
    expect(again.history.map((x) => [x.attempt, x.status, x.reason])).toEqual([[1, 'lost', 'spawn_interrupted'], [2, 'completed', undefined]]);
    expect(logLines(log)).toEqual(['again 2']);
  });

  it('labels a pid-less attempt whose command may have run spawn_unconfirmed, never spawn_interrupted ("never ran")', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const command = `${logged(log)}; exit 0`;
    // The executor died between spawn() and the pid write: the run directory has `out` (created
    // before spawn) but no `pid`, and the command ran to completion meanwhile.
    const runDir = join(dir, 'runs', 'jobs', 'ran-1');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'out'), '', { mode: 0o600 });
    const ran = spawn('/bin/sh', ['-c', command], { env: { ...process.env, BGEXEC_TASK_ID: 'ran', BGEXEC_ATTEMPT: '1' }, stdio: 'ignore' });
    await once(ran, 'exit');
    await seed(dir, [record('ran', { status: 'running', attempt: 1, startedAt: Date.now() - 5000, spec: { command, transport: 'local' } })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('ran')).toMatchObject({ status: 'lost', reason: 'spawn_unconfirmed', attempt: 1 });
    expect(logLines(log)).toEqual(['ran 1']);
  });

  it('records attempts the store never heard of in history and continues with the latest', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const gate = join(dir, 'gate');
    const command = `${logged(log)}; [ "$BGEXEC_ATTEMPT" -ge 3 ] && { ${until(gate)}; exit 0; }; exit 9`;
    const spec = { command, transport: 'local', detached: true, retry: { attempts: 3 } };
    // Stored as running attempt 1 with its handle; attempts 2 and 3 started before the crash.
    const h1 = await startAttempt(old, 'lagging', 1, command, true);
    await old.wait(h1);
    const h2 = await startAttempt(old, 'lagging', 2, command, true);
    await old.wait(h2);
    await startAttempt(old, 'lagging', 3, command, true);
    await seed(dir, [record('lagging', { status: 'running', attempt: 1, startedAt: h1.startedAt, handle: h1, spec })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    expect(ex.get('lagging')).toMatchObject({ status: 'running', attempt: 3 });
    writeFileSync(gate, '');
    await ex.onIdle();
    const r = ex.get('lagging')!;
    expect(r).toMatchObject({ status: 'completed', attempt: 3, exitCode: 0 });
    expect(r.history.map((x) => [x.attempt, x.status, x.exitCode])).toEqual([[1, 'failed', 9], [2, 'failed', 9], [3, 'completed', 0]]);
    expect(logLines(log)).toEqual(['lagging 1', 'lagging 2', 'lagging 3']);
  });

  it('labels a superseded attempt the old executor was killing by that kill (timed_out)', async () => {
    const dir = tempDir();
    const old = oldTransport(dir);
    const h1 = await startAttempt(old, 'timed', 1, 'sleep 30', true);
    await old.kill(h1, { graceMs: 1000 });
    // Attempt 2 ended during the downtime.
    await old.wait(await startAttempt(old, 'timed', 2, 'exit 0', true));
    await seed(dir, [
      record('timed', {
        status: 'running', attempt: 1, startedAt: h1.startedAt, handle: h1, reason: 'timeout',
        spec: { command: 'sleep 30', transport: 'local', detached: true, timeoutMs: 10_000, retry: { attempts: 2, retryOn: ['timed_out'] } },
      }),
    ]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    const r = ex.get('timed')!;
    expect(r).toMatchObject({ status: 'completed', attempt: 2 });
    expect(r.history.map((x) => [x.attempt, x.status, x.reason, x.signal])).toEqual([[1, 'timed_out', 'timeout', 'SIGTERM'], [2, 'completed', undefined, null]]);
  });

  it('kills a non-detached attempt found in the window (its executor is gone), never starting it again', async () => {
    const dir = tempDir();
    const log = join(dir, 'log');
    const old = oldTransport(dir);
    const command = `${logged(log)}; sleep 30`;
    await startAttempt(old, 'window', 1, command, false);
    // It has run (logged its start) before the old executor "dies": under load a start can
    // resolve before the shell gets to its first command, and the kill below would come first.
    expect(await eventually(() => logLines(log).length === 1, 30_000)).toBe(true);
    await seed(dir, [record('window', { spec: { command, transport: 'local', graceMs: 1000 } })]);
    const { ex } = openExecutor(dir);
    await ex.start();
    await ex.onIdle();
    expect(ex.get('window')).toMatchObject({ status: 'cancelled', reason: 'executor_restart', attempt: 1 });
    expect(logLines(log)).toEqual(['window 1']);
    expect(await eventually(() => processesOfTask('window').length === 0, 30_000)).toBe(true);
  });
});

// Control requests served by an executor that owns a JsonDirStore (in this process, so the
// owner's side can be timed): cancel within 2 s of the request file appearing, retry now,
// priority changes that reorder the queue, submit validated like the API, odd entries in the
// request directory, and `control: false`.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendControlRequest } from '../../src/control/client.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskRecord } from '../../src/task.js';
import { scratch, until } from './_bin.js';

let tmp: { dir: string; remove: () => void };
let store: string;
let ex: BackgroundExecutor;
const errors: string[] = [];

function owner(options: { concurrency?: number; control?: boolean } = {}): BackgroundExecutor {
  ex = new BackgroundExecutor({
    store: new JsonDirStore({ dir: store, durability: 'rename' }),
    scheduler: new PriorityScheduler({ concurrency: options.concurrency ?? 4 }),
    ...(options.control !== undefined ? { control: options.control } : {}),
  });
  ex.on('error', (e) => errors.push(`${e.error.code} ${e.error.message}`));
  return ex;
}

const ask = (request: Parameters<typeof sendControlRequest>[1], by?: string) =>
  sendControlRequest(store, request, { timeoutMs: 20_000, ...(by !== undefined ? { by } : {}) });

beforeEach(() => {
  tmp = scratch('bgexec-control-');
  store = join(tmp.dir, 'store');
  errors.length = 0;
});

afterEach(async () => {
  await ex?.shutdown({ mode: 'kill', graceMs: 500 });
  tmp.remove();
});

describe('control requests', () => {
  it('cancels a running task within 2 s of the request file appearing, and records who asked', async () => {
    await owner().start();
    const rec = await ex.submit({ command: 'echo up; exec sleep 60' });
    expect(await until(async () => ex.get(rec.id)!.stdoutBytes > 0 || (await ex.readOutput(rec.id)).text === 'up\n', 20_000)).toBe(true);
    const mode = statSync(join(store, 'requests')).mode & 0o777;
    expect(mode).toBe(0o700);
    const t0 = Date.now();
    const response = await ask({ op: 'cancel', taskId: rec.id }, 'tester (pid 1)');
    expect(response).toMatchObject({ ok: true, pid: process.pid });
    const done = await ex.wait(rec.id);
    expect(done.status).toBe('cancelled');
    expect(done.endedAt! - t0).toBeLessThan(2000);
    expect(done.cancelledBy).toBe('tester (pid 1)');
    // Persisted: a reader of the file sees it too.
    await ex.shutdown();
    const onDisk = JSON.parse(readFileSync(join(store, 'tasks', `${rec.id}.json`), 'utf8')) as TaskRecord;
    expect(onDisk.cancelledBy).toBe('tester (pid 1)');
    // The response was consumed by the sender.
    expect(readdirSync(join(store, 'responses'))).toEqual([]);
  });

  it('retries a waiting task now, and reruns a finished one as a new task', async () => {
    await owner().start();
    const later = await ex.submit({ command: 'echo later', delayMs: 600_000 });
    expect(ex.get(later.id)!.status).toBe('waiting');
    const r = await ask({ op: 'retry', taskId: later.id });
    expect(r).toMatchObject({ ok: true, result: { task: { id: later.id, status: 'queued' } } });
    expect((await ex.wait(later.id, { timeoutMs: 20_000 })).status).toBe('completed');
    const again = await ask({ op: 'retry', taskId: later.id });
    expect(again.ok).toBe(true);
    const { task, retryOf } = (again as { result: { task: TaskRecord; retryOf: string } }).result;
    expect(retryOf).toBe(later.id);
    expect(task.spec.command).toBe('echo later');
    expect(task.spec.delayMs).toBeUndefined();
    expect((await ex.wait(task.id, { timeoutMs: 20_000 })).status).toBe('completed');
  });

  it('changes the priority of a queued task, which reorders the queue', async () => {
    await owner({ concurrency: 1 }).start();
    const order: string[] = [];
    ex.on('task:started', (e) => order.push(e.taskId));
    ex.pause();
    const a = await ex.submit({ command: 'true' });
    const b = await ex.submit({ command: 'true' });
    const res = await ask({ op: 'priority', taskId: b.id, priority: 5 });
    expect(res).toMatchObject({ ok: true, result: { id: b.id, spec: { priority: 5 } } });
    expect((await ask({ op: 'resume' })).ok).toBe(true);
    await ex.wait(a.id, { timeoutMs: 20_000 });
    await ex.wait(b.id, { timeoutMs: 20_000 });
    expect(order).toEqual([b.id, a.id]);
    const late = await ask({ op: 'priority', taskId: a.id, priority: 1 });
    expect(late).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const bad = await ask({ op: 'priority', taskId: a.id, priority: Number.NaN });
    expect(bad).toMatchObject({ ok: false });
  });

  it('validates a submitted spec like the API, and answers NOT_FOUND for an unknown task', async () => {
    await owner().start();
    const bad = await ask({ op: 'submit', spec: { command: 'true', priority: 'high' } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_SPEC', field: 'priority' } });
    const unknown = await ask({ op: 'submit', spec: { command: 'true', bogus: 1 } });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'INVALID_SPEC', field: 'bogus' } });
    expect(await ask({ op: 'cancel', taskId: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(ex.list()).toEqual([]);
    // Refused requests are answers, not faults of the owner.
    expect(errors).toEqual([]);
  });

  it('survives odd entries: an oversized file, a directory, a symlink, a temp file, and serves on', async () => {
    await owner().start();
    const requests = join(store, 'requests');
    const drop = (name: string, text: string): void => {
      writeFileSync(join(tmp.dir, name), text);
      renameSync(join(tmp.dir, name), join(requests, name));
    };
    drop('huge.json', `{"version":1,"op":"ping","by":"${'x'.repeat(70 * 1024)}"}`);
    mkdirSync(join(requests, 'adir.json'));
    writeFileSync(join(tmp.dir, 'target.json'), JSON.stringify({ version: 1, op: 'pause' }));
    symlinkSync(join(tmp.dir, 'target.json'), join(requests, 'link.json'));
    drop('.half.json.123.1.tmp', '{"version":1');
    // As root, a request written by another user (here: nobody) is refused unread.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      writeFileSync(join(tmp.dir, 'foreign.json'), JSON.stringify({ version: 1, op: 'pause' }));
      chownSync(join(tmp.dir, 'foreign.json'), 65534, 65534);
      renameSync(join(tmp.dir, 'foreign.json'), join(requests, 'foreign.json'));
    }
    const answered = (n: string): boolean => existsSync(join(store, 'responses', `${n}.json`));
    expect(await until(() => ['huge', 'adir', 'link', ...(asRoot ? ['foreign'] : [])].every(answered), 20_000)).toBe(true);
    if (asRoot) expect(JSON.parse(readFileSync(join(store, 'responses', 'foreign.json'), 'utf8')).error.message).toContain('owned by uid 65534');
    const answer = (n: string): any => JSON.parse(readFileSync(join(store, 'responses', `${n}.json`), 'utf8'));
    expect(answer('huge').error.message).toMatch(/larger than 65536/);
    expect(answer('adir').ok).toBe(false);
    expect(answer('link').ok).toBe(false);
    // The symlink was not followed: nothing was paused.
    const r = await ex.submit({ command: 'echo ok' });
    expect((await ex.wait(r.id, { timeoutMs: 20_000 })).status).toBe('completed');
    // A fresh temp file (a writer mid-rename) is left alone.
    expect(existsSync(join(requests, '.half.json.123.1.tmp'))).toBe(true);
    expect(errors.filter((e) => e.includes('refused')).length).toBe(asRoot ? 4 : 3);
    expect((await ask({ op: 'ping' })).ok).toBe(true);
  });

  it('serves no requests with control: false, and stops serving at shutdown', async () => {
    await owner({ control: false }).start();
    expect(existsSync(join(store, 'requests'))).toBe(false);
    await expect(ask({ op: 'ping' })).rejects.toMatchObject({ reason: 'NO_OWNER' });
    await ex.shutdown();
    await owner().start();
    expect((await ask({ op: 'ping' })).ok).toBe(true);
    await ex.shutdown();
    await expect(sendControlRequest(store, { op: 'ping' }, { timeoutMs: 500 })).rejects.toMatchObject({ reason: 'NO_ANSWER' });
    // The unanswered request was withdrawn.
    expect(readdirSync(join(store, 'requests'))).toEqual([]);
  });
});

// Bad store contents and bad transport/store/executor options. Store files are loaded by a real
// executor (start()), so what is checked is the whole path: the bad data is reported with a
// stable code (an `error` event, or the task's own error), nothing outside the store is read,
// followed or deleted, and the executor still runs a normal task afterwards.
// (File-level quarantine details are in test/stores/json-dir.test.ts; not repeated here.)
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { RECORD_VERSION, type TaskRecord } from '../../src/task.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { LocalTransport } from '../../src/transports/local.js';
import { caught, onCleanup, runCleanups, settlesWithin, tempDir } from './_util.js';

afterEach(runCleanups);

function record(id: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: RECORD_VERSION, id, spec: { command: 'true', transport: 'local' }, status: 'queued', attempt: 0, order: 1,
    createdAt: Date.now() - 60_000, stdoutBytes: 0, stderrBytes: 0, history: [], acked: false, ...over,
  };
}

/** A store dir with `files` (name → content, or a function that creates the entry) in tasks/. */
function storeDir(files: Record<string, string | Buffer | ((path: string) => void)>): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'tasks'), { recursive: true, mode: 0o700 });
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, 'tasks', name);
    if (typeof content === 'function') content(path);
    else writeFileSync(path, content);
  }
  return dir;
}

/** Starts an executor on `dir`, collecting error events; checks it still runs a task. */
async function open(dir: string): Promise<{ ex: BackgroundExecutor; codes: ErrorCode[] }> {
  const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir, durability: 'rename' }) });
  // Bounded, so that a shutdown that hangs fails its own test instead of the whole file.
  onCleanup(async () => void (await settlesWithin(ex.shutdown({ graceMs: 100 }), 5000)));
  const codes: ErrorCode[] = [];
  ex.on('error', (e) => codes.push(e.error.code));
  await ex.start();
  return { ex, codes };
}

async function runsNormalTask(ex: BackgroundExecutor): Promise<void> {
  const ok = await ex.submit({ command: 'echo ok' });
  expect((await ex.wait(ok.id, { timeoutMs: 20_000 })).status).toBe('completed');
  expect((await ex.readOutput(ok.id)).text).toBe('ok\n');
}

const corrupt: Array<[string, Record<string, string | Buffer | ((path: string) => void)>]> = [
  ['unparsable JSON', { 'x.json': '{"version": 1, "id": ' }],
  ['invalid UTF-8 bytes', { 'u.json': Buffer.from([0xff, 0xfe, 0x7b, 0xc3, 0x28, 0x7d]) }],
  ['a number that overflows to Infinity', { 'inf.json': JSON.stringify(record('inf')).replace('"order":1', '"order":1e999') }],
  ['a traversal id inside the record', { 't.json': JSON.stringify(record('../t')) }],
  ['a symlink to /etc/passwd', { 'link.json': (p) => symlinkSync('/etc/passwd', p) }],
  ['a directory named like a task', { 'd.json': (p) => mkdirSync(p) }],
  // Reading a FIFO would block the load forever; it must be moved aside unread.
  ['a FIFO named like a task', { 'fifo.json': (p) => execFileSync('mkfifo', [p]) }],
  // Sparse: instant to make. The size is checked before reading, so neither is read.
  ['a sparse 600 MB task file', { 'big.json': (p) => sparse(p, 600 * 1024 * 1024) }],
  ['a sparse 3 GB task file', { 'huge.json': (p) => sparse(p, 3 * 1024 * 1024 * 1024) }],
  ['a 250-byte file name', { [`${'a'.repeat(245)}.json`]: JSON.stringify(record('a')) }],
  ['a 250-byte directory name', { [`${'d'.repeat(250)}`]: (p) => mkdirSync(p) }],
  // Values no call of the API can produce: they are reported, never run.
  ['a negative attempt', { 'neg.json': JSON.stringify(record('neg', { attempt: -5 })) }],
  ['a fractional byte count', { 'frac.json': JSON.stringify(record('frac', { stdoutBytes: 1.5 })) }],
  ['an order of -1e308', { 'ord.json': JSON.stringify(record('ord', { order: -1e308 })) }],
  ['a runAt of 1e308', { 'run.json': JSON.stringify(record('run', { status: 'waiting', runAt: 1e308 })) }],
  ['a negative timeoutMs', { 'tmo.json': JSON.stringify(record('tmo', { spec: { command: 'true', transport: 'local', timeoutMs: -1 } })) }],
  ['1e9 retry attempts', { 'ret.json': JSON.stringify(record('ret', { spec: { command: 'true', transport: 'local', retry: { attempts: 1e9 } } })) }],
  ['a negative backoff', { 'bo.json': JSON.stringify(record('bo', { spec: { command: 'true', transport: 'local', retry: { attempts: 2, backoff: { type: 'fixed', delayMs: -5 } } } })) }],
  ['a history attempt 0', { 'h0.json': JSON.stringify(record('h0', { status: 'failed', attempt: 1, history: [{ attempt: 0, status: 'failed', startedAt: 1, endedAt: 2 }] })) }],
];

function sparse(path: string, size: number): void {
  writeFileSync(path, '');
  truncateSync(path, size);
}

describe('bad store contents', () => {
  it.each(corrupt)('%s → STORE_CORRUPT error event, quarantined, executor goes on', async (_name, files) => {
    const passwd = readFileSync('/etc/passwd', 'utf8');
    const dir = storeDir(files);
    const { ex, codes } = await open(dir);
    expect(codes).toEqual(Object.keys(files).map(() => 'STORE_CORRUPT'));
    expect(ex.list()).toEqual([]);
    for (const name of Object.keys(files)) expect(existsSync(join(dir, 'tasks', name)), name).toBe(false);
    // A symlink is moved, never followed: its target is untouched.
    expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwd);
    await runsNormalTask(ex);
  });

  it('a waiting task due past the longest timer is loaded due at the longest timer, and persisted so', async () => {
    const runAt = Date.now() + 10 ** 12;
    const dir = storeDir({ 'far.json': JSON.stringify(record('far', { status: 'waiting', runAt })) });
    const before = Date.now();
    const { ex, codes } = await open(dir);
    expect(codes).toEqual([]);
    const far = ex.get('far')!;
    expect(far.status).toBe('waiting');
    expect(far.runAt).toBeGreaterThanOrEqual(before + 2_147_483_647);
    expect(far.runAt).toBeLessThan(runAt);
    await ex.cancel('far');
    await runsNormalTask(ex);
  });

  it('a file name that is not valid UTF-8 → STORE_CORRUPT error event, quarantined, executor goes on', async () => {
    const dir = storeDir({});
    const raw = Buffer.concat([Buffer.from(`${join(dir, 'tasks')}/`), Buffer.from([0x80, 0xc3, 0x28]), Buffer.from('.json')]);
    writeFileSync(raw, JSON.stringify(record('x')));
    const { ex, codes } = await open(dir);
    expect(codes).toEqual(['STORE_CORRUPT']);
    expect(readdirSync(join(dir, 'tasks'))).toEqual([]);
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1);
    await runsNormalTask(ex);
  });

  it('a quarantine/ that is a symlink out of the store → never followed; bad files stay in the store', async () => {
    const outside = tempDir();
    const dir = storeDir({ 'bad.json': '{nope' });
    symlinkSync(outside, join(dir, 'quarantine'));
    const { ex, codes } = await open(dir);
    expect(codes).toEqual(['STORE_CORRUPT', 'STORE_CORRUPT']); // the symlink, moved aside, and the bad file
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(dir, 'quarantine')).isDirectory()).toBe(true);
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1);
    await runsNormalTask(ex);
  });

  it.each([
    ['a NUL byte in the stored command', { command: 'echo a\0b', transport: 'local' }],
    ['a non-string env value', { command: 'true', transport: 'local', env: { A: 1 } }],
    ['a 2 MB stored command (E2BIG)', { command: `echo ${'x'.repeat(2_000_000)}`, transport: 'local' }],
  ])('%s → the task fails with SPAWN_FAILED, executor goes on', async (_name, spec) => {
    const dir = storeDir({ 'bad.json': JSON.stringify(record('bad', { spec })) });
    const { ex } = await open(dir);
    const done = await ex.wait('bad', { timeoutMs: 20_000 });
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('SPAWN_FAILED');
    await runsNormalTask(ex);
  });

  it('a running record whose handle points outside the run root → reported, settled, executor goes on', async () => {
    const victim = tempDir();
    writeFileSync(join(victim, 'keep'), 'x');
    const handle = { kind: 'local', taskId: 'evil', attempt: 1, runDir: victim, pid: 1, pgid: 1, startedAt: Date.now() - 1000, bootId: 'x' };
    const dir = storeDir({ 'evil.json': JSON.stringify(record('evil', { status: 'running', attempt: 1, startedAt: Date.now() - 1000, handle })) });
    const { ex, codes } = await open(dir);
    expect(codes).toContain('INVALID_ARGUMENT');
    const done = await ex.wait('evil', { timeoutMs: 20_000 });
    expect(['lost', 'failed', 'cancelled']).toContain(done.status);
    await runsNormalTask(ex);
    await ex.cleanup();
    expect(existsSync(join(victim, 'keep'))).toBe(true);
    expect(await settlesWithin(ex.shutdown(), 5000), 'shutdown() settles').toBe(true);
  });

  it('cleanup() never deletes a directory outside the run root named by a stored handle', async () => {
    const victim = tempDir();
    const outside = join(victim, 'jobs', 'evil-1');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'precious'), 'x');
    const handle = { kind: 'local', taskId: 'evil', attempt: 1, runDir: outside, startedAt: Date.now() - 5000 };
    const attempt = { attempt: 1, status: 'completed', startedAt: Date.now() - 5000, endedAt: Date.now() - 4000, exitCode: 0, signal: null, handle };
    const dir = storeDir({
      'evil.json': JSON.stringify(record('evil', { status: 'completed', attempt: 1, endedAt: Date.now() - 4000, exitCode: 0, signal: null, handle, history: [attempt] })),
    });
    const { ex, codes } = await open(dir);
    await ex.cleanup();
    expect(existsSync(join(outside, 'precious')), 'a file outside the store was deleted').toBe(true);
    expect(codes).toContain('INVALID_ARGUMENT');
    await runsNormalTask(ex);
  });

  it('a second executor on a store in use → STORE_LOCKED; the first goes on', async () => {
    const dir = tempDir();
    const { ex } = await open(dir);
    const second = new BackgroundExecutor({ store: new JsonDirStore({ dir }) });
    expect((await caught(() => second.start())).code).toBe('STORE_LOCKED');
    expect((await caught(() => second.submit({ command: 'true' }))).code).toBe('STORE_LOCKED');
    await runsNormalTask(ex);
  });
});

const fake = (): FakeTransport => new FakeTransport();

const badOptions: Array<[string, () => unknown, ErrorCode]> = [
  ['LocalTransport root not a string', () => new LocalTransport({ root: 42 as never }), 'INVALID_ARGUMENT'],
  ['LocalTransport root with a NUL byte', () => new LocalTransport({ root: '/tmp/a\0b' }), 'INVALID_ARGUMENT'],
  ['JsonDirStore dir not a string', () => new JsonDirStore({ dir: 42 as never }), 'INVALID_ARGUMENT'],
  ['JsonDirStore dir with a NUL byte', () => new JsonDirStore({ dir: '/tmp/a\0b' }), 'INVALID_ARGUMENT'],
  ['JsonDirStore options missing', () => new JsonDirStore(undefined as never), 'INVALID_ARGUMENT'],
  ['executor options null', () => new BackgroundExecutor(null as never), 'INVALID_ARGUMENT'],
  ['executor outputPollMs 0', () => new BackgroundExecutor({ outputPollMs: 0 }), 'INVALID_ARGUMENT'],
  ['executor outputPollMs NaN', () => new BackgroundExecutor({ outputPollMs: NaN }), 'INVALID_ARGUMENT'],
  ['executor outputPollMs as string', () => new BackgroundExecutor({ outputPollMs: '100' as never }), 'INVALID_ARGUMENT'],
  ['transport name with a space', () => new BackgroundExecutor({ transports: { 'bad name': fake() } }), 'INVALID_ARGUMENT'],
  ['transport name ../x', () => new BackgroundExecutor({ transports: { '../x': fake() } }), 'INVALID_ARGUMENT'],
  ['transport name of 1 MB', () => new BackgroundExecutor({ transports: { ['t'.repeat(1_000_000)]: fake() } }), 'INVALID_ARGUMENT'],
  ['defaultTransport ../local', () => new BackgroundExecutor({ transports: { local: fake() }, defaultTransport: '../local' }), 'INVALID_ARGUMENT'],
  ['defaults with a NaN priority', () => new BackgroundExecutor({ transports: { local: fake() }, defaults: { priority: NaN } }), 'INVALID_SPEC'],
  ['defaults with a NUL in env', () => new BackgroundExecutor({ transports: { local: fake() }, defaults: { env: { A: 'x\0' } } }), 'INVALID_SPEC'],
  ['defaults with an unknown key', () => new BackgroundExecutor({ transports: { local: fake() }, defaults: { nope: 1 } as never }), 'INVALID_SPEC'],
];

describe('bad transport, store and executor options', () => {
  it.each(badOptions.map(([name, make, code]) => ({ name, make, code })))('$name → $code', async ({ make, code }) => {
    expect((await caught(make)).code).toBe(code);
    // Nothing global was disturbed: a correctly configured executor runs a task.
    const ex = new BackgroundExecutor({ transports: { local: new LocalTransport({ root: tempDir() }) } });
    onCleanup(() => ex.shutdown());
    await runsNormalTask(ex);
  });
});

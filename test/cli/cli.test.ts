// The built `bgexec` bin as a child process against a store owned by a live executor in
// another process (test/cli/_owner.ts): listing while tasks run, following output to the end,
// killing from the command line (who asked is recorded), a malformed request file (reported,
// ignored, the owner unharmed), `wait` returning the task's exit code, and no owner at all.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import type { TaskRecord } from '../../src/task.js';
import { buildCli, ROOT, runBin, scratch, startBin, startOwner, until, type Owner, type Running } from './_bin.js';

let bin: string;
let removeBin: () => void;
let owner: Owner;
let tmp: { dir: string; remove: () => void };
let store: string;
let runner: Running | undefined;
const gate = (name: string): string => join(tmp.dir, `gate-${name}`);
// Waits (bounded, about a minute) for the test to create the gate file; never on a sleep.
const waitGate = (name: string): string => `i=0; while [ ! -e '${gate(name)}' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done`;

const cli = (...args: string[]) => runBin(bin, ['--dir', store, ...args]);

async function record(id: string): Promise<TaskRecord> {
  const res = await cli('show', id, '--json');
  expect(res.code, res.stderr).toBe(0);
  return JSON.parse(res.stdout) as TaskRecord;
}

async function statusOf(id: string): Promise<string> {
  return (await record(id)).status;
}

beforeAll(async () => {
  ({ bin, remove: removeBin } = await buildCli());
  tmp = scratch('bgexec-cli-');
  store = join(tmp.dir, 'store');
  owner = await startOwner(store, [
    { command: `echo started; ${waitGate('list')}; echo done`, group: 'build', tags: ['a'] },
    { command: `echo 'line 1'; ${waitGate('follow')}; echo 'line 2'; echo oops >&2` },
    { command: `echo victim; ${waitGate('never')}` },
    { command: 'exit 7' },
  ]);
}, 60_000);

afterAll(async () => {
  if (runner?.child.exitCode === null) runner.child.kill('SIGKILL');
  await owner?.stop();
  removeBin?.();
  tmp?.remove();
});

// Each test runs the bin (a fresh Node process) ten-odd times: allow for a loaded machine.
describe('bgexec against a live owner', { timeout: 120_000 }, () => {
  it('lists tasks while they run, as a table without colours off a terminal, and as JSON', async () => {
    const [id] = owner.ids as [string];
    expect(await until(async () => (await statusOf(id)) === 'running', 20_000)).toBe(true);
    const human = await cli('ls');
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^ID\s+STATUS\s+EXIT\s+PRI\s+GROUP\s+CREATED\s+TIME\s+COMMAND$/);
    expect(human.stdout).toMatch(new RegExp(`${id}\\s+running\\s+-\\s+0\\s+build\\s+`));
    expect(human.stdout).not.toContain('\u001b[');
    const json = await cli('ls', '--json', '--status', 'running', '--tag', 'a');
    const list = JSON.parse(json.stdout) as TaskRecord[];
    expect(list.map((r) => [r.id, r.status, r.spec.group])).toEqual([[id, 'running', 'build']]);
    const none = await cli('ls', '--group', 'nope');
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('no task matches');
    writeFileSync(gate('list'), '');
    const waited = await cli('wait', id);
    expect(waited.code, waited.stderr).toBe(0);
    expect((await cli('logs', id)).stdout).toBe('started\ndone\n');
  });

  it('follows output live and to the end of the task (logs -f), and reads stderr, tail and head', async () => {
    const id = owner.ids[1]!;
    const follower = startBin(bin, ['--dir', store, 'logs', '-f', id]);
    // The first line arrives while the task still runs (it waits for the gate).
    expect(await until(() => follower.stdout().includes('line 1\n'), 20_000)).toBe(true);
    expect(await statusOf(id)).toBe('running');
    writeFileSync(gate('follow'), '');
    const res = await follower.done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe('line 1\nline 2\n');
    expect(res.stderr).toContain('completed (exit 0)');
    expect((await cli('logs', id, '--stderr')).stdout).toBe('oops\n');
    expect((await cli('logs', id, '--tail', '1')).stdout).toBe('line 2\n');
    expect((await cli('logs', id, '--head', '1')).stdout).toBe('line 1\n');
    const json = JSON.parse((await cli('logs', id, '--json', '--attempt', '1')).stdout) as { text: string; eof: boolean; totalBytes: number };
    expect(json).toMatchObject({ text: 'line 1\nline 2\n', eof: true, totalBytes: 14 });
  });

  it('kills from the command line: the owner cancels the task and its record says who asked', async () => {
    const id = owner.ids[2]!;
    expect(await until(async () => (await cli('logs', id)).stdout === 'victim\n', 20_000)).toBe(true);
    // When the kill command's request file appears: the owner's reaction is timed from there.
    let requestAt: number | undefined;
    const watcher = watch(join(store, 'requests'), (_event, name) => {
      if (typeof name === 'string' && /^[^.].*\.json$/.test(name)) requestAt ??= Date.now();
    });
    const t0 = Date.now();
    const res = await runBin(bin, ['--dir', store, 'kill', id, '--grace', '1s']).finally(() => watcher.close());
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`${id}\\s+cancelled\\s+SIGTERM\\s+bgexec kill`));
    const r = await record(id);
    expect(r.status).toBe('cancelled');
    expect(r.reason).toBe('cancelled');
    expect(r.cancelledBy).toBe(`bgexec kill (user ${r.cancelledBy!.match(/user (\S+),/)![1]}, pid ${res.pid}, host ${r.cancelledBy!.match(/host ([^)]+)\)/)![1]})`);
    // The owner ended the task within 2 s of the request; the whole command, a fresh Node
    // process, within a bound generous enough for a loaded machine.
    expect(requestAt).toBeDefined();
    expect(r.endedAt! - requestAt!).toBeLessThan(2000);
    expect(r.endedAt! - t0).toBeLessThan(10_000);
    // wait reports a task ended by SIGTERM as a shell would: 128 + 15.
    expect((await cli('wait', id)).code).toBe(143);
    const again = await cli('kill', 'no-such-task');
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('NOT_FOUND');
  });

  it('wait returns the exit code of the task; --timeout gives 124; submit goes through the owner', async () => {
    const res = await cli('wait', owner.ids[3]!);
    expect(res.code, res.stderr).toBe(7);
    expect(res.stdout).toMatch(new RegExp(`${owner.ids[3]}\\s+failed\\s+7`));
    const sub = await cli('submit', '-p', '3', '-g', 'cli', '-t', 'x', '--', `${waitGate('submitted')}; exit 5`);
    expect(sub.code, sub.stderr).toBe(0);
    const id = sub.stdout.trim();
    const r = await record(id);
    expect(r.spec).toMatchObject({ priority: 3, group: 'cli', tags: ['x'] });
    const short = await cli('wait', id, '--timeout', '200ms');
    expect(short.code).toBe(124);
    writeFileSync(gate('submitted'), '');
    expect((await cli('wait', id)).code).toBe(5);
    // Several words run the program directly, without a shell.
    const direct = await cli('submit', '--', 'printf', '%s|', 'a b', '$HOME');
    const did = direct.stdout.trim();
    expect((await cli('wait', did)).code).toBe(0);
    expect((await cli('logs', did)).stdout).toBe('a b|$HOME|');
  });

  it('answers a malformed request file with an error, reports it, and goes on serving', async () => {
    const requests = join(store, 'requests');
    const responses = join(store, 'responses');
    const drop = (name: string, text: string): void => {
      writeFileSync(join(tmp.dir, name), text, { mode: 0o600 });
      renameSync(join(tmp.dir, name), join(requests, name));
    };
    drop('garbage.json', '{"version":1, "op": ');
    drop('wrongop.json', JSON.stringify({ version: 1, op: 'format-disk' }));
    drop('badfield.json', JSON.stringify({ version: 1, op: 'cancel', taskId: 42 }));
    drop('not-a-request.txt', 'hello');
    const answer = (name: string): any => JSON.parse(readFileSync(join(responses, `${name}.json`), 'utf8'));
    expect(await until(() => ['garbage', 'wrongop', 'badfield'].every((n) => existsSync(join(responses, `${n}.json`))), 20_000)).toBe(true);
    expect(answer('garbage')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'request' } });
    expect(answer('garbage').error.message).toContain('not valid JSON');
    expect(answer('wrongop')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'op' } });
    expect(answer('badfield')).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT', field: 'taskId' } });
    expect(await until(() => readdirSync(requests).length === 0, 20_000)).toBe(true);
    expect(owner.stderr()).toMatch(/ERROR INVALID_ARGUMENT .*control request garbage refused/);
    expect(owner.stderr()).toMatch(/ERROR INVALID_ARGUMENT .*not-a-request\.txt/);
    // The owner is unharmed and still serves.
    expect(owner.alive()).toBe(true);
    const sub = await cli('submit', '--', 'echo still here');
    expect(sub.code, sub.stderr).toBe(0);
    expect((await cli('wait', sub.stdout.trim())).code).toBe(0);
  });

  it('pauses and resumes a group, changes a queued task priority, retries a finished task as a new one', async () => {
    expect((await cli('pause', 'slow')).code).toBe(0);
    const a = (await cli('submit', '-g', 'slow', '--', 'echo a')).stdout.trim();
    expect(await statusOf(a)).toBe('queued');
    const pri = await cli('priority', a, '9');
    expect(pri.code, pri.stderr).toBe(0);
    expect((await record(a)).spec.priority).toBe(9);
    expect((await cli('resume', 'slow')).code).toBe(0);
    expect((await cli('wait', a)).code).toBe(0);
    const late = await cli('priority', a, '1');
    expect(late.code).toBe(5);
    expect(late.stderr).toContain('completed');
    const re = await cli('retry', a, '--json');
    expect(re.code, re.stderr).toBe(0);
    const { task, retryOf } = JSON.parse(re.stdout) as { task: TaskRecord; retryOf: string };
    expect(retryOf).toBe(a);
    expect(task.id).not.toBe(a);
    expect((await cli('wait', task.id)).code).toBe(0);
    expect((await cli('logs', task.id)).stdout).toBe('a\n');
  });
});

describe('bgexec without an owner', { timeout: 120_000 }, () => {
  it('reads the store, refuses requests with exit code 3 and offers bgexec run, which runs the tasks', async () => {
    await owner.stop();
    const ls = await cli('ls', '--json');
    expect(ls.code).toBe(0);
    expect((JSON.parse(ls.stdout) as TaskRecord[]).length).toBeGreaterThan(4);
    const sub = await cli('submit', '--', 'echo x');
    expect(sub.code).toBe(3);
    expect(sub.stderr).toContain('no process owns the store');
    expect(sub.stderr).toContain(`bgexec run --dir ${store}`);
    const pruned = await cli('prune');
    expect(pruned.code).toBe(3);
    const run = (runner = startBin(bin, ['--dir', store, 'run']));
    expect(await until(() => run.stderr().includes('running the tasks of'), 20_000)).toBe(true);
    const queued = await cli('submit', '--', 'echo from run');
    expect(queued.code, queued.stderr).toBe(0);
    expect((await cli('wait', queued.stdout.trim())).code).toBe(0);
    const prune = await cli('prune', '--json');
    expect(JSON.parse(prune.stdout).removed).toBeGreaterThan(4);
    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
  });

  it('a wait whose owner dies says so once, keeps waiting, and ends when a new owner settles the task', async () => {
    const dir = join(tmp.dir, 'dying');
    const dying = await startOwner(dir, [{ command: `echo up; ${waitGate('dying')}` }]);
    const [id] = dying.ids as [string];
    const statusIn = async (): Promise<string> => JSON.parse((await runBin(bin, ['--dir', dir, 'show', id, '--json'])).stdout).status;
    expect(await until(async () => (await statusIn()) === 'running', 20_000)).toBe(true);
    const waiter = startBin(bin, ['--dir', dir, 'wait', id]);
    await new Promise((r) => setTimeout(r, 500));
    process.kill(dying.pid, 'SIGKILL');
    // "has gone" when the wait saw the owner alive first, "is gone" when it started after the kill.
    expect(await until(() => /(has|is) gone/.test(waiter.stderr()), 20_000)).toBe(true);
    expect(waiter.stderr().match(/(has|is) gone/g)).toHaveLength(1);
    expect(waiter.child.exitCode).toBeNull();
    // A new owner finds the attempt its dead executor started and ends it; the wait then ends.
    const res = await runBin(bin, ['--dir', dir, 'run', '--exit-when-idle']);
    expect(res.code, res.stderr).toBe(0);
    const waited = await waiter.done;
    expect(waited.code).not.toBe(0);
    expect(waited.stdout).toContain(id);
    writeFileSync(gate('dying'), '');
  });

  it('run --exit-when-idle runs what an application left queued, then exits', async () => {
    // An application that queued a task and stopped before it ran.
    const app = new BackgroundExecutor({ store: new JsonDirStore({ dir: store, durability: 'rename' }) });
    app.pause();
    const left = await app.submit({ command: 'echo left behind' });
    await app.shutdown();
    expect(await statusOf(left.id)).toBe('queued');
    const res = await runBin(bin, ['--dir', store, 'run', '--exit-when-idle']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(new RegExp(`${left.id} completed \\(exit 0\\)`));
    expect((await cli('logs', left.id)).stdout).toBe('left behind\n');
  });

  it.skipIf(process.getuid?.() !== 0)('as another user, a store it cannot read is a permission error, not "no owner"', async () => {
    const dir = join(tmp.dir, 'private');
    const app = new BackgroundExecutor({ store: new JsonDirStore({ dir, durability: 'rename' }) });
    await app.start();
    // A copy of the bin that user nobody may read (the test's own scratch dirs are 0700).
    const open = mkdtempSync(join(ROOT, '.tmp', 'cli-nobody-'));
    chmodSync(open, 0o755);
    const nobodyBin = join(open, 'main.mjs');
    copyFileSync(bin, nobodyBin);
    chmodSync(nobodyBin, 0o644);
    try {
      const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, nobodyBin, '--dir', dir, 'kill', 'abc'], {
        cwd: '/', encoding: 'utf8', timeout: 60_000,
      });
      expect(res.status, res.stderr).toBe(1);
      expect(res.stderr).toMatch(/EACCES/);
      expect(res.stderr).not.toContain('no process owns');
    } finally {
      await app.shutdown();
      rmSync(open, { recursive: true, force: true });
    }
  });

  it('reports usage errors with exit code 2 and a missing store with 1', async () => {
    expect((await runBin(bin, ['ls'], { BGEXEC_DIR: '' })).code).toBe(2);
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('logs')).code).toBe(2);
    expect((await cli('wait', 'x', '--timeout', 'soon')).code).toBe(2);
    const missing = await runBin(bin, ['ls'], { BGEXEC_DIR: join(tmp.dir, 'nothing-here') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no bgexec store');
    // A directory that is not a store (a typo in --dir): read commands say so, and run leaves it alone.
    const foreign = join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const notStore = await runBin(bin, ['--dir', foreign, 'ls']);
    expect(notStore.code).toBe(1);
    expect(notStore.stderr).toContain('no bgexec store');
    const refused = await runBin(bin, ['--dir', foreign, 'run', '--exit-when-idle']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('is not a bgexec store');
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
    const help = await runBin(bin, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: bgexec');
  });
});

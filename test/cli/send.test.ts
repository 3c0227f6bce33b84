// `bgexec send`: input typed into a task a live owner runs (submitted with `submit -i`), its own
// stdin streamed in chunks and closed, the errors a user gets, and `--version`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseControlRequest } from '../../src/control/protocol.js';
import type { TaskRecord } from '../../src/task.js';
import { buildCli, ROOT, runBin, scratch, startOwner, until, type BinResult, type Owner } from './_bin.js';

let bin: { bin: string; remove: () => void };
let tmp: { dir: string; remove: () => void };
let store: string;
let owner: Owner;

const cli = (...args: string[]): Promise<BinResult> => runBin(bin.bin, ['--dir', store, ...args]);

async function show(id: string): Promise<TaskRecord> {
  const res = await cli('show', id, '--json');
  return JSON.parse(res.stdout) as TaskRecord;
}

async function outputOf(id: string): Promise<string> {
  return (await cli('logs', id)).stdout;
}

// Runs the bin with `input` on its stdin.
function runWithStdin(args: string[], input: Buffer): Promise<BinResult> {
  const child = spawn(process.execPath, [bin.bin, '--dir', store, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, pid: child.pid })));
}

beforeAll(async () => {
  bin = await buildCli();
  tmp = scratch('bgexec-send-');
  store = join(tmp.dir, 'store');
  owner = await startOwner(store);
}, 60_000);

afterAll(async () => {
  await owner?.stop();
  tmp?.remove();
  bin?.remove();
});

describe('bgexec send', { timeout: 60_000 }, () => {
  it('types lines into a task submitted with -i: each answers one read', async () => {
    const sub = await cli('submit', '-i', '--', 'read a; echo "first $a"; read b; echo "then $b"');
    expect(sub.code, sub.stderr).toBe(0);
    const id = sub.stdout.trim();
    expect((await show(id)).spec.stdin).toBe('pipe');
    expect(await until(async () => (await show(id)).status === 'running', 20_000)).toBe(true);
    const one = await cli('send', id, 'hello', 'there');
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).toContain('sent 12 bytes');
    expect(await until(async () => (await outputOf(id)) === 'first hello there\n', 20_000)).toBe(true);
    const two = await cli('send', id, 'world');
    expect(two.code, two.stderr).toBe(0);
    expect(await until(async () => (await show(id)).status === 'completed', 20_000)).toBe(true);
    expect(await outputOf(id)).toBe('first hello there\nthen world\n');
  });

  it('streams its own stdin as is, in chunks, and closes the input with --close', async () => {
    const sub = await cli('submit', '-i', '--', 'sha256sum');
    const id = sub.stdout.trim();
    expect(await until(async () => (await show(id)).status === 'running', 20_000)).toBe(true);
    // Larger than one request's cap, with bytes that are not text.
    const data = randomBytes(100_000);
    const res = await runWithStdin(['send', id, '-', '--close', '--json'], data);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ taskId: id, bytes: 100_000, closed: true });
    expect(await until(async () => (await show(id)).status === 'completed', 20_000)).toBe(true);
    expect((await outputOf(id)).split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('refuses input to a task without a pipe, to an unknown task, and without input', async () => {
    const sub = await cli('submit', '--', 'sleep 30');
    const id = sub.stdout.trim();
    expect(await until(async () => (await show(id)).status === 'running', 20_000)).toBe(true);
    const notPiped = await cli('send', id, 'x');
    expect(notPiped.code).toBe(5);
    expect(notPiped.stderr).toContain('STDIN_NOT_PIPED');
    const unknown = await cli('send', 'no-such-task', 'x');
    expect(unknown.code).toBe(4);
    const bare = await cli('send', id);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('send needs the input');
    await cli('kill', id, '--grace', '100ms');
  });

  it('a closed input refuses further input, and the task reads end-of-file', async () => {
    const sub = await cli('submit', '-i', '--', 'cat; echo "eof seen"');
    const id = sub.stdout.trim();
    expect(await until(async () => (await show(id)).status === 'running', 20_000)).toBe(true);
    expect((await cli('send', id, 'line')).code).toBe(0);
    expect((await cli('send', id, '--close')).code).toBe(0);
    expect(await until(async () => (await show(id)).status === 'completed', 20_000)).toBe(true);
    expect(await outputOf(id)).toBe('line\neof seen\n');
    const late = await cli('send', id, 'more');
    expect(late.code).toBe(5);
    expect(late.stderr).toContain('TASK_NOT_RUNNING');
  });
});

describe('bgexec --version and the input request', () => {
  it('prints the package version', async () => {
    bin ??= await buildCli();
    const res = await runBin(bin.bin, ['--version']);
    expect(res.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(res.stdout).toBe(`${pkg.version}\n`);
  });

  it('an input request must carry base64 of at most 32 KiB and a boolean close', () => {
    const ok = parseControlRequest({ version: 1, op: 'input', taskId: 't', data: Buffer.from('hi').toString('base64'), close: true });
    expect(ok.request).toEqual({ op: 'input', taskId: 't', data: 'aGk=', close: true });
    expect(() => parseControlRequest({ version: 1, op: 'input', taskId: 't', data: 'not base64!' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'data' }));
    const big = Buffer.alloc(32 * 1024 + 1).toString('base64');
    expect(() => parseControlRequest({ version: 1, op: 'input', taskId: 't', data: big })).toThrow(expect.objectContaining({ field: 'data' }));
    expect(() => parseControlRequest({ version: 1, op: 'input', taskId: 't', close: 'yes' })).toThrow(expect.objectContaining({ field: 'close' }));
  });
});

describe('task ids by prefix', () => {
  function ctxWith(ids: string[], command: 'show' | 'kill', positionals: string[]) {
    const records = ids.map((id) => ({ id }));
    return {
      parsed: { command, dir: '/x', json: false, help: false, values: {}, positionals },
      reader: {
        get: async (id: string) => records.find((r) => r.id === id),
        snapshot: async () => ({ records, skipped: [] }),
      },
    } as unknown as Parameters<typeof import('../../src/cli/ids.js').expandIdPrefixes>[0];
  }

  it('a unique prefix becomes its id; a whole id, an unknown one and other positionals stay', async () => {
    const { expandIdPrefixes } = await import('../../src/cli/ids.js');
    const ids = ['Abc123xxxxxxxxxxxxxxx', 'Abd999xxxxxxxxxxxxxxx', 'Zed000xxxxxxxxxxxxxxx'];
    const one = ctxWith(ids, 'kill', ['Abc', 'Z', 'Abd999xxxxxxxxxxxxxxx', 'nope']);
    await expandIdPrefixes(one);
    expect(one.parsed.positionals).toEqual(['Abc123xxxxxxxxxxxxxxx', 'Zed000xxxxxxxxxxxxxxx', 'Abd999xxxxxxxxxxxxxxx', 'nope']);
    const ambiguous = ctxWith(ids, 'show', ['Ab']);
    await expect(expandIdPrefixes(ambiguous)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('start of 2 task ids') });
  });

  it('show and send accept a prefix against a live owner', { timeout: 60_000 }, async () => {
    const sub = await cli('submit', '-i', '--', 'read a; echo "got $a"');
    const id = sub.stdout.trim();
    const prefix = id.slice(0, 12);
    expect(await until(async () => (await show(prefix)).status === 'running', 20_000)).toBe(true);
    expect((await cli('send', prefix, 'it')).code).toBe(0);
    expect(await until(async () => (await outputOf(prefix)) === 'got it\n', 20_000)).toBe(true);
  });
});

describe('a mistyped store directory', () => {
  it('steering commands say there is no store there (exit 1), not that nobody owns it', async () => {
    bin ??= await buildCli();
    const wrong = join(tmp?.dir ?? '/tmp', 'no-such-store');
    for (const args of [['submit', '-i', '--', 'cat'], ['send', 'abc', 'x'], ['kill', 'abc']]) {
      const res = await runBin(bin.bin, ['--dir', wrong, ...args]);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toContain(`no bgexec store at ${wrong}`);
      expect(res.stderr).not.toContain('bgexec run');
    }
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EXIT_PLACEHOLDER, exitInfoFromMarker, formatExitCode, formatExitFailure, formatPidFile, parseExitFile, parsePidFile,
} from '../../src/transports/job-protocol/markers.js';
import { assertValidId, findLaunchProblem, isValidAttempt, isValidId, shQuote, shQuoteAll } from '../../src/transports/job-protocol/quote.js';
import { buildWrapperArgv, buildWrapperStdinScript, findProgram, type WrapperParams } from '../../src/transports/job-protocol/wrapper.js';
import { seededRandom as prng } from '../_prng.js';

const scratch = mkdtempSync(join(tmpdir(), 'bgexec-jp-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));


const PIECES = [
  "'", '"', '\\', '$', '`', '\n', '\t', '\r', ' ', '*', '?', '~', '#', ';', '&', '|', '<', '>', '(', ')', '{', '}',
  '!', '-', '--', '=', '%', '$(id)', '${HOME}', "'\\''", 'é', '✓', '𝄞', '日本', 'a', 'Z', '0', '\u00a0', '\u2028',
];

function randomString(rand: () => number): string {
  const n = Math.floor(rand() * 16);
  let s = rand() < 0.2 ? '-' : '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

const hasBusybox = findProgram('busybox', process.env['PATH'], undefined) === undefined;
const hasBash = findProgram('bash', process.env['PATH'], undefined) === undefined;
/** Shells to run the wrapper under: dash (/bin/sh here) always, bash and busybox when present. */
const SHELLS: Array<[string, string[]]> = [['/bin/sh', []]];
if (hasBash) SHELLS.push(['bash', []]);
if (hasBusybox) SHELLS.push(['busybox', ['sh']]);

describe('shQuote', () => {
  it('round-trips a few hundred random strings through a real sh -c "printf %s <quoted>"', () => {
    const rand = prng(20240611);
    for (let i = 0; i < 300; i++) {
      const s = randomString(rand);
      const r = spawnSync('/bin/sh', ['-c', `printf %s ${shQuote(s)}`]);
      expect(r.status, `input ${JSON.stringify(s)}`).toBe(0);
      expect(r.stdout.toString('utf8'), `input ${JSON.stringify(s)}`).toBe(s);
    }
  });

  it('keeps every word separate in a quoted list (also under bash and busybox)', () => {
    const rand = prng(7);
    const words = Array.from({ length: 40 }, () => randomString(rand));
    words.push('', ' ', "'", '-n', '-e');
    for (const [bin, pre] of SHELLS) {
      const r = spawnSync(bin, [...pre, '-c', `for w in ${shQuoteAll(words)}; do printf '%s\\0' "$w"; done`]);
      expect(r.status).toBe(0);
      const got = r.stdout.toString('utf8').split('\0').slice(0, -1);
      expect(got).toEqual(words);
    }
  });

  it('rejects NUL bytes with INVALID_ARGUMENT', () => {
    expect(() => shQuote('a\0b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => shQuoteAll(['ok', '\0'])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('quotes the empty string and plain words', () => {
    expect(shQuote('')).toBe("''");
    expect(shQuote('abc')).toBe("'abc'");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('id validation', () => {
  it('accepts only [A-Za-z0-9_-]+', () => {
    for (const ok of ['a', 'A-b_9', '0', '--', 'task_123-x']) expect(isValidId(ok)).toBe(true);
    for (const bad of ['', 'a b', 'a/b', '../x', '.', 'é', 'a\n', 'a\0', 'x;y', '$x', 7, undefined]) {
      expect(isValidId(bad)).toBe(false);
    }
    expect(() => assertValidId('a/b', 'taskId')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'taskId' }));
    expect(() => assertValidId('ok')).not.toThrow();
  });

  it('accepts only positive safe integers as attempts', () => {
    for (const ok of [1, 2, 1000]) expect(isValidAttempt(ok)).toBe(true);
    for (const bad of [0, -1, 1.5, Number.NaN, '1', 2 ** 60]) expect(isValidAttempt(bad)).toBe(false);
  });
});

describe('findLaunchProblem', () => {
  it('accepts a sane launch and names the first bad value otherwise', () => {
    const ok = { taskId: 't-1', attempt: 1, command: 'true', args: ['a b', ''], env: { A: "x'y" } };
    expect(findLaunchProblem(ok)).toBeUndefined();
    expect(findLaunchProblem({ ...ok, taskId: '../x' })).toMatch(/task id/);
    expect(findLaunchProblem({ ...ok, attempt: 0 })).toMatch(/attempt/);
    expect(findLaunchProblem({ ...ok, command: '' })).toMatch(/empty/);
    expect(findLaunchProblem({ ...ok, command: 'a\0' })).toMatch(/NUL/);
    expect(findLaunchProblem({ ...ok, args: ['ok', 'b\0'] })).toMatch(/args\[1\]/);
    expect(findLaunchProblem({ ...ok, env: { 'A=B': 'x' } })).toMatch(/env name/);
    expect(findLaunchProblem({ ...ok, env: { A: 'x\0' } })).toMatch(/env A/);
  });
});

describe('markers', () => {
  it('formats and strictly parses pid files', () => {
    expect(formatPidFile(12, 12)).toBe('12 12\n');
    expect(parsePidFile('12 34\n')).toEqual({ pid: 12, pgid: 34 });
    for (const bad of ['', '12 34', '12\n', '12  34\n', '0 1\n', '-1 2\n', 'a b\n', '12 34\n\n', ' 12 34\n']) {
      expect(parsePidFile(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('formats and strictly parses exit files', () => {
    expect(formatExitCode(0)).toBe('0\n');
    expect(formatExitCode(42)).toBe('42\n');
    expect(formatExitCode(null, 'SIGTERM')).toBe('143 SIGTERM\n');
    expect(() => formatExitCode(256)).toThrow();
    expect(() => formatExitCode(null)).toThrow();
    expect(formatExitFailure('cwd_missing')).toBe('cwd_missing\n');
    expect(formatExitFailure('spawn_failed', 'ENOENT')).toBe('spawn_failed ENOENT\n');

    expect(parseExitFile('0\n')).toEqual({ kind: 'code', code: 0, signal: null });
    expect(parseExitFile('255\n')).toEqual({ kind: 'code', code: 255, signal: null });
    expect(parseExitFile('137 SIGKILL\n')).toEqual({ kind: 'code', code: 137, signal: 'SIGKILL' });
    expect(parseExitFile('cwd_missing\n')).toEqual({ kind: 'failure', reason: 'cwd_missing', detail: null });
    expect(parseExitFile('spawn_failed EACCES\n')).toEqual({ kind: 'failure', reason: 'spawn_failed', detail: 'EACCES' });
    // A status written over the pre-allocated placeholder keeps the placeholder's blank tail.
    expect(parseExitFile(`7\n${EXIT_PLACEHOLDER.slice(2)}`)).toEqual({ kind: 'code', code: 7, signal: null });
    expect(parseExitFile(`cwd_missing\n${EXIT_PLACEHOLDER.slice(12)}`)).toEqual({ kind: 'failure', reason: 'cwd_missing', detail: null });
    for (const bad of ['', '0', '1\n\n', '01\n', '256\n', '-1\n', '143 SIGKILL\n', '143 SIGNOPE\n', '2 \n', 'cwd_missing', 'other\n', EXIT_PLACEHOLDER, '1\n x\n', `1${EXIT_PLACEHOLDER.slice(1)}`]) {
      expect(parseExitFile(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('reports 128+n as signal n only when a kill was requested', () => {
    const at = 1;
    const code = (c: number) => ({ kind: 'code' as const, code: c, signal: null });
    expect(exitInfoFromMarker(code(143), true, at)).toEqual({ state: 'exited', exitCode: null, signal: 'SIGTERM', endedAt: at });
    expect(exitInfoFromMarker(code(130), true, at)).toMatchObject({ exitCode: null, signal: 'SIGINT' });
    expect(exitInfoFromMarker(code(143), false, at)).toMatchObject({ exitCode: 143, signal: null });
    expect(exitInfoFromMarker(code(2), true, at)).toMatchObject({ exitCode: 2, signal: null });
    expect(exitInfoFromMarker(code(250), true, at)).toMatchObject({ exitCode: 250, signal: null });
    expect(exitInfoFromMarker({ kind: 'code', code: 137, signal: 'SIGKILL' }, false, at)).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(exitInfoFromMarker({ kind: 'failure', reason: 'cwd_missing', detail: null }, false, at))
      .toEqual({ state: 'exited', exitCode: null, signal: null, reason: 'cwd_missing', endedAt: at });
  });
});

interface WrapperRun {
  handshake: string;
  wrapperPid: number;
  code: number | null;
  files: Record<string, string | undefined>;
}

let dirSeq = 0;
function freshRunDir(): string {
  const dir = join(scratch, `run-${dirSeq++}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/**
 * Runs the wrapper under `shell`, optionally signalling its group after the handshake (and,
 * with `readyOut`, once the command has written that much to `out`).
 */
// True once a process named `comm` runs in process group `pgid` (read from /proc).
function groupRuns(pgid: number, comm: string): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === comm) return true;
    } catch {
      // Gone.
    }
  }
  return false;
}

async function runWrapper(shell: [string, string[]], params: Omit<WrapperParams, 'runDir'>, signal?: NodeJS.Signals, readyOut?: string, readyComm?: string): Promise<WrapperRun> {
  const runDir = freshRunDir();
  const child = spawn(shell[0], [...shell[1], ...buildWrapperArgv({ runDir, ...params })], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, BGEXEC_TASK_ID: 'jp' },
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let handshake = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      handshake += d.toString();
      if (handshake.includes('\n')) resolve();
    });
    child.stdout.once('close', () => resolve());
  });
  child.stdout.destroy();
  if (readyOut !== undefined) {
    // The command announces (in `out`) that its own trap is in place; no event exists for that.
    for (let i = 0; i < 500 && !(existsSync(join(runDir, 'out')) && readFileSync(join(runDir, 'out'), 'utf8') === readyOut); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  if (readyComm !== undefined && child.pid) {
    // The handshake comes before the command is exec'd: a signal sent in between can land on a
    // shell that is still starting it. Wait until the program itself runs.
    for (let i = 0; i < 500 && !groupRuns(child.pid, readyComm); i++) await new Promise((r) => setTimeout(r, 10));
  }
  if (signal && child.pid) process.kill(-child.pid, signal);
  const code = await exited;
  const files: Record<string, string | undefined> = {};
  for (const f of ['pid', 'exit', 'exit.pending', 'out', 'err']) {
    files[f] = existsSync(join(runDir, f)) ? readFileSync(join(runDir, f), 'utf8') : undefined;
  }
  return { handshake, wrapperPid: child.pid ?? -1, code, files };
}

describe.each(SHELLS)('wrapper under %s %s', (bin, pre) => {
  const shell: [string, string[]] = [bin, pre];

  it('handshakes, records pid, output and the exit code', async () => {
    const r = await runWrapper(shell, { command: 'printf out; printf err >&2; exit 42' });
    expect(r.handshake).toBe(`${r.wrapperPid} ${r.wrapperPid}\n`);
    expect(r.files['pid']).toBe(`${r.wrapperPid} ${r.wrapperPid}\n`);
    expect(r.files['exit']).toBe('42\n');
    expect(r.files['exit.pending']).toBeUndefined();
    expect(r.files['out']).toBe('out');
    expect(r.files['err']).toBe('err');
    expect(r.code).toBe(42);
  });

  it('runs the args form as the real program with literal arguments', async () => {
    const args = ['%s|', 'a b', `it's "q"`, '$(echo no)', '`x`', '-n', '\\n'];
    const r = await runWrapper(shell, { command: 'printf', args });
    expect(r.files['out']).toBe(`a b|it's "q"|$(echo no)|\`x\`|-n|\\n|`);
    // `echo` must be /bin/echo (coreutils, no escape processing), not a shell builtin.
    const e = await runWrapper(shell, { command: 'echo', args: ['a\\nb'] });
    expect(e.files['out']).toBe('a\\nb\n');
  });

  it('writes cwd_missing for a missing cwd, never exit code 2', async () => {
    const r = await runWrapper(shell, { command: 'true', cwd: join(scratch, 'does-not-exist') });
    expect(r.handshake).toBe('');
    expect(r.files['exit']).toBe('cwd_missing\n');
    expect(r.files['out']).toBeUndefined();
  });

  it('changes to the cwd and gives the command /dev/null as stdin', async () => {
    const cwd = freshRunDir();
    const r = await runWrapper(shell, { command: 'pwd; cat; echo "cat=$?"', cwd });
    expect(r.files['out']).toBe(`${cwd}\ncat=0\n`);
  });

  it('survives TERM to its group and records the child status 143', async () => {
    const r = await runWrapper(shell, { command: 'sleep 30' }, 'SIGTERM');
    expect(r.files['exit']).toBe('143\n');
  });

  it('lets SIGINT reach the command (not ignored as in an async list)', async () => {
    // Args form: a `sh -c` child would itself catch INT while starting up (dash does) and could
    // swallow a signal that lands before it has forked `sleep`.
    const r = await runWrapper(shell, { command: 'sleep', args: ['30'] }, 'SIGINT', undefined, 'sleep');
    expect(r.files['exit']).toBe('130\n');
  });

  it('keeps waiting when the command ignores TERM, and records its real status', async () => {
    const r = await runWrapper(shell, { command: "trap '' TERM; printf ready; sleep 0.3; exit 3" }, 'SIGTERM', 'ready');
    expect(r.files['exit']).toBe('3\n');
  });
});

describe('wrapper as a stdin script (sh -s)', () => {
  it('carries every value as a quoted literal', async () => {
    const runDir = freshRunDir();
    const args = ['%s|', "it's", '$(echo no)', 'a\nb', '-x'];
    const script = buildWrapperStdinScript({ runDir, command: 'printf', args });
    const r = spawnSync('/bin/sh', ['-s'], { input: script, env: { ...process.env, BGEXEC_TASK_ID: 'jp' } });
    expect(r.status).toBe(0);
    expect(readFileSync(join(runDir, 'out'), 'utf8')).toBe(`it's|$(echo no)|a\nb|-x|`);
    expect(readFileSync(join(runDir, 'exit'), 'utf8')).toBe('0\n');
    expect(() => buildWrapperStdinScript({ runDir, command: 'x\0' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

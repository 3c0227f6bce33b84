// The remote scripts run here through `sh -s` without SSH: the setsid fallbacks (perl,
// python3) with PATHs that lack the others, a script cut short, and the reply parser.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKillScript, buildPollScript, buildProbeScript, buildStartScript } from '../../src/transports/ssh/remote-scripts.js';
import { parseCompleteReply, parseReply } from '../../src/transports/ssh/reply.js';
import { which } from '../harness/sshd.js';
import { killPids, pidsOfTask } from '../harness/procs.js';
import { contractTaskId } from './_contract.js';

const base = mkdtempSync(join(tmpdir(), 'bgexec-scripts-'));
const ids: string[] = [];
afterAll(() => {
  for (const id of ids) killPids(pidsOfTask(id), 'SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

const TOOLS = ['sh', 'env', 'mkdir', 'rm', 'mkfifo', 'wc', 'tail', 'head', 'grep', 'sleep', 'cat'];
const python = (() => {
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)']);
  return r.status === 0 ? r.stdout.toString().trim() : undefined;
})();

/** A PATH directory holding only the basic tools plus `launchers`. */
function pathWith(name: string, launchers: Record<string, string | undefined>): string {
  const dir = join(base, `path-${name}`);
  mkdirSync(dir);
  for (const tool of TOOLS) symlinkSync(which(tool)!, join(dir, tool));
  for (const [tool, target] of Object.entries(launchers)) if (target) symlinkSync(target, join(dir, tool));
  return dir;
}

function runScript(script: string, path: string, shell = '/bin/sh'): string {
  return execFileSync(shell, ['-s'], { input: script, env: { PATH: path, HOME: base } }).toString('utf8');
}

function start(path: string, command = 'echo hi; exit 3'): { reply: string; taskId: string; root: string } {
  const taskId = contractTaskId();
  ids.push(taskId);
  const root = join(base, 'root');
  const reply = runScript(buildStartScript({ root, leaf: `${taskId}-1`, taskId, attempt: 1, command, env: {}, startedAt: Date.now() }), path);
  return { reply, taskId, root };
}

async function finished(root: string, taskId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const exit = join(root, 'jobs', `${taskId}-1`, 'exit');
    if (existsSync(exit)) return readFileSync(exit, 'utf8');
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no exit marker');
}

describe('remote scripts through sh -s', () => {
  const launchers: Array<[string, Record<string, string | undefined>]> = [
    ['setsid', { setsid: which('setsid') }],
    ['perl', { perl: which('perl') }],
    ['python3', { python3: python }],
  ];
  for (const [name, tools] of launchers) {
    it.skipIf(Object.values(tools).some((v) => v === undefined))(`launches the wrapper as a session leader with ${name} only`, async () => {
      const { reply, taskId, root } = start(pathWith(name, tools));
      const ok = parseReply(Buffer.from(reply)).find((i) => i.t === 'OK');
      expect(ok, reply).toBeDefined();
      if (ok?.t !== 'OK') return;
      expect(ok.pgid).toBe(ok.pid);
      expect(await finished(root, taskId)).toBe('3\n');
      expect(readFileSync(join(root, 'jobs', `${taskId}-1`, 'out'), 'utf8')).toBe('hi\n');
    });
  }

  it('fails cleanly (spawn_failed NO_SETSID) on a host with neither setsid, perl nor python3', () => {
    const { reply, taskId, root } = start(pathWith('none', {}));
    expect(parseReply(Buffer.from(reply))).toContainEqual({ t: 'F', reason: 'spawn_failed NO_SETSID' });
    expect(readFileSync(join(root, 'jobs', `${taskId}-1`, 'exit'), 'utf8')).toBe('spawn_failed NO_SETSID\n');
  });

  it('runs nothing of a script cut short (a dropped connection mid-transfer)', () => {
    const taskId = contractTaskId();
    const root = join(base, 'cut');
    const script = buildStartScript({ root, leaf: `${taskId}-1`, taskId, attempt: 1, command: 'true', env: {}, startedAt: 1 });
    for (const cut of [10, script.length / 2, script.length - 20]) {
      spawnSync('/bin/sh', ['-s'], { input: script.slice(0, Math.floor(cut)), env: { PATH: '/usr/bin:/bin', HOME: base } });
      expect(existsSync(root)).toBe(false);
    }
  });

  it('builders refuse anything that is not a plain id, number or known signal', () => {
    const start = { root: base, leaf: 'a-1', taskId: 'a', attempt: 1, command: 'true', env: {}, startedAt: 1 };
    expect(() => buildKillScript('/r/jobs/a-1', 'a', 1, 'SIGTERM; touch /tmp/x', 'SIGTERM')).toThrow(/signal/);
    expect(() => buildKillScript('/r/jobs/a-1', 'a', 1, 'SIGKILL', 'SIGNOPE')).toThrow(/signal/);
    expect(() => buildKillScript('/r/jobs/a-1', 'a;b', 1, 'SIGKILL', 'SIGTERM')).toThrow(/taskId/);
    expect(() => buildStartScript({ ...start, leaf: 'a-1;id' })).toThrow(/leaf/);
    expect(() => buildStartScript({ ...start, env: { 'A B': 'x' } })).toThrow(/env/);
    expect(() => buildStartScript({ ...start, command: 'a\0b' })).toThrow(/NUL/);
    expect(() => buildPollScript([{ runDir: '/r', leaf: '$(id)', outOffset: 0, errOffset: 0, maxBytes: 1 }])).toThrow(/leaf/);
    expect(() => buildPollScript([{ runDir: '/r', leaf: 'a-1', outOffset: -1, errOffset: 0, maxBytes: 1 }])).toThrow(/offset/);
    expect(() => buildProbeScript(undefined, ['../x'])).toThrow(/leaf/);
  });

  it('parses replies: skips a login banner, takes output frames byte-exact, rejects a cut reply', () => {
    const data = Buffer.from('a\nb ✓\n\0O x o 0 1\n', 'utf8');
    const reply = Buffer.concat([
      Buffer.from('Welcome!\nBGX1 not yet\nBGX1\nB boot-1\nJ t-1 R 0\nS t-1 9 0\n'),
      Buffer.from(`O t-1 o 0 ${data.length}\n`), data, Buffer.from('\nZ\n'),
    ]);
    const items = parseCompleteReply(reply);
    expect(items[0]).toEqual({ t: 'B', bootId: 'boot-1' });
    expect(items.find((i) => i.t === 'O')).toMatchObject({ leaf: 't-1', stream: 'stdout', offset: 0 });
    const frame = items.find((i) => i.t === 'O');
    expect(frame?.t === 'O' && frame.data.equals(data)).toBe(true);
    expect(() => parseCompleteReply(reply.subarray(0, reply.length - 2))).toThrow(/cut short/);
    expect(() => parseCompleteReply(reply.subarray(0, 60))).toThrow(/malformed/);
    expect(() => parseReply(Buffer.from('no mark\n'))).toThrow(/BGX1/);
  });

  it('a poll of a missing run directory says G, and of a live one R with its sizes', async () => {
    const { taskId, root } = start(which('setsid') ? pathWith('poll', { setsid: which('setsid') }) : '/usr/bin:/bin', 'echo x; sleep 5');
    const leaf = `${taskId}-1`;
    const script = buildPollScript([
      { runDir: join(root, 'jobs', leaf), leaf, outOffset: 0, errOffset: 0, maxBytes: 100 },
      { runDir: join(root, 'jobs', 'gone-1'), leaf: 'gone-1', outOffset: 0, errOffset: 0, maxBytes: 100 },
    ]);
    await new Promise((r) => setTimeout(r, 100));
    const items = parseCompleteReply(execFileSync('/bin/sh', ['-s'], { input: script }));
    expect(items).toContainEqual({ t: 'J', leaf, state: 'R', killreq: false });
    expect(items).toContainEqual({ t: 'S', leaf, out: 2, err: 0 });
    expect(items).toContainEqual({ t: 'J', leaf: 'gone-1', state: 'G' });
    killPids(pidsOfTask(taskId), 'SIGKILL');
  });
});

// Human output of the `bgexec` command: colours only on a terminal and never with NO_COLOR
// (the built bin under a pseudo-terminal from `script`), relative times, durations, tables cut
// to the terminal's width, and the argument parsing behind the usage errors.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { durationArg, intArg, parseCli } from '../../src/cli/args.js';
import { waitExitCode } from '../../src/cli/exit-codes.js';
import { duration, relative, table } from '../../src/cli/format.js';
import { BackgroundExecutor } from '../../src/executor.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { buildCli, ROOT, scratch } from './_bin.js';

const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let bin: string;
let removeBin: () => void;
let tmp: { dir: string; remove: () => void };
let store: string;

beforeAll(async () => {
  ({ bin, remove: removeBin } = await buildCli());
  tmp = scratch('bgexec-cli-fmt-');
  store = join(tmp.dir, 'store');
  const owned = new JsonDirStore({ dir: store, durability: 'rename' });
  const ex = new BackgroundExecutor({ store: owned });
  const r = await ex.submit({ command: 'exit 2' });
  await ex.wait(r.id);
  await ex.shutdown();
}, 60_000);

afterAll(() => {
  removeBin?.();
  tmp?.remove();
});

// Runs the bin with stdout on a pseudo-terminal (util-linux `script`).
function onTerminal(env: Record<string, string | undefined>): string {
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} --dir ${JSON.stringify(store)} ls`;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: undefined, ...env })) if (v !== undefined) childEnv[k] = v;
  const res = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 30_000 });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout;
}

describe('human output', () => {
  it.skipIf(!hasScript)('colours the status on a terminal, and not with NO_COLOR', () => {
    const coloured = onTerminal({});
    expect(coloured).toContain('\u001b[31mfailed\u001b[0m');
    const plain = onTerminal({ NO_COLOR: '1' });
    expect(plain).toContain('failed');
    expect(plain).not.toContain('\u001b[');
  });

  it('never lets a command, group or note write control sequences to the terminal (ls, show)', async () => {
    const dir = join(tmp.dir, 'hostile');
    const ex = new BackgroundExecutor({ store: new JsonDirStore({ dir, durability: 'rename' }) });
    const evil = '\u001b]0;pwned\u0007\u001b[2J\u009b31m';
    const r = await ex.submit({ command: `echo x\n${evil}clear`, group: `g${evil}`, tags: [`t${evil}`] });
    await ex.wait(r.id);
    await ex.shutdown();
    for (const args of [['ls'], ['show', r.id]]) {
      const res = spawnSync(process.execPath, [bin, '--dir', dir, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
      expect(res.status, res.stderr).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(res.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(res.stdout).toContain('\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m');
    }
  });

  it('prints durations and relative times for humans', () => {
    expect(duration(850)).toBe('850ms');
    expect(duration(1500)).toBe('1.5s');
    expect(duration(42_000)).toBe('42s');
    expect(duration(185_000)).toBe('3m05s');
    expect(duration(2 * 3_600_000 + 600_000)).toBe('2h10m');
    expect(duration(3 * 86_400_000 + 3_600_000)).toBe('3d1h');
    expect(relative(10_000, 9_500)).toBe('just now');
    expect(relative(100_000, 88_000)).toBe('12s ago');
    expect(relative(0, 180_000)).toBe('in 3m00s');
  });

  it('aligns columns and cuts the last one to the width', () => {
    const text = table(['ID', 'COMMAND'], [['a', 'x'.repeat(50)], ['bbb', 'short']], 20);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('ID   COMMAND');
    expect(lines[1]).toBe(`a    ${'x'.repeat(14)}…`);
    expect(lines[1]!.length).toBe(20);
    expect(lines[2]).toBe('bbb  short');
  });

  it('maps an ended task to the exit code a shell would give', () => {
    expect(waitExitCode({ exitCode: 3, signal: null })).toBe(3);
    expect(waitExitCode({ exitCode: null, signal: 'SIGKILL' })).toBe(137);
    expect(waitExitCode({ exitCode: null, signal: null })).toBe(125);
  });
});

describe('argument parsing', () => {
  it('finds the command after global options, takes BGEXEC_DIR, and refuses what it does not know', () => {
    expect(parseCli(['--dir', '/s', '--json', 'ls', '-s', 'running'], {})).toMatchObject({ command: 'ls', dir: '/s', json: true, values: { status: ['running'] } });
    expect(parseCli(['kill', 'a', 'b', '--grace', '2s'], { BGEXEC_DIR: '/e' })).toMatchObject({ command: 'kill', dir: '/e', positionals: ['a', 'b'] });
    expect(parseCli(['submit', '-p', '3', '--', 'ls', '-l'], {})).toMatchObject({ positionals: ['ls', '-l'], values: { priority: '3' } });
    expect(() => parseCli(['ls', '--bogus'], {})).toThrow(/Unknown option/);
    expect(() => parseCli(['show'], {})).toThrow(/needs an argument/);
    expect(() => parseCli(['retry', 'a', 'b'], {})).toThrow(/at most 1/);
    expect(() => parseCli([], {})).toThrow(/command is required/);
    expect(parseCli(['--help'], {}).help).toBe(true);
    expect(durationArg('t', '1.5s')).toBe(1500);
    expect(durationArg('t', '250')).toBe(250);
    expect(durationArg('t', '2m')).toBe(120_000);
    expect(() => durationArg('t', '-1s')).toThrow(/duration/);
    expect(() => intArg('n', '1.5')).toThrow(/integer/);
  });
});

describe('package', () => {
  it('names the bin bgexec, an executable Node script', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.bgexec).toBe('dist/cli/main.js');
    expect(readFileSync(join(ROOT, 'src/cli/main.ts'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  // dist/ exists once `npm run build` ran (CI builds before it tests).
  it.skipIf(!existsSync(join(ROOT, 'dist/cli/main.js')))('the built dist/cli/main.js prints the usage', () => {
    const res = spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toContain('Usage: bgexec');
  });
});

// An app that imports bgexec, bundled by esbuild as ESM for Node, runs: tree-kill (CommonJS, whose
// `require('child_process')` esbuild's ESM output cannot serve) is loaded only when a kill
// escalates, through a require made at call time. The bundled app times out a process tree that
// ignores SIGTERM, so the escalation (and with it the tree-kill backstop) really happens; it runs
// once beside node_modules (tree-kill found) and once alone (not found: the /proc sweep kills).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// tree-kill runs `ps`; bgexec loads it only where `ps` exists (slim images lack procps).
const HAS_PS = (process.env['PATH'] ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, 'ps')));

const APP = `
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundExecutor } from ${JSON.stringify(join(ROOT, 'src/index.js'))};

// Alive = listed in /proc and not a zombie (an orphan's zombie may never be reaped here).
function alive(pid) {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

const ex = new BackgroundExecutor();
const task = await ex.submit({ command: 'trap "" TERM; sleep 300 & echo $!; sleep 300', timeoutMs: 300, graceMs: 200 });
const done = await ex.wait(task.id, { timeoutMs: 30000 });
const child = Number((await ex.readOutput(task.id)).text.trim());
await ex.shutdown();
let gone = false;
for (let i = 0; i < 100 && !gone; i++) {
  gone = !alive(child);
  if (!gone) await sleep(50);
}
console.log(JSON.stringify({ status: done.status, signal: done.signal, child, gone }));
`;

// Preloaded into the bundled app: notes in a file whether tree-kill was loaded (and from where).
const HOOK = `
const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  const m = load.call(this, request, ...rest);
  if (request === 'tree-kill') require('node:fs').writeFileSync(process.env.TREE_KILL_NOTE, 'loaded');
  return m;
};
`;

describe('an esbuild ESM bundle of an app that imports bgexec', () => {
  // Under the repository, so that the bundle finds tree-kill in its node_modules at run time.
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const near = mkdtempSync(join(ROOT, '.tmp', 'bundle-'));
  const far = mkdtempSync(join(tmpdir(), 'bgexec-bundle-'));
  beforeAll(async () => {
    writeFileSync(join(near, 'app.mjs'), APP);
    writeFileSync(join(far, 'hook.cjs'), HOOK);
    const result = await build({
      entryPoints: [join(near, 'app.mjs')],
      outfile: join(near, 'out', 'app.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    mkdirSync(join(far, 'out'));
    copyFileSync(join(near, 'out', 'app.mjs'), join(far, 'out', 'app.mjs'));
  });
  afterAll(() => {
    rmSync(near, { recursive: true, force: true });
    rmSync(far, { recursive: true, force: true });
  });

  const run = (dir: string) => {
    const note = join(dir, 'tree-kill.note');
    const r = spawnSync(process.execPath, ['--require', join(far, 'hook.cjs'), join(dir, 'out', 'app.mjs')], {
      encoding: 'utf8',
      timeout: 40_000,
      env: { ...process.env, TREE_KILL_NOTE: note },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { status: string; signal: string | null; child: number; gone: boolean };
    return { ...result, treeKillLoaded: existsSync(note) };
  };

  it(`runs beside node_modules: the timeout escalates to SIGKILL${HAS_PS ? ', loads tree-kill then,' : ' (no ps here, so no tree-kill)'} and the tree is gone`, () => {
    const r = run(near);
    expect(r).toMatchObject({ status: 'timed_out', signal: 'SIGKILL', gone: true, treeKillLoaded: HAS_PS });
    expect(r.child).toBeGreaterThan(1);
  });

  it('runs alone, without node_modules: the same, without tree-kill', () => {
    expect(run(far)).toMatchObject({ status: 'timed_out', signal: 'SIGKILL', gone: true, treeKillLoaded: false });
  });
});

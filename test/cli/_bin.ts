// Test harness of the `bgexec` command: the bin built from the sources into a private
// directory (never dist/, which other test files may be reading), an owner process holding a
// store, and helpers to run the bin as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Bundles src/cli/main.ts (dependencies left as imports, resolved from the repository's
 * node_modules) into `.tmp/`, and returns the path of the built bin and a cleanup function.
 * `BGEXEC_CLI_BIN` names another build to test instead (e.g. `dist/cli/main.js`).
 */
export async function buildCli(): Promise<{ bin: string; remove: () => void }> {
  const given = process.env.BGEXEC_CLI_BIN;
  if (given) return { bin: given, remove: () => undefined };
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const out = mkdtempSync(join(ROOT, '.tmp', 'cli-bin-'));
  const bin = join(out, 'main.mjs');
  await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile: bin,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  return { bin, remove: () => rmSync(out, { recursive: true, force: true }) };
}

/** What a finished run of the bin gave. */
export interface BinResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number | undefined;
}

/** A running child with its output collected so far. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<BinResult>;
}

/** Starts `node <bin> args` without waiting for it. `NO_COLOR` is unset unless given. */
export function startBin(bin: string, args: readonly string[], env: Record<string, string | undefined> = {}): Running {
  const childEnv: Record<string, string | undefined> = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env };
  for (const k of Object.keys(childEnv)) if (childEnv[k] === undefined) delete childEnv[k];
  const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env: childEnv as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<BinResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, pid: child.pid }));
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

/** Runs `node <bin> args` to its end. */
export function runBin(bin: string, args: readonly string[], env: Record<string, string | undefined> = {}): Promise<BinResult> {
  return startBin(bin, args, env).done;
}

/** Polls `cond` every 50 ms for at most `ms`; returns whether it became true. */
export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A live owner process (test/cli/_owner.ts) holding a store. */
export interface Owner {
  pid: number;
  /** Ids of the specs it submitted at start, in order. */
  ids: string[];
  stderr: () => string;
  alive: () => boolean;
  /** SIGTERM (shutdown, mode kill) and wait for the exit. */
  stop: () => Promise<void>;
}

/** Starts an owner of the store at `dir` that submits `specs`, once it said it is ready. */
export async function startOwner(dir: string, specs: readonly object[] = []): Promise<Owner> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/cli/_owner.ts'), dir, JSON.stringify(specs)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let exited = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<void>((resolve) => child.on('close', () => {
    exited = true;
    resolve();
  }));
  const ready = await until(() => out.includes('\n') || exited, 30_000);
  if (!ready || exited) {
    child.kill('SIGKILL');
    throw new Error(`owner did not start: ${out} ${err}`);
  }
  const hello = JSON.parse(out.split('\n')[0]!) as { pid: number; ids: string[] };
  return {
    pid: hello.pid,
    ids: hello.ids,
    stderr: () => err,
    alive: () => !exited,
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      await closed;
    },
  };
}

/** A fresh directory under the OS temp dir for one test file. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// Peer workloads of the local throughput benchmark: what else runs N `sh -c true` tasks at a
// given concurrency. Each returns how many exited 0, or a reason it cannot run here.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Why a peer is skipped, or undefined when it can run. */
export type Availability = string | undefined;

function hasCommand(name: string): boolean {
  return spawnSync('/bin/sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** `xargs -P`: fork/exec in C, no output captured (the fastest a pool of processes gets here). */
export function xargsAvailable(): Availability {
  return hasCommand('xargs') ? undefined : 'xargs not installed';
}

/** GNU parallel: output buffered in temp files. `.ci/run` installs it; without it, skipped. */
export function parallelAvailable(): Availability {
  if (!hasCommand('parallel')) return 'GNU parallel not installed (apt-get install parallel)';
  const r = spawnSync('parallel', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('GNU parallel') ? undefined : 'parallel is not GNU parallel';
}

/** Feeds `count` lines to `argv` on stdin; resolves with its exit code. */
function runFed(argv: readonly string[], count: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
    child.stdin!.end(`${Array.from({ length: count }, (_, i) => i).join('\n')}\n`);
  });
}

/** `count` × `sh -c command` through `xargs -P concurrency`; resolves with the tasks that exited 0. */
export async function runXargs(command: string, count: number, concurrency: number): Promise<number> {
  // `sh -c command <n>`: the input line becomes `$0`, unused by the command.
  const code = await runFed(['xargs', '-P', String(concurrency), '-n', '1', '/bin/sh', '-c', command], count);
  return code === 0 ? count : 0;
}

/** `count` × `sh -c command` through GNU parallel `-j concurrency`. */
export async function runParallel(command: string, count: number, concurrency: number): Promise<number> {
  const code = await runFed(['parallel', '--will-cite', '-j', String(concurrency), '-N0', '/bin/sh', '-c', command], count);
  return code === 0 ? count : 0;
}

/** Raw spawn with stdout and stderr redirected to two new files per task (in `dir`). */
export async function runSpawnToFiles(command: string, count: number, concurrency: number, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  let next = 0;
  let ok = 0;
  const one = (i: number): Promise<number | null> =>
    new Promise((resolve, reject) => {
      const out = openSync(join(dir, `${i}.out`), 'a', 0o600);
      const err = openSync(join(dir, `${i}.err`), 'a', 0o600);
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', out, err] });
      closeSync(out);
      closeSync(err);
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
  const worker = async (): Promise<void> => {
    while (next < count) {
      if ((await one(next++)) === 0) ok++;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return ok;
}

type PQueueCtor = new (options: { concurrency: number }) => { add<T>(fn: () => Promise<T>): Promise<T>; onIdle(): Promise<void> };
type Execa = (file: string, args: readonly string[], options?: Record<string, unknown>) => Promise<{ exitCode?: number; stdout: unknown }>;

/** p-queue + execa, loaded on demand (devDependencies); a reason when they are missing. */
export async function loadPQueueExeca(): Promise<{ PQueue: PQueueCtor; execa: Execa } | string> {
  try {
    const pq = (await import('p-queue')) as unknown as { default: PQueueCtor };
    const ex = (await import('execa')) as unknown as { execa: Execa };
    return { PQueue: pq.default, execa: ex.execa };
  } catch (err) {
    return `p-queue or execa not installed (${(err as Error).message.split('\n')[0]})`;
  }
}

/** `count` × `execa('/bin/sh', ['-c', command])` (output kept in memory) under p-queue. */
export async function runPQueueExeca(peer: { PQueue: PQueueCtor; execa: Execa }, command: string, count: number, concurrency: number): Promise<number> {
  const queue = new peer.PQueue({ concurrency });
  let ok = 0;
  for (let i = 0; i < count; i++) {
    void queue.add(async () => {
      const r = await peer.execa('/bin/sh', ['-c', command], { reject: false });
      if (r.exitCode === 0) ok++;
    });
  }
  await queue.onIdle();
  return ok;
}

// Shared helpers of the LocalTransport test files (real processes, real directories).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import type { LaunchRequest } from '../../src/transports/types.js';

// Every test registers its transports, roots and task ids here; the afterEach hook of
// registerCleanup() kills whatever still carries one of those task ids (scanning /proc),
// closes the transports and removes the roots.
export const transports: LocalTransport[] = [];
export const roots: string[] = [];
const taskIds: string[] = [];
let seq = 0;

/** A fresh temporary directory, removed after the test. */
export function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'bgexec-local-test-'));
  roots.push(root);
  return root;
}
/** A transport closed after the test. */
export function newTransport(root?: string): LocalTransport {
  const t = new LocalTransport(root === undefined ? {} : { root });
  transports.push(t);
  return t;
}
/** A fresh task id whose processes are killed after the test. */
export function id(): string {
  const tid = `lt_${process.pid}_${++seq}`;
  taskIds.push(tid);
  return tid;
}
/** A launch request with a fresh task id (attempt 1, not detached unless overridden). */
export function req(command: string, extra: Partial<LaunchRequest> = {}): LaunchRequest {
  return { taskId: id(), attempt: 1, command, detached: false, ...extra };
}

/** Live (non-zombie) pids whose environment carries BGEXEC_TASK_ID=<taskId>, read from /proc. */
export function pidsOfTask(taskId: string): number[] {
  const needle = Buffer.from(`BGEXEC_TASK_ID=${taskId}\0`);
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const env = readFileSync(`/proc/${name}/environ`);
      if (env.subarray(0, needle.length).equals(needle) || env.includes(Buffer.concat([Buffer.from([0]), needle]))) found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Registers the afterEach hook that ends every process and removes every directory of a test. */
export function registerCleanup(): void {
  afterEach(async () => {
    const tids = taskIds.splice(0);
    // Repeat until a scan finds nothing: a shell killed mid-fork may leave a child the scan missed.
    for (let round = 0; round < 100; round++) {
      const pids = tids.flatMap(pidsOfTask);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const t of transports.splice(0)) await t.close();
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });
}

/** Everything written so far to one stream of an attempt. */
export async function readAll(t: LocalTransport, h: TransportHandle, stream: 'stdout' | 'stderr'): Promise<Buffer> {
  return (await t.read(h, stream, 0, 64 << 20)).data;
}

/** Polls until `accept` holds (for conditions no event reports, like bytes in a file). */
export async function until(accept: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await accept()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}


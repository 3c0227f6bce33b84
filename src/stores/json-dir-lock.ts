import { randomUUID } from 'node:crypto';
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { StoreError } from '../errors.js';
import { FILE_MODE, tempPathFor, writeFileAtomic } from './atomic-write.js';

/** Content of a store's lock file: enough to tell whether its owner still runs. */
export interface LockOwner {
  pid: number;
  /** `/proc/sys/kernel/random/boot_id`: a pid of another boot is never the owner. */
  bootId: string;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks after boot): a reused pid has another. */
  startTime: number;
  hostname: string;
  /** Random per acquisition, so two stores of one process tell their locks apart. */
  token: string;
}

// An unparsable lock younger than this may be one being written by the fallback path.
const UNREADABLE_GRACE_MS = 2000;
const MAX_ROUNDS = 5;

let bootIdCache: string | undefined;

async function bootId(): Promise<string> {
  bootIdCache ??= (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown-boot')).trim();
  return bootIdCache;
}

/** State letter and start time of a process from `/proc/<pid>/stat`, or undefined if it does not exist. */
export async function procStat(pid: number | 'self'): Promise<{ state: string; startTime: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces and ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = Number(fields[22 - 3]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { state, startTime };
}

/** Lock content describing this process, with a fresh token. */
export async function selfLockOwner(): Promise<LockOwner> {
  const self = await procStat('self');
  return { pid: process.pid, bootId: await bootId(), startTime: self?.startTime ?? 0, hostname: hostname(), token: randomUUID() };
}

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockOwner> | null;
    if (v && typeof v.pid === 'number' && typeof v.bootId === 'string' && typeof v.startTime === 'number' && typeof v.hostname === 'string') {
      return { pid: v.pid, bootId: v.bootId, startTime: v.startTime, hostname: v.hostname, token: typeof v.token === 'string' ? v.token : '' };
    }
  } catch {
    // fall through: unparsable
  }
  return undefined;
}

/** True when the process that wrote `owner` is still running (same boot, pid alive, same start time). */
export async function ownerAlive(owner: LockOwner): Promise<boolean> {
  if (owner.bootId !== (await bootId())) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else; the start time decides.
  }
  const st = await procStat(owner.pid);
  return st !== undefined && st.state !== 'Z' && st.startTime === owner.startTime;
}

async function readLock(path: string): Promise<{ raw: string; owner?: LockOwner; ageMs: number } | undefined> {
  try {
    const [raw, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { raw, owner: parseOwner(raw), ageMs: Date.now() - st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Creates `path` with `body` only if it does not exist; the content is complete the moment it appears. */
async function createExclusive(path: string, body: string): Promise<boolean> {
  const temp = tempPathFor(path);
  if (!(await createWithOpen(temp, body))) throw new Error(`temp file ${temp} exists`);
  try {
    await link(temp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    // No hard links on this file system: exclusive create, then write (see UNREADABLE_GRACE_MS).
    return createWithOpen(path, body);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function createWithOpen(path: string, body: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

function locked(path: string, owner: LockOwner | undefined, detail?: string): StoreError {
  const who = owner ? `pid ${owner.pid} on ${owner.hostname}` : 'another process';
  return new StoreError('STORE_LOCKED', `store is locked by ${who}${detail ? ` (${detail})` : ''}: ${path}`);
}

/** Whether a lock someone else holds may be taken over. Throws STORE_LOCKED when not. */
async function assertStale(path: string, seen: { owner?: LockOwner; ageMs: number }): Promise<void> {
  if (seen.owner) {
    if (await ownerAlive(seen.owner)) throw locked(path, seen.owner);
  } else if (seen.ageMs < UNREADABLE_GRACE_MS) {
    throw locked(path, undefined, 'lock file unreadable, possibly being written');
  }
}

/**
 * Takes the single-writer lock at `path`. A lock of a live owner (same boot, pid alive,
 * same start time) throws `STORE_LOCKED` naming its pid; a stale one is replaced. Two
 * processes taking over the same stale lock serialize on `<path>.takeover`.
 */
export async function acquireLock(path: string): Promise<LockOwner> {
  const me = await selfLockOwner();
  const body = `${JSON.stringify(me)}\n`;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (await createExclusive(path, body)) return me;
    const seen = await readLock(path);
    if (!seen) continue; // released meanwhile: try again
    await assertStale(path, seen);
    const mutex = `${path}.takeover`;
    if (!(await createExclusive(mutex, body))) {
      const other = await readLock(mutex);
      if (other) {
        await assertStale(mutex, other);
        await unlink(mutex).catch(() => undefined); // a takeover that died half-way
      }
      continue;
    }
    try {
      // Only replace the very lock judged stale; if it changed, judge again.
      const again = await readLock(path);
      if (again?.raw !== seen.raw) continue;
      await writeFileAtomic(path, body, { fsync: true });
    } finally {
      await unlink(mutex).catch(() => undefined);
    }
    const confirm = await readLock(path);
    if (confirm?.owner?.token === me.token) return me;
    throw locked(path, confirm?.owner, 'lost a race taking over a stale lock');
  }
  throw locked(path, (await readLock(path))?.owner, `gave up after ${MAX_ROUNDS} attempts`);
}

/** Whether the lock at `path` is still the one `owner` took. */
export async function holdsLock(path: string, owner: LockOwner): Promise<boolean> {
  const current = await readLock(path);
  return current?.owner?.token === owner.token && current.owner.pid === owner.pid;
}

/** Removes the lock at `path` if it is still `owner`'s; returns whether it did. */
export async function releaseLock(path: string, owner: LockOwner): Promise<boolean> {
  if (!(await holdsLock(path, owner))) return false;
  await unlink(path);
  return true;
}

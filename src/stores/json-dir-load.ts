import { isUtf8 } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { readdir, unlink } from 'node:fs/promises';
import type { TaskRecord } from '../task.js';
import { fsyncDir, isTempName } from './atomic-write.js';
import { decodeName, entryPath, quarantine, type BadEntry } from './json-dir-quarantine.js';
import { recordProblem } from './record-validate.js';
import type { StoreLoadResult } from './types.js';

/**
 * Largest task file a JSON directory store reads (16 MiB). A larger file is quarantined without
 * being read, and `put()` refuses a record whose JSON would be larger, so every file the store
 * writes loads back.
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

// Task files are read synchronously in slices of at most this many ms, yielding to the event
// loop in between. Measured on a busy 2-core machine, 10,000 files: ~170 ms this way against
// 300-900 ms through the libuv pool (four threads, four hops per file), with the loop never
// blocked for much longer than one slice.
const SLICE_MS = 8;
/** Names of task files: `<id>.json`. */
export const TASK_FILE = /^([A-Za-z0-9_-]{1,128})\.json$/;
// Only temp files of task files are removed; any other hidden *.tmp is not ours and is quarantined.
const TASK_TEMP = /^\.[A-Za-z0-9_-]{1,128}\.json\./;
// O_NOFOLLOW: a symlink swapped in after readdir is not followed. O_NONBLOCK: nor does a FIFO
// swapped in block the open (it is then refused by the fstat check, unread).
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
// Errors that say nothing about the entry but about the process or the device (out of file
// descriptors or memory, a failing disk): they fail the load, so that a bad moment never moves
// every task into quarantine. Any other error opening or reading an entry quarantines that entry.
const FATAL_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EIO', 'EINTR', 'EAGAIN']);

/** Where a JSON directory store keeps its files. */
export interface TaskDirLayout {
  tasksDir: string;
  quarantineDir: string;
  fsync: boolean;
}

/** What reading one task file gave: its text, why it is unusable, or that it is gone. */
export type ReadOutcome = { text: string } | { reason: string; cause?: unknown } | { gone: true };

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Reads one task file, checking its type and size on the open descriptor before reading a byte.
 * Entry-level problems come back as a reason; process- or device-level errors are thrown.
 */
export function readTaskFile(path: string | Buffer): ReadOutcome {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT') return { gone: true };
    if (code !== undefined && FATAL_CODES.has(code)) throw err;
    return { reason: `cannot open: ${code ?? String(err)}`, cause: err };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { reason: 'not a regular file' };
    if (st.size > MAX_RECORD_BYTES) return { reason: `${st.size} bytes, larger than ${MAX_RECORD_BYTES} bytes` };
    // One byte more than the size, so a file that grew since the fstat is seen to have grown.
    const buf = Buffer.allocUnsafe(st.size + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buf.length; length += n) n = readSync(fd, buf, length, buf.length - length, null);
    if (length > st.size) return { reason: 'changed size while being read' };
    const data = buf.subarray(0, length);
    return isUtf8(data) ? { text: data.toString('utf8') } : { reason: 'not valid UTF-8' };
  } catch (err) {
    const code = codeOf(err);
    if (code !== undefined && FATAL_CODES.has(code)) throw err;
    return { reason: `cannot read: ${code ?? String(err)}`, cause: err };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads every task file of `tasksDir` (in time slices, see SLICE_MS). Every entry that is not a
 * loadable task file (unparsable, invalid, wrong version, foreign or undecodable name, not a
 * regular file, larger than {@link MAX_RECORD_BYTES}, unreadable) is moved to the quarantine
 * directory and reported; one odd entry never fails the load. Temp files left by a crashed
 * write are removed. Records come back sorted by `order`.
 */
export async function loadTaskDir(layout: TaskDirLayout): Promise<StoreLoadResult> {
  // Raw names: a name that is not valid UTF-8 could not be opened or moved through a string.
  const entries = await readdir(layout.tasksDir, { withFileTypes: true, encoding: 'buffer' });
  const records: TaskRecord[] = [];
  const bad: BadEntry[] = [];
  const temps: Array<string | Buffer> = [];
  let sliceStart = performance.now();
  for (const entry of entries) {
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
    const raw = entry.name;
    const name = decodeName(raw);
    if (name !== undefined && entry.isFile() && TASK_TEMP.test(name) && isTempName(name)) {
      temps.push(entryPath(layout.tasksDir, raw, name));
      continue;
    }
    const id = name !== undefined && entry.isFile() ? TASK_FILE.exec(name)?.[1] : undefined;
    if (id === undefined) {
      bad.push({ raw, name, reason: entry.isFile() ? 'not a task file name' : 'not a regular file' });
      continue;
    }
    const read = readTaskFile(entryPath(layout.tasksDir, raw, name));
    if ('gone' in read) continue;
    if ('reason' in read) {
      bad.push({ raw, name, taskId: id, reason: read.reason, cause: read.cause });
      continue;
    }
    const { text } = read;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      bad.push({ raw, name, taskId: id, reason: text.length === 0 ? 'empty file' : `not valid JSON: ${(err as Error).message}`, cause: err });
      continue;
    }
    const problem = recordProblem(value, id);
    if (problem === undefined) records.push(value as TaskRecord);
    else bad.push({ raw, name, taskId: id, reason: problem });
  }
  // Leftovers of a write that died before its rename: never data, just remove them.
  await Promise.all(temps.map((t) => unlink(t).catch(() => undefined)));
  bad.sort((a, b) => Buffer.compare(a.raw, b.raw));
  const problems = await quarantine(layout, bad);
  if (temps.length > 0 && layout.fsync) await fsyncDir(layout.tasksDir);
  records.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { records, problems };
}

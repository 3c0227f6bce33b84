import { errorMessage } from '../args.js';
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { DIR_MODE, fsyncDir } from './atomic-write.js';
import type { StoreProblem } from './types.js';

/** An entry of tasks/ that a load could not use, named by its raw bytes. */
export interface BadEntry {
  /** The entry's name exactly as the file system has it (may be any bytes but `/` and NUL). */
  raw: Buffer;
  /** The name decoded, or undefined when it is not valid UTF-8. */
  name: string | undefined;
  reason: string;
  taskId?: string;
  cause?: unknown;
}

/** Where quarantine happens. */
export interface QuarantineLayout {
  tasksDir: string;
  quarantineDir: string;
  fsync: boolean;
}

// Names longer than this, or with control characters, are not kept verbatim: the quarantine
// name gets a timestamp appended and must stay well under NAME_MAX (255 bytes).
const MAX_KEPT_NAME = 128;
// Bounds the search for a free name; ten thousand bad files of one name in one millisecond is not a thing.
const MAX_NAME_TRIES = 10_000;

/** The entry name as text, or undefined when the bytes are not valid UTF-8. */
export function decodeName(raw: Buffer): string | undefined {
  return isUtf8(raw) ? raw.toString('utf8') : undefined;
}

/** The entry's path: a string when its name is UTF-8, else a Buffer (a string could not name it). */
export function entryPath(dir: string, raw: Buffer, name: string | undefined): string | Buffer {
  return name !== undefined ? join(dir, name) : Buffer.concat([Buffer.from(`${dir}/`), raw]);
}

/** A printable form of a name for messages: invalid UTF-8 bytes and control characters as `\xNN`. */
export function printableName(raw: Buffer, name: string | undefined): string {
  if (name !== undefined && !/[\x00-\x1f\x7f]/.test(name)) return name;
  let out = '';
  for (const byte of raw) out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

/**
 * The name a bad entry gets in quarantine/ (before the timestamp): the name itself when it is
 * short, valid UTF-8 and free of control characters; otherwise an ASCII digest of it plus a
 * hash of its bytes, so that it fits NAME_MAX and can be typed in a shell.
 */
export function quarantineBaseName(raw: Buffer, name: string | undefined): string {
  if (name !== undefined && raw.length <= MAX_KEPT_NAME && !/[\x00-\x1f\x7f]/.test(name)) return name;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 12);
  const ascii = raw.toString('latin1').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
  return `${ascii}~${hash}`;
}

/** A free path `<dir>/<prefix>[-k]`: quarantine never overwrites (lstat: a dangling symlink counts as taken). */
async function freePath(dir: string, prefix: string): Promise<string> {
  for (let k = 0; k < MAX_NAME_TRIES; k++) {
    const candidate = join(dir, k === 0 ? prefix : `${prefix}-${k}`);
    try {
      await lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return candidate;
      throw err;
    }
  }
  throw new Error(`no free name for ${prefix} in ${dir}`);
}

/**
 * Makes sure `quarantineDir` is a real directory (not a symlink, which would send quarantined
 * files out of the store). Anything else found at that path is moved aside, never followed
 * nor deleted, to `<quarantineDir>.displaced-<stamp>`, and reported in `problems`.
 */
async function ensureQuarantineDir(dir: string, stamp: string, fsync: boolean, problems: StoreProblem[]): Promise<void> {
  let found: Stats | undefined;
  try {
    found = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (found?.isDirectory()) return;
  if (found) {
    const kind = found.isSymbolicLink() ? 'a symlink' : found.isFile() ? 'a regular file' : 'a special file';
    const target = await freePath(dirname(dir), `${basename(dir)}.displaced-${stamp}`);
    await rename(dir, target);
    problems.push({
      source: dir,
      quarantinedTo: target,
      error: new StoreError('STORE_CORRUPT', `${dir} was ${kind}, not a directory; moved to ${target} and replaced by a directory`),
    });
  }
  await mkdir(dir, { mode: DIR_MODE });
  if (fsync) await fsyncDir(dirname(dir));
}

/**
 * Moves each bad entry of tasks/ into the quarantine directory (rename: a symlink is moved,
 * not followed; nothing is read) and reports it as `STORE_CORRUPT`. An entry that cannot be
 * moved (or every entry, when no quarantine directory can be had) stays where it is and is
 * reported without `quarantinedTo`: the load goes on either way.
 */
export async function quarantine(layout: QuarantineLayout, bad: readonly BadEntry[]): Promise<StoreProblem[]> {
  if (bad.length === 0) return [];
  const stamp = new Date().toISOString().replace(/:/g, '');
  const problems: StoreProblem[] = [];
  let unavailable: string | undefined;
  try {
    await ensureQuarantineDir(layout.quarantineDir, stamp, layout.fsync, problems);
  } catch (err) {
    unavailable = `quarantine directory ${layout.quarantineDir} unusable: ${errorMessage(err)}`;
  }
  let moved = false;
  // One at a time: each picks a free name, and there are few of them.
  for (const b of bad) {
    const shown = join(layout.tasksDir, printableName(b.raw, b.name));
    let target: string | undefined;
    let leftBecause = unavailable;
    if (leftBecause === undefined) {
      try {
        target = await freePath(layout.quarantineDir, `${quarantineBaseName(b.raw, b.name)}.${stamp}`);
        await rename(entryPath(layout.tasksDir, b.raw, b.name), target);
        moved = true;
      } catch (err) {
        target = undefined;
        leftBecause = `cannot move it: ${errorMessage(err)}`;
      }
    }
    const what = target !== undefined ? `moved to ${target}` : `left in place (${leftBecause})`;
    const error = new StoreError('STORE_CORRUPT', `bad task file ${shown} (${b.reason}); ${what}`, { cause: b.cause, taskId: b.taskId });
    problems.push(target !== undefined ? { source: shown, quarantinedTo: target, error } : { source: shown, error });
  }
  if (moved && layout.fsync) await Promise.all([fsyncDir(layout.tasksDir), fsyncDir(layout.quarantineDir)]);
  return problems;
}

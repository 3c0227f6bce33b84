import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode of every file a durable store writes (owner read/write only). */
export const FILE_MODE = 0o600;
/** Mode of every directory a durable store creates (owner only). */
export const DIR_MODE = 0o700;

// Temp files are hidden and end in `.tmp`, so a loader can tell leftovers of a crash from data.
const TEMP_SUFFIX = '.tmp';
let tempCounter = 0;

/** A unique temp path beside `target` (same directory, so the rename cannot cross file systems). */
export function tempPathFor(target: string): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return join(dirname(target), `.${basename(target)}.${process.pid}.${tempCounter}${TEMP_SUFFIX}`);
}

const TEMP_NAME = /^\..+\.\d+\.\d+\.tmp$/;

/** True for a name produced by {@link tempPathFor} (`.<name>.<pid>.<counter>.tmp`). */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** fsync the data before the rename (the directory is the caller's business). */
  fsync: boolean;
  mode?: number;
}

/**
 * Replaces `target` with `data` so that a crash at any moment leaves either the old or the
 * new content, never a mix: write a temp file beside it, optionally fsync it, rename it over
 * the target. On failure the temp file is removed and the target is untouched.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  const temp = tempPathFor(target);
  let created = false;
  try {
    const fh = await open(temp, 'wx', options.mode ?? FILE_MODE);
    created = true;
    try {
      await fh.writeFile(data);
      if (options.fsync) await fh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined); // keep the write's error, not the close's
      throw err;
    }
    await fh.close();
    await rename(temp, target);
  } catch (err) {
    if (created) await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** fsyncs a directory so that renames and unlinks in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

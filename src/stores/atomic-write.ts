import { close, closeSync, fsync, open, rename, unlink, write } from 'node:fs';
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
export function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicWriteOptions): Promise<void> {
  // Callbacks, not fs/promises: a store writes a file per task at every transition, and each
  // FileHandle step (open, write, sync, close) costs a promise and a handle object on the main
  // thread — about 1.5× the main-thread CPU of this chain (measured: 130 vs 85 µs per fsynced write).
  return new Promise((resolve, reject) => {
    const temp = tempPathFor(target);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const fail = (err: Error): void => {
      unlink(temp, () => reject(err));
    };
    open(temp, 'wx', options.mode ?? FILE_MODE, (openErr, fd) => {
      if (openErr) {
        reject(openErr);
        return;
      }
      // Keeps the first error: that of the write or sync, not the close's.
      const closeThen = (err: Error | null): void => {
        close(fd, (closeErr) => {
          const first = err ?? closeErr;
          if (first) fail(first);
          else rename(temp, target, (renameErr) => (renameErr ? fail(renameErr) : resolve()));
        });
      };
      const writeFrom = (offset: number): void => {
        if (offset >= bytes.length) {
          if (options.fsync) fsync(fd, closeThen);
          else closeThen(null);
          return;
        }
        write(fd, bytes, offset, bytes.length - offset, null, (writeErr, written) => {
          if (writeErr) closeThen(writeErr);
          // A regular file takes at least a byte or says why not; never loop on nothing.
          else if (written === 0) closeThen(new Error(`write to ${temp} made no progress`));
          else writeFrom(offset + written);
        });
      };
      writeFrom(0);
    });
  });
}

/** Opens a directory for {@link fsyncFd}: a store that syncs its directory at every group commit keeps it open. */
export function openDirectory(dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(dir, 'r', (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

/** fsyncs an open descriptor (a directory opened by {@link openDirectory}). */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => (err ? reject(err) : resolve()));
  });
}

/** fsyncs a directory so that renames and unlinks in it survive a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await openDirectory(dir);
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

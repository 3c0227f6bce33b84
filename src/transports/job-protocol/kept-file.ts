import { close, fstatSync, open, read, statSync, type Stats } from 'node:fs';
import type { ReadContext, ReadResult } from '../types.js';

// Reads of an output file for a reader that reads it chunk after chunk (one `follow()`): the
// file stays open and the buffer is reused from one read to the next, where a lone read
// opens, stats, reads and closes the file into a new buffer. Per chunk that is one trip
// through the libuv threadpool instead of four, and no new buffer: at 64 KiB chunks, about
// twice the rate of reopening each time, and no Buffer memory that grows with the output.

// A kept file unread for this long closes by itself: a reader that stops without releasing
// its context (an iterator dropped half-way) holds a descriptor no longer than this.
const IDLE_MS = 2_000;

// Smallest buffer given to a context; it then grows by doubling, up to the length asked.
const MIN_BUFFER_BYTES = 4096;

const EMPTY = Buffer.alloc(0);

function openFd(path: string): Promise<number> {
  return new Promise((resolve, reject) => open(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readFd(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buffer, at, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** An output file held open for the reads of one {@link ReadContext}. */
class KeptFile {
  readonly #path: string;
  readonly #fd: number;
  readonly #dev: number;
  readonly #ino: number;
  #busy = 0;
  #released = false;
  #lastUsed = Date.now();
  #timer: NodeJS.Timeout | undefined;

  private constructor(path: string, fd: number, st: Stats) {
    this.#path = path;
    this.#fd = fd;
    this.#dev = st.dev;
    this.#ino = st.ino;
    this.#arm(IDLE_MS);
  }

  /** Opens `path`; also returns the opened file's own stat (the path may have changed since a stat by name). */
  static async open(path: string): Promise<{ kept: KeptFile; st: Stats }> {
    const fd = await openFd(path);
    let st: Stats;
    try {
      st = fstatSync(fd);
    } catch (err) {
      close(fd, () => {});
      throw err;
    }
    return { kept: new KeptFile(path, fd, st), st };
  }

  /** Whether this is still the open file that `path` names (the same inode, not released). */
  matches(path: string, st: Stats): boolean {
    return !this.#released && path === this.#path && st.ino === this.#ino && st.dev === this.#dev;
  }

  /** Reads up to `want` bytes at `position` into `buffer`; fewer only at the end of the file. */
  async readInto(buffer: Buffer, want: number, position: number): Promise<number> {
    this.#busy++;
    try {
      let got = 0;
      while (got < want) {
        const n = await readFd(this.#fd, buffer, got, want - got, position + got);
        if (n === 0) break;
        got += n;
      }
      return got;
    } finally {
      this.#busy--;
      this.#lastUsed = Date.now();
      // Released during the read: the descriptor could not be closed under it, so close it now.
      if (this.#released && this.#busy === 0) close(this.#fd, () => {});
    }
  }

  /** Closes the file (once no read is using it). Safe to call twice. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#busy === 0) close(this.#fd, () => {});
  }

  // One timer for the idle check, re-armed for what is left rather than reset at every read.
  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      const idle = Date.now() - this.#lastUsed;
      if (this.#busy === 0 && idle >= IDLE_MS) this.release();
      else this.#arm(Math.max(1, IDLE_MS - idle));
    }, ms);
    this.#timer.unref();
  }
}

/** The context's buffer if it holds `want` bytes, else a larger one stored in the context. */
function bufferFor(context: ReadContext, want: number, length: number): Buffer {
  const current = context.buffer;
  if (current && current.length >= want) return current;
  const size = Math.min(length, Math.max(want, MIN_BUFFER_BYTES, 2 * (current?.length ?? 0)));
  // allocUnsafeSlow: the buffer lives as long as the context, so it must not pin a pool slab.
  return (context.buffer = Buffer.allocUnsafeSlow(size));
}

/**
 * `readRange` with a {@link ReadContext}: the file stays open in `context.kept` between reads
 * and is read into `context.buffer` (the returned `data` is a view of it). The size comes
 * from a stat by name at every read, so a file that was removed reads as removed (the fs
 * error, ENOENT, as when opening it fails) and a replaced one is opened again.
 */
export async function readKept(path: string, offset: number, length: number, context: ReadContext): Promise<ReadResult> {
  let kept = context.kept instanceof KeptFile ? context.kept : undefined;
  let st: Stats;
  try {
    // Sync on purpose: a stat of a local file costs microseconds, less than a threadpool trip.
    st = statSync(path);
  } catch (err) {
    context.kept?.release();
    context.kept = undefined;
    throw err;
  }
  if (!kept || !kept.matches(path, st)) {
    context.kept?.release();
    context.kept = undefined;
    const opened = await KeptFile.open(path);
    kept = opened.kept;
    context.kept = kept;
    // Replaced between the stat and the open: the size is that of the file now open.
    if (!kept.matches(path, st)) st = opened.st;
  }
  const want = Math.max(0, Math.min(length, st.size - offset));
  if (want === 0) return { data: EMPTY, totalBytes: st.size };
  const buffer = bufferFor(context, want, length);
  const got = await kept.readInto(buffer, want, offset);
  return { data: buffer.subarray(0, got), totalBytes: st.size };
}

import { mkdirSync } from 'node:fs';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readRange } from '../job-protocol/run-dir.js';
import type { OutputStream, ReadResult } from '../types.js';

/**
 * Local copies of remote attempts' `out` and `err`, appended by the poller as bytes arrive.
 *
 * Why a mirror: the executor asks for output sizes every 100 ms and reads whatever followers
 * want; answering both from local files costs no round trip, keeps memory bounded (bytes go
 * straight to disk, never into a growing string), and leaves the output readable while the
 * host is away. The remote run directory stays the source of truth: a new transport instance
 * (after a restart) starts with an empty mirror and fetches from offset 0 again.
 */
export class OutputMirror {
  private readonly dir: string;

  /** `dir` must be private to this process (it lives in the transport's 0700 directory). */
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private path(leaf: string, stream: OutputStream): string {
    return join(this.dir, `${leaf}.${stream === 'stdout' ? 'out' : 'err'}`);
  }

  /** Appends bytes received for a stream. */
  async append(leaf: string, stream: OutputStream, data: Buffer): Promise<void> {
    if (data.length > 0) await appendFile(this.path(leaf, stream), data, { mode: 0o600 });
  }

  /** Reads a range of the mirrored bytes; a stream that received nothing yet reads as empty. */
  async read(leaf: string, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    try {
      return await readRange(this.path(leaf, stream), offset, length);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), totalBytes: 0 };
      throw err;
    }
  }

  /** Forgets an attempt's bytes. */
  async remove(leaf: string): Promise<void> {
    await Promise.all([rm(this.path(leaf, 'stdout'), { force: true }), rm(this.path(leaf, 'stderr'), { force: true })]);
  }
}

import { closeSync, openSync, readSync } from 'node:fs';

// /proc files read on hot paths (leftover scans, waiting-for-input looks) are small: one reused
// buffer and open/read/close (readFileSync adds an fstat and a second read per file).
const buf = Buffer.allocUnsafe(4096);

/** The first 4 KiB of a small file (a /proc entry) as latin1 text, or undefined if it cannot be read. */
export function readSmallFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

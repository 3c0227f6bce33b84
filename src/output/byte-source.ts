/**
 * Random access to a growing byte stream (a task's `out` or `err` file, local or remote).
 * The output readers in this folder only ever talk to this interface, so they work the
 * same over a local file, an SSH poll reply or an in-memory buffer.
 */
export interface ByteSource {
  /**
   * Reads up to `length` bytes starting at `offset`. Fewer bytes (possibly none) come back
   * only when the stream currently ends before `offset + length`. `totalBytes` is the
   * stream's size at the time of the read.
   */
  read(offset: number, length: number): Promise<{ data: Buffer; totalBytes: number }>;
}

/**
 * A {@link ByteSource} over an in-memory buffer. Pass a function to serve a buffer that
 * changes between reads (a growing stream in tests or in a fake transport).
 */
export function bufferByteSource(data: Buffer | (() => Buffer)): ByteSource {
  const current = typeof data === 'function' ? data : () => data;
  return {
    async read(offset, length) {
      const buf = current();
      const start = Math.min(offset, buf.length);
      const end = Math.min(buf.length, start + length);
      // Copy so a caller that keeps the slice is not affected by later changes to the buffer.
      return { data: Buffer.from(buf.subarray(start, end)), totalBytes: buf.length };
    },
  };
}

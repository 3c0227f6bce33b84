import type { TransportHandle } from '../task.js';
import type { OutputStream, ReadContext, ReadResult, Transport } from '../transports/types.js';
import type { ByteSource } from './byte-source.js';

/**
 * Bytes a `follow()` asks its transport for at once when its chunks are smaller (1 MiB): the
 * chunks are then cut from that block, one trip to the transport per block instead of per
 * chunk. Following a 512 MiB file already written, in 64 KiB chunks, on a loaded 2-core
 * machine: ≈ 900 MiB/s with one read per chunk, ≈ 1,300 MiB/s with 256 KiB blocks,
 * ≈ 1,700 MiB/s with 1 MiB blocks. The buffer is sized to what there is to read (at most
 * this), and dropped when the follower waits long for more.
 */
export const READ_AHEAD_BYTES = 1_048_576;

const EMPTY = Buffer.alloc(0);

/**
 * The reads of one `follow()`: a {@link ByteSource} over the stream of the attempt set by
 * {@link FollowReader.at}, which asks a transport that takes its {@link ReadContext} for {@link READ_AHEAD_BYTES} at a time (into one reused buffer)
 * and serves smaller reads from the block it holds; other transports are asked for each chunk. Never shared by two reads at a time; each slice read from it must be
 * decoded before the next read, which may reuse the bytes.
 */
export class FollowReader implements ByteSource {
  readonly #context: ReadContext = {};
  #transport: Transport | undefined;
  #handle: TransportHandle | undefined;
  #stream: OutputStream = 'stdout';
  #attempt = -1;
  // What the last trip to the transport returned: `#block` holds bytes `#start`.. of the stream.
  #block: Buffer = EMPTY;
  #start = 0;
  #total = 0;

  /** Points the reader at one attempt's stream; switching attempts forgets the block read ahead. */
  at(transport: Transport, handle: TransportHandle, stream: OutputStream, attempt: number): this {
    if (attempt !== this.#attempt || stream !== this.#stream || transport !== this.#transport) this.#block = EMPTY;
    this.#transport = transport;
    this.#handle = handle;
    this.#stream = stream;
    this.#attempt = attempt;
    return this;
  }

  async read(offset: number, length: number): Promise<ReadResult> {
    const transport = this.#transport;
    const handle = this.#handle;
    if (!transport || !handle) throw new Error('FollowReader.read before at()');
    const end = offset + length;
    // Served from the block only when at least one more byte follows the range: the stream then
    // goes on past it, as a fresh read would find, so the slice cut from it is the same (the
    // files only grow). At the block's end a fresh read sees the stream's current size.
    if (offset >= this.#start && end < this.#start + this.#block.length) {
      return { data: this.#block.subarray(offset - this.#start, end - this.#start), totalBytes: this.#total };
    }
    // Read ahead only from a transport that takes the context (it set a buffer or kept a file
    // open): one that does not (SSH's mirror, Slurm) would wait for, and allocate, a whole block
    // per read instead of the chunk asked for. It shows after the first read, which asks no more.
    const takesContext = this.#context.kept !== undefined || this.#context.buffer !== undefined;
    const ask = takesContext ? Math.max(length, READ_AHEAD_BYTES) : length;
    const got = await transport.read(handle, this.#stream, offset, ask, this.#context);
    this.#block = got.data;
    this.#start = offset;
    this.#total = got.totalBytes;
    return { data: got.data.length > length ? got.data.subarray(0, length) : got.data, totalBytes: got.totalBytes };
  }

  /**
   * Drops the block and the buffer (a follower that has waited a while for more output holds
   * no memory for it); the transport's open file stays until it idles out.
   */
  idle(): void {
    this.#block = EMPTY;
    this.#context.buffer = undefined;
  }

  /** Releases what the transport kept open for this reader. */
  release(): void {
    this.#block = EMPTY;
    this.#context.buffer = undefined;
    this.#context.kept?.release();
    this.#context.kept = undefined;
  }
}

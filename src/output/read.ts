import { describeValue } from '../args.js';
import { BgexecError, InvalidArgumentError } from '../errors.js';
import type { ByteSource } from './byte-source.js';
import { completeUtf8Length, leadingContinuationBytes, utf8SequenceLength } from './utf8.js';

/** Default cap on the bytes one {@link readSlice} call returns. */
export const DEFAULT_MAX_BYTES = 65536;

/**
 * Largest `maxBytes` honoured: larger values are lowered to this (16 MiB) rather than
 * rejected, because the cursor protocol already lets a caller continue where a read stopped.
 */
export const MAX_READ_BYTES = 16 * 1024 * 1024;

// Unit of the backward scan of tail reads and the forward scan of head reads.
const BLOCK_BYTES = 65536;

/** How to read a slice of an output stream. `tail` and `head` exclude each other. */
export interface SliceOptions {
  /** Byte offset to start at (default 0). Validated but ignored with `tail`. */
  cursor?: number;
  /** Most bytes returned (default {@link DEFAULT_MAX_BYTES}, at most {@link MAX_READ_BYTES}). */
  maxBytes?: number;
  /** Return the last N lines (a trailing newline does not start an extra empty line). */
  tail?: number;
  /** Return the first N lines from `cursor`. */
  head?: number;
  /**
   * The stream will not grow any more (the task has ended): bytes at its end that do not
   * form a complete UTF-8 character are decoded anyway instead of being held back.
   */
  final?: boolean;
}

/** A decoded piece of an output stream and where to continue. */
export interface OutputSlice {
  text: string;
  /** Byte offset at which `text` starts. */
  cursor: number;
  /** Byte offset just past `text`: pass it as the next `cursor`. */
  nextCursor: number;
  /** True when bytes were left out: more follow `nextCursor`, or a tail was cut to `maxBytes`. */
  truncated: boolean;
  /** Size of the stream when it was read. */
  totalBytes: number;
}

interface CheckedOptions {
  cursor: number;
  maxBytes: number;
  tail: number | undefined;
  head: number | undefined;
  final: boolean;
}

function checkCount(field: string, value: unknown, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(field, `must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${describeValue(value)}`);
  }
  return value;
}

function checkOptions(options: SliceOptions): CheckedOptions {
  const cursor = checkCount('cursor', options.cursor, 0) ?? 0;
  const maxBytes = Math.min(checkCount('maxBytes', options.maxBytes, 1) ?? DEFAULT_MAX_BYTES, MAX_READ_BYTES);
  const tail = checkCount('tail', options.tail, 0);
  const head = checkCount('head', options.head, 0);
  if (tail !== undefined && head !== undefined) {
    throw new InvalidArgumentError('tail', 'tail and head cannot be used together');
  }
  if (options.final !== undefined && typeof options.final !== 'boolean') {
    throw new InvalidArgumentError('final', `must be a boolean, got ${describeValue(options.final)}`);
  }
  return { cursor, maxBytes, tail, head, final: options.final === true };
}

/**
 * Reads a slice of an output stream by byte cursor, never splitting a UTF-8 character.
 *
 * - Plain: up to `maxBytes` bytes from `cursor`.
 * - `tail: N`: the last N lines of the stream; `cursor` is where they start, `nextCursor` its end.
 * - `head: N`: the first N lines from `cursor`.
 *
 * A character cut by `maxBytes`, or still being written at the end of the stream, is held
 * back for the next read (unless `final`). When `maxBytes` is smaller than the character at
 * the cursor, that one character (at most 4 bytes) is returned so a reader always progresses.
 * Memory stays bounded by `maxBytes` plus one 64 KiB block, whatever the stream's size.
 *
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) naming the offending option.
 */
export async function readSlice(src: ByteSource, options: SliceOptions = {}): Promise<OutputSlice> {
  const opts = checkOptions(options);
  if (opts.tail !== undefined) return readTail(src, opts.tail, opts);
  if (opts.head !== undefined) return readHead(src, opts.head, opts);
  const { data, totalBytes } = await src.read(opts.cursor, opts.maxBytes);
  return finish(src, opts, data.subarray(0, opts.maxBytes), totalBytes);
}

/** Decodes `bytes` (read from `opts.cursor`) up to their last complete character. */
async function finish(src: ByteSource, opts: CheckedOptions, bytes: Buffer, totalBytes: number): Promise<OutputSlice> {
  const { cursor, final } = opts;
  const atEnd = cursor + bytes.length >= totalBytes;
  let used = final && atEnd ? bytes.length : completeUtf8Length(bytes);
  if (used === 0 && bytes.length > 0 && !atEnd) {
    // maxBytes is smaller than this character: hand out exactly one character rather than stall.
    const wider = await src.read(cursor, 4);
    totalBytes = wider.totalBytes;
    bytes = wider.data.subarray(0, utf8SequenceLength(wider.data[0] ?? 0));
    used = final && cursor + wider.data.length >= totalBytes ? bytes.length : completeUtf8Length(bytes);
  }
  const nextCursor = cursor + used;
  return {
    text: bytes.toString('utf8', 0, used),
    cursor,
    nextCursor,
    truncated: totalBytes > nextCursor,
    totalBytes,
  };
}

async function readHead(src: ByteSource, lines: number, opts: CheckedOptions): Promise<OutputSlice> {
  const chunks: Buffer[] = [];
  let got = 0;
  let totalBytes = 0;
  let remaining = lines;
  if (remaining === 0) {
    totalBytes = (await src.read(opts.cursor, 0)).totalBytes;
    return { text: '', cursor: opts.cursor, nextCursor: opts.cursor, truncated: totalBytes > opts.cursor, totalBytes };
  }
  while (got < opts.maxBytes) {
    const want = Math.min(BLOCK_BYTES, opts.maxBytes - got);
    const read = await src.read(opts.cursor + got, want);
    totalBytes = read.totalBytes;
    let data = read.data.subarray(0, want);
    let from = 0;
    while (remaining > 0) {
      const nl = data.indexOf(0x0a, from);
      if (nl < 0) break;
      remaining--;
      from = nl + 1;
    }
    if (remaining === 0) data = data.subarray(0, from);
    chunks.push(data);
    got += data.length;
    if (remaining === 0 || data.length < want) break;
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, got);
  // Complete lines end in '\n' and so on a character boundary; only a cut last line is trimmed.
  return finish(src, opts, bytes, totalBytes);
}

async function readTail(src: ByteSource, lines: number, opts: CheckedOptions): Promise<OutputSlice> {
  const end = (await src.read(0, 0)).totalBytes;
  if (lines === 0 || end === 0) return { text: '', cursor: end, nextCursor: end, truncated: false, totalBytes: end };
  const limit = Math.max(0, end - opts.maxBytes);
  const chunks: Buffer[] = [];
  let pos = end;
  let remaining = lines;
  let start = -1;
  while (pos > limit && start < 0) {
    const len = Math.min(BLOCK_BYTES, pos - limit);
    const block = await readExact(src, pos - len, len);
    chunks.push(block);
    pos -= len;
    // A newline as the very last byte ends the last line; it does not start an empty one.
    let i = block.length - 1;
    if (pos + i === end - 1 && block[i] === 0x0a) i--;
    while (i >= 0) {
      const nl = block.lastIndexOf(0x0a, i);
      if (nl < 0) break;
      if (--remaining === 0) {
        start = pos + nl + 1;
        break;
      }
      i = nl - 1;
    }
  }
  let truncated = false;
  if (start < 0) {
    start = limit;
    truncated = limit > 0;
  }
  chunks.reverse();
  // Drop what lies before the start first, so the copy is no larger than the answer.
  chunks[0] = chunks[0]!.subarray(start - pos);
  let bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  if (truncated) {
    // Cut by maxBytes: begin on a character boundary.
    const skip = leadingContinuationBytes(bytes);
    bytes = bytes.subarray(skip);
    start += skip;
  }
  // A character still being written at the end stays for the next read unless the stream is final.
  const used = opts.final ? bytes.length : completeUtf8Length(bytes);
  return { text: bytes.toString('utf8', 0, used), cursor: start, nextCursor: start + used, truncated, totalBytes: end };
}

/** Reads exactly `length` bytes at `offset`; a stream that shrinks below a size it reported is gone. */
async function readExact(src: ByteSource, offset: number, length: number): Promise<Buffer> {
  const first = await src.read(offset, length);
  if (first.data.length >= length) return first.data.subarray(0, length);
  const parts = [first.data];
  let got = first.data.length;
  while (got < length) {
    const { data } = await src.read(offset + got, length - got);
    if (data.length === 0) {
      throw new BgexecError('OUTPUT_GONE', `output shrank while reading (wanted ${length} bytes at ${offset}, got ${got})`);
    }
    parts.push(data);
    got += data.length;
  }
  return Buffer.concat(parts, length);
}

import { describeValue } from '../args.js';
import { abortRejection, InvalidArgumentError } from '../errors.js';
import { isTerminal, type TaskRecord, type TransportHandle } from '../task.js';
import type { OutputStream, Transport } from '../transports/types.js';
import { FollowReader } from './follow-reader.js';
import { DEFAULT_MAX_BYTES, readSlice } from './read.js';

/**
 * Default largest chunk of `follow()` (64 KiB). A chunk's text stays below V8's 128 KiB limit
 * for ordinary heap objects (even as two-byte UTF-16), so it dies young in the young generation
 * instead of living in large-object space, which only full collections reclaim: with 1 MiB
 * chunks, following 1 GiB grew the heap by tens of MiB of dead strings, and decoded slower.
 */
export const DEFAULT_FOLLOW_BYTES = 65_536;

// How long a follow() may wait for more output before it gives back its read buffer.
const IDLE_DROP_MS = 1_000;

/** Options of `readOutput()`. */
export interface ReadOutputOptions {
  /** `stdout` (default) or `stderr`. */
  stream?: OutputStream;
  /** Byte offset to read from (default 0). Ignored with `tail`. */
  cursor?: number;
  /** Most bytes returned (default 64 KiB). */
  maxBytes?: number;
  /** The last N lines instead of a cursor read. */
  tail?: number;
  /** The first N lines from `cursor`. */
  head?: number;
  /** Attempt to read (default: the latest). */
  attempt?: number;
}

/** A slice of a task's output. Cursors are byte offsets into the stream. */
export interface OutputRead {
  /** The bytes read, decoded as UTF-8 (never split inside a character). */
  text: string;
  /** The stream read. */
  stream: OutputStream;
  /** The attempt whose output this is. */
  attempt: number;
  /** Byte offset where `text` starts. */
  cursor: number;
  /** Byte offset to pass as `cursor` to continue. */
  nextCursor: number;
  /** The attempt has ended and everything up to its end was read. */
  eof: boolean;
  /** More bytes exist than were returned. */
  truncated: boolean;
  /** Size of the stream when read. */
  totalBytes: number;
}

/** One piece yielded by `follow()`. */
export interface OutputChunk {
  /** The stream the bytes came from. */
  stream: OutputStream;
  /** The attempt that wrote them (a retry starts again at cursor 0). */
  attempt: number;
  /** The bytes, decoded as UTF-8 (never split inside a character). */
  text: string;
  /** Byte offset where `text` starts, in this attempt's stream. */
  cursor: number;
  /** Byte offset just past `text`. */
  nextCursor: number;
}

/** Options of `follow()`. */
export interface FollowOptions {
  /** `stdout` (default) or `stderr`. */
  stream?: OutputStream;
  /** Start at this byte offset of the current attempt (default 0). */
  cursor?: number;
  /**
   * Largest chunk, in bytes (default 64 KiB: small enough for each chunk's text to be freed
   * young; larger chunks are read no faster).
   */
  maxBytes?: number;
  /** Ends the iteration early: the iterator then throws `signal.reason` (see `wait()`). */
  signal?: AbortSignal;
}

/** What output reads need from the executor. */
export interface OutputHost {
  record(id: string): TaskRecord;
  transportOf(record: TaskRecord): Transport;
  /** A promise settled at the next change of the task (output growth, status or attempt). */
  nextChange(id: string): Promise<void>;
  /** True once the executor has shut down: nothing will change any more. */
  stopped(): boolean;
}

function checkStream(stream: unknown): OutputStream {
  if (stream === undefined) return 'stdout';
  if (stream !== 'stdout' && stream !== 'stderr') {
    throw new InvalidArgumentError('stream', `must be "stdout" or "stderr", got ${describeValue(stream)}`);
  }
  return stream;
}

function handleOf(record: TaskRecord, attempt: number): TransportHandle | undefined {
  if (attempt === record.attempt) return record.handle;
  return record.history.find((h) => h.attempt === attempt)?.handle;
}

/**
 * Reads a slice of one attempt's output through its transport. `reader`, for a caller that
 * reads on chunk after chunk (`follow()`), serves plain reads (not `tail`/`head` reads, which
 * keep several blocks at once and so cannot share its buffer).
 */
export async function readTaskOutput(host: OutputHost, id: string, options: ReadOutputOptions = {}, reader?: FollowReader): Promise<OutputRead> {
  const stream = checkStream(options.stream);
  const record = host.record(id);
  const attempt = options.attempt === undefined ? record.attempt : options.attempt;
  if (!Number.isSafeInteger(attempt) || attempt < 0 || attempt > record.attempt) {
    throw new InvalidArgumentError('attempt', `must be an attempt of this task (0..${record.attempt}), got ${describeValue(attempt)}`);
  }
  // The attempt's process has ended when the task moved past it or left `running`.
  const ended =
    isTerminal(record.status) || attempt < record.attempt || (attempt > 0 && record.status !== 'running');
  const handle = handleOf(record, attempt);
  if (!handle) {
    const cursor = options.cursor ?? 0;
    // Validate like a real read so bad arguments fail the same way before a task starts.
    await readSlice({ read: async () => ({ data: Buffer.alloc(0), totalBytes: 0 }) }, { ...options, final: true });
    return { text: '', stream, attempt, cursor, nextCursor: cursor, eof: ended, truncated: false, totalBytes: 0 };
  }
  const transport = host.transportOf(record);
  const plain = options.tail === undefined && options.head === undefined;
  const slice = await readSlice(
    reader && plain ? reader.at(transport, handle, stream, attempt) : { read: (offset, length) => transport.read(handle, stream, offset, length) },
    {
      cursor: options.cursor,
      maxBytes: options.maxBytes === undefined ? DEFAULT_MAX_BYTES : options.maxBytes,
      tail: options.tail,
      head: options.head,
      final: ended,
    },
  );
  return {
    text: slice.text,
    stream,
    attempt,
    cursor: slice.cursor,
    nextCursor: slice.nextCursor,
    eof: ended && slice.nextCursor >= slice.totalBytes,
    truncated: slice.truncated,
    totalBytes: slice.totalBytes,
  };
}

/**
 * Yields a task's output as it is written, attempt after attempt, until the task settles
 * and everything was read. Waits on change notices, never on a timer of its own.
 */
export async function* followTaskOutput(host: OutputHost, id: string, options: FollowOptions = {}): AsyncGenerator<OutputChunk> {
  const stream = checkStream(options.stream);
  const maxBytes = options.maxBytes ?? DEFAULT_FOLLOW_BYTES;
  let attempt = host.record(id).attempt;
  let cursor = options.cursor ?? 0;
  const { signal } = options;
  // One buffer (and, on a local transport, one open file) for the whole follow, read ahead in
  // blocks: each chunk is decoded before the next read, so nothing handed out refers to them.
  const reader = new FollowReader();
  // Subscribed before a read, so a change between that read and the wait is not missed. A
  // subscription still pending from an earlier turn was made before this turn's read too, so
  // it serves: one subscription per change noticed, not one per chunk.
  let changed: Promise<void> | undefined;
  try {
    for (;;) {
      if (signal?.aborted) throw abortRejection(signal, 'follow aborted', id);
      if (host.stopped()) return;
      changed ??= host.nextChange(id);
      const record = host.record(id);
      if (attempt === 0) {
        if (record.attempt > 0) {
          attempt = 1;
          cursor = 0;
        } else if (isTerminal(record.status)) {
          return;
        } else {
          await abortable(changed, signal);
          changed = undefined;
        }
        continue;
      }
      const slice = await readTaskOutput(host, id, { stream, cursor, maxBytes, attempt }, reader);
      if (slice.nextCursor > cursor) {
        yield { stream, attempt, text: slice.text, cursor: slice.cursor, nextCursor: slice.nextCursor };
        cursor = slice.nextCursor;
        continue;
      }
      if (slice.eof) {
        const now = host.record(id);
        if (now.attempt > attempt) {
          attempt += 1;
          cursor = 0;
          continue;
        }
        if (isTerminal(now.status)) return;
      }
      // A follower that waits long gives its buffer back; one that catches up with a fast
      // writer again and again keeps it rather than allocate a new one after every wait.
      const drop = setTimeout(() => reader.idle(), IDLE_DROP_MS);
      drop.unref();
      await abortable(changed, signal);
      clearTimeout(drop);
      changed = undefined;
    }
  } finally {
    reader.release();
  }
}

function abortable(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

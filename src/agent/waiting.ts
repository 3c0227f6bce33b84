import { Buffer } from 'node:buffer';
import type { TaskRecord } from '../index.js';
import type { ToolContext } from './context.js';
import { matchingLines, MAX_MATCH_CHARS } from './pattern.js';
import { readableText } from './readable.js';

type Stream = 'stdout' | 'stderr';

/** How a wait ended. */
export type WaitOutcome =
  | { kind: 'exit'; record: TaskRecord }
  | { kind: 'match'; id: string; stream: Stream; line: string; matchCursor: number }
  | { kind: 'input'; record: TaskRecord }
  | { kind: 'quiet' }
  | { kind: 'timeout' }
  | { kind: 'aborted' }
  | { kind: 'error'; error: unknown };

type Settle = (outcome: WaitOutcome) => void;

/**
 * Runs `start` with an inner AbortSignal and resolves with the first outcome it (or the
 * timeout, or the caller's signal) reports; then aborts the inner signal so every watcher
 * stops. Timers come from the context's clock; nothing polls.
 */
export function race(
  ctx: ToolContext,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  start: (inner: AbortSignal, settle: Settle) => void,
): Promise<WaitOutcome> {
  return new Promise<WaitOutcome>((resolve) => {
    const inner = new AbortController();
    let timer: unknown;
    let immediate: NodeJS.Immediate | undefined;
    let done = false;
    const onAbort = (): void => settle({ kind: 'aborted' });
    const settle: Settle = (outcome) => {
      if (done) return;
      done = true;
      if (timer !== undefined) ctx.clock.clearTimeout(timer);
      if (immediate !== undefined) clearImmediate(immediate);
      signal?.removeEventListener('abort', onAbort);
      inner.abort();
      resolve(outcome);
    };
    if (signal?.aborted) return settle({ kind: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    // A zero timeout still lets tasks that already ended answer first (their waits resolve in microtasks).
    if (timeoutMs === 0) immediate = setImmediate(() => settle({ kind: 'timeout' }));
    else timer = ctx.clock.setTimeout(() => settle({ kind: 'timeout' }), timeoutMs);
    start(inner.signal, settle);
  });
}

/** Settles with the first of `ids` to reach a terminal status. */
export function watchExits(ctx: ToolContext, ids: readonly string[], inner: AbortSignal, settle: Settle): void {
  for (const id of ids) {
    ctx.ex.wait(id, { signal: inner }).then(
      (record) => settle({ kind: 'exit', record }),
      (error: unknown) => {
        if (!inner.aborted) settle({ kind: 'error', error });
      },
    );
  }
}

/**
 * Settles with the first line of any watched stream matching `re`, or with the task's exit
 * once every watched stream of a task was read to its end without a match. Follows output
 * through `executor.follow` (woken by the executor's change notices).
 */
export function watchPattern(
  ctx: ToolContext,
  ids: readonly string[],
  streams: readonly Stream[],
  from: number | undefined,
  re: RegExp,
  inner: AbortSignal,
  settle: Settle,
): void {
  for (const id of ids) {
    let open = streams.length;
    for (const stream of streams) {
      followLines(ctx, id, stream, from, re, inner).then(
        (match) => {
          if (match) return settle(match);
          if (--open > 0 || inner.aborted) return;
          const record = ctx.ex.get(id);
          if (record) settle({ kind: 'exit', record });
        },
        (error: unknown) => {
          if (!inner.aborted) settle({ kind: 'error', error });
        },
      );
    }
  }
}

async function followLines(
  ctx: ToolContext,
  id: string,
  stream: Stream,
  from: number | undefined,
  re: RegExp,
  signal: AbortSignal,
): Promise<WaitOutcome | undefined> {
  // "New output since the call": start at the current end of the stream.
  const cursor = from ?? (await ctx.ex.readOutput(id, { stream, maxBytes: 1 })).totalBytes;
  let carry = '';
  let carryStart = cursor;
  let attempt = -1;
  for await (const chunk of ctx.ex.follow(id, { stream, cursor, signal })) {
    if (signal.aborted) return undefined;
    if (chunk.attempt !== attempt) {
      attempt = chunk.attempt;
      carry = '';
      carryStart = chunk.cursor;
    }
    const text = carry + chunk.text;
    const shown: string[] = [];
    const ends: number[] = [];
    for (let at = 0, nl = text.indexOf('\n'); nl >= 0; at = nl + 1, nl = text.indexOf('\n', at)) {
      // Matched as the model would read the line: "^ready" holds even when the line is coloured.
      const line = text.slice(at, nl);
      shown.push(ctx.readable ? readableText(line) : line);
      ends.push(nl + 1);
    }
    const [hit] = matchingLines(re, shown, true);
    if (hit !== undefined) {
      return { kind: 'match', id, stream, line: shown[hit]!, matchCursor: carryStart + Buffer.byteLength(text.slice(0, ends[hit]!)) };
    }
    const consumed = ends.length > 0 ? ends[ends.length - 1]! : 0;
    carryStart += Buffer.byteLength(text.slice(0, consumed));
    carry = text.slice(consumed);
    if (carry.length > 4 * MAX_MATCH_CHARS) {
      // An endless line: keep its start for matching, count the rest as passed.
      const kept = carry.slice(0, MAX_MATCH_CHARS);
      carryStart += Buffer.byteLength(carry) - Buffer.byteLength(kept);
      carry = kept;
    }
  }
  const last = ctx.readable ? readableText(carry) : carry;
  if (carry !== '' && !signal.aborted && matchingLines(re, [last], true).length > 0) {
    return { kind: 'match', id, stream, line: last, matchCursor: carryStart + Buffer.byteLength(carry) };
  }
  return undefined;
}

/**
 * Settles with the first of `ids` that waits for input (`record.awaitingInput`): at once for one
 * that already does, else on the executor's `task:input_wanted`. Without `on`/`off` on the
 * executor it never settles.
 */
export function watchInput(ctx: ToolContext, ids: readonly string[], inner: AbortSignal, settle: Settle): void {
  for (const id of ids) {
    const record = ctx.ex.get(id);
    if (record?.awaitingInput === true && record.status === 'running') return settle({ kind: 'input', record });
  }
  const ex = ctx.ex;
  if (!ex.on || !ex.off) return;
  const wanted = new Set(ids);
  const listener = (e: { taskId: string }): void => {
    if (!wanted.has(e.taskId)) return;
    const record = ctx.ex.get(e.taskId);
    if (record?.awaitingInput === true) settle({ kind: 'input', record });
  };
  ex.on('task:input_wanted', listener);
  inner.addEventListener('abort', () => ex.off?.('task:input_wanted', listener), { once: true });
}

/**
 * Settles once the task's output has grown past `baseline` bytes (both streams) and then stayed
 * the same for `quietMs` on the tools' clock (a reply that has been printed), or when it asks for
 * input again (`task:input_wanted`).
 * Needs `on`/`off` on the executor; without them it never settles.
 */
export function watchReply(ctx: ToolContext, id: string, quietMs: number, baseline: number, inner: AbortSignal, settle: Settle): void {
  const ex = ctx.ex;
  if (!ex.on || !ex.off) return;
  let timer: unknown;
  const arm = (): void => {
    if (timer !== undefined) ctx.clock.clearTimeout(timer);
    timer = ctx.clock.setTimeout(() => settle({ kind: 'quiet' }), quietMs);
  };
  const onOutput = (e: { taskId: string }): void => {
    if (e.taskId === id) arm();
  };
  const onInput = (e: { taskId: string }): void => {
    if (e.taskId !== id) return;
    const record = ctx.ex.get(id);
    if (record?.awaitingInput === true) settle({ kind: 'input', record });
  };
  ex.on('task:output', onOutput);
  ex.on('task:input_wanted', onInput);
  // Output seen since `baseline` (the sizes before the input was written) counts as a reply begun.
  const now = ex.get(id);
  if (now && now.stdoutBytes + now.stderrBytes > baseline) arm();
  inner.addEventListener(
    'abort',
    () => {
      if (timer !== undefined) ctx.clock.clearTimeout(timer);
      ex.off?.('task:output', onOutput);
      ex.off?.('task:input_wanted', onInput);
    },
    { once: true },
  );
}

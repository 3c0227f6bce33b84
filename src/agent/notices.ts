import type { TaskRecord, TerminalStatus } from '../index.js';
import { charCost, readableText } from './readable.js';
import { endText } from './start.js';
import type { AgentExecutor } from './types.js';

/** Options of {@link completionNotices}. */
export interface CompletionNoticeOptions {
  /**
   * Acknowledge the rendered completions (`executor.ack`) before returning, so they are never
   * rendered again (default true). Pass false to ack yourself, with `executor.ack(result.ids)`,
   * once the text has really reached the model.
   */
  ack?: boolean;
  /** Last lines of output shown per stream (default 5, 0 for none). */
  tailLines?: number;
  /**
   * Budget of the whole text, in characters counted as JSON-encoded (default 4096, at least
   * 256). The text never exceeds it.
   */
  maxChars?: number;
  /** @deprecated Same as {@link CompletionNoticeOptions.maxChars}. */
  maxBytes?: number;
  /** Show the output lines readable: ANSI escapes removed, `\r` rewrites collapsed (default true). */
  readable?: boolean;
  /** Most tasks rendered per call (default 10); the others wait for the next call. */
  limit?: number;
}

/** One rendered completion. */
export interface CompletionNotice {
  /** The task that ended. */
  taskId: string;
  /** How it ended. */
  status: TerminalStatus;
  /** Its exit code (null when it was killed by a signal or never ran). */
  exitCode: number | null;
  /** The notice for this task alone. */
  text: string;
}

/** Result of {@link completionNotices}. */
export interface CompletionNotices {
  /** All notices as one block for the model; empty when nothing finished. */
  text: string;
  /** Ids of the tasks rendered (acked unless `ack: false`). */
  ids: string[];
  /** One entry per rendered task, for frameworks that show them separately. */
  notices: CompletionNotice[];
  /** Unacknowledged completions left for a later call (beyond `limit`). */
  remaining: number;
}

const LABEL_BYTES = 64;

function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** The latest whole lines of `text` whose cost fits `room` (the last line's end if none does). */
function lastLinesWithin(text: string, room: number): string {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  const kept: string[] = [];
  let cost = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const c = charCost(lines[i]!) + 2;
    if (cost + c > room) break;
    kept.unshift(lines[i]!);
    cost += c;
  }
  if (kept.length === 0 && lines.length > 0) {
    let last = lines[lines.length - 1]!;
    while (last.length > 1 && charCost(last) + 4 > room) last = last.slice(Math.ceil(last.length / 2));
    kept.push(`…${last}`);
  }
  return kept.map((l) => `${l}\n`).join('');
}

async function tailOf(
  ex: Pick<AgentExecutor, 'readOutput'>,
  r: TaskRecord,
  stream: 'stdout' | 'stderr',
  lines: number,
  room: number,
  readable: boolean,
): Promise<string> {
  const bytes = stream === 'stdout' ? r.stdoutBytes : r.stderrBytes;
  if (lines === 0 || bytes === 0 || r.attempt === 0) return '';
  try {
    // Raw bytes beyond what the budget can show are not worth reading (escapes shrink, so some slack).
    const t = await ex.readOutput(r.id, { stream, tail: lines, maxBytes: Math.max(256, room * 4) });
    const text = lastLinesWithin(readable ? readableText(t.text) : t.text, room);
    if (text === '') return '';
    const cut = t.cursor > 0 ? ` (of ${t.totalBytes} bytes)` : '';
    return `last lines of ${stream}${cut}:\n${text}`;
  } catch {
    return ''; // output already cleaned up: the notice goes without it
  }
}

async function render(ex: Pick<AgentExecutor, 'readOutput'>, r: TaskRecord, tailLines: number, budget: number, readable: boolean): Promise<string> {
  const started = r.startedAt ?? r.createdAt;
  const took = r.endedAt !== undefined ? ` after ${formatDuration(Math.max(0, r.endedAt - started))}` : '';
  const cmd = r.spec.args ? [r.spec.command, ...r.spec.args].join(' ') : r.spec.command;
  const head = `Background task ${r.id} finished: ${endText(r)}${took}.\n$ ${cmd.length > 200 ? `${cmd.slice(0, 199)}…` : cmd}\n`;
  const wantErr = r.stderrBytes > 0 && (r.status !== 'completed' || r.stdoutBytes === 0);
  // What is left after the header and the "last lines of …" labels (at most LABEL_BYTES each).
  const room = budget - charCost(head) - (wantErr ? 2 : 1) * LABEL_BYTES;
  if (room < 32) return head;
  const out = await tailOf(ex, r, 'stdout', tailLines, wantErr ? Math.floor(room / 2) : room, readable);
  const err = wantErr ? await tailOf(ex, r, 'stderr', tailLines, Math.floor(room / 2), readable) : '';
  return `${head}${out}${err}`;
}

/**
 * Renders the unacknowledged completions of a session (`executor.completions(session)`,
 * oldest first) as short text blocks — task id, command, status and exit code, duration and
 * the last lines of output — for a framework to inject into the conversation between turns,
 * and acknowledges them (unless `ack: false`). Without a session it covers every task.
 *
 * @example
 * ```ts
 * executor.on('task:settled', async () => {
 *   const { text } = await completionNotices(executor, 'chat-42');
 *   if (text) conversation.push({ role: 'user', content: text });
 * });
 * ```
 */
export async function completionNotices(
  executor: Pick<AgentExecutor, 'completions' | 'readOutput' | 'ack'>,
  session?: string,
  options: CompletionNoticeOptions = {},
): Promise<CompletionNotices> {
  const tailLines = Math.max(0, Math.floor(options.tailLines ?? 5));
  const maxChars = Math.max(256, Math.floor(options.maxChars ?? options.maxBytes ?? 4096));
  const readable = options.readable ?? true;
  const limit = Math.max(1, Math.floor(options.limit ?? 10));
  const pending = executor.completions(session);
  // Room for the "more finished" line, so the whole text stays within maxChars.
  const MORE_RESERVE = 96;
  const chosen = pending.slice(0, limit);
  const each = Math.floor((maxChars - MORE_RESERVE) / Math.max(1, chosen.length));
  const notices: CompletionNotice[] = [];
  let used = 0;
  for (const r of chosen) {
    const text = await render(executor, r, tailLines, each, readable);
    // A header longer than its share (a very long command) waits for a later, roomier call.
    if (used + charCost(text) + 1 > maxChars - MORE_RESERVE) break;
    used += charCost(text) + 1;
    notices.push({ taskId: r.id, status: r.status as TerminalStatus, exitCode: r.exitCode ?? null, text });
  }
  const ids = notices.map((n) => n.taskId);
  const remaining = pending.length - notices.length;
  let text = notices.map((n) => n.text).join('\n');
  if (remaining > 0) text += `\n(${remaining} more background task(s) finished; they will be reported next.)\n`;
  if (ids.length > 0 && options.ack !== false) executor.ack(ids);
  return { text, ids, notices, remaining };
}

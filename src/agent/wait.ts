import { AbortedError, isTerminal, type TaskRecord } from '../index.js';
import { clamp, durationOf, fail, fromError, type ToolContext } from './context.js';
import { compilePattern, PatternTooSlowError } from './pattern.js';
import { outputBudgetAfter, renderUnread } from './render.js';
import { endText, inputWantedHint } from './start.js';
import type { AgentToolError, BgWaitResult, WaitTaskState } from './types.js';
import { race, watchExits, watchInput, watchPattern } from './waiting.js';

/** Input of `bg_wait` after validation. */
export interface WaitInput {
  task_ids: string[];
  timeout_ms: number;
  until?: 'exit' | 'pattern';
  pattern?: string;
  stream?: 'stdout' | 'stderr' | 'both';
  cursor?: number;
}

const MAX_MATCH_SHOWN = 500;

function stateOf(record: TaskRecord): WaitTaskState {
  const s: WaitTaskState = { task_id: record.id, status: record.status };
  if (record.exitCode !== undefined && record.exitCode !== null) s.exit_code = record.exitCode;
  if (record.awaitingInput === true && !isTerminal(record.status)) s.awaiting_input = true;
  return s;
}

/**
 * Handles `bg_wait`: resolves when any task exits (or prints a matching line), or at the
 * timeout. An aborted `signal` rejects with `AbortedError`; the tasks go on either way.
 */
export async function bgWait(ctx: ToolContext, input: WaitInput, signal?: AbortSignal): Promise<BgWaitResult | AgentToolError> {
  const ids = [...new Set(input.task_ids)];
  const unknown = ids.filter((id) => !ctx.own(id));
  if (unknown.length > 0) {
    return fail(
      'unknown_task',
      `No task with id ${unknown.map((id) => JSON.stringify(id)).join(', ')}. Call bg_list to see your task ids, then call bg_wait again with those.`,
    );
  }
  const notes: string[] = [];
  const until = input.until ?? (input.pattern !== undefined ? 'pattern' : 'exit');
  const timeoutMs = clamp('timeout_ms', input.timeout_ms, 0, ctx.limits.maxWaitMs, notes);
  let re: RegExp | undefined;
  if (until === 'pattern') {
    if (input.pattern === undefined) return fail('invalid_input', 'bg_wait: until="pattern" needs a pattern (a regular expression). Add it and call again.');
    const compiled = compilePattern(input.pattern);
    if (typeof compiled === 'string') return fail('invalid_input', `bg_wait: pattern is an ${compiled}. Fix it and call again.`);
    re = compiled;
  } else if (input.pattern !== undefined) {
    notes.push('pattern is ignored with until="exit"');
  }
  const from = input.cursor === undefined ? undefined : clamp('cursor', input.cursor, 0, Number.MAX_SAFE_INTEGER, notes);
  const stream = input.stream ?? 'stdout';
  const streams = stream === 'both' ? (['stdout', 'stderr'] as const) : [stream];
  const t0 = ctx.clock.now();
  const outcome = await race(ctx, timeoutMs, signal, (inner, settle) => {
    if (re) watchPattern(ctx, ids, streams, from, re, inner, settle);
    else watchExits(ctx, ids, inner, settle);
    // A task that waits for input makes no progress until answered: waiting on would only time out.
    watchInput(ctx, ids, inner, settle);
  });
  if (outcome.kind === 'aborted') throw new AbortedError('bg_wait aborted');
  if (outcome.kind === 'error') {
    if (outcome.error instanceof PatternTooSlowError) return fail('invalid_input', `bg_wait: ${outcome.error.message}. Call bg_wait again with it.`);
    return fromError(outcome.error, 'bg_wait');
  }
  const waited = Math.max(0, ctx.clock.now() - t0);
  const tasks = ids.map((id) => ctx.ex.get(id)).filter((r): r is TaskRecord => r !== undefined).map(stateOf);
  const extra = notes.length > 0 ? { clamped: notes } : {};

  // ('quiet' is bg_write's; no watcher here reports it.)
  if (outcome.kind === 'timeout' || outcome.kind === 'quiet') {
    const which = ids.length === 1 ? `Task ${ids[0]} is` : 'The tasks are';
    const what = until === 'pattern' ? 'No matching line and no exit' : 'No task ended';
    return {
      ok: true,
      outcome: 'timeout',
      ...(ids.length === 1 ? { task_id: ids[0]! } : {}),
      waited_ms: waited,
      tasks,
      ...extra,
      hint: `${what} within ${timeoutMs} ms. ${which} still going. Call bg_wait again, do other work, or end your turn: a completion notice will arrive when a task finishes.`,
    };
  }
  if (outcome.kind === 'input') {
    const record = ctx.ex.get(outcome.record.id) ?? outcome.record;
    const duration = durationOf(record, ctx.clock.now());
    const result: Omit<BgWaitResult, 'hint'> = {
      ok: true,
      outcome: 'input_wanted',
      task_id: record.id,
      status: record.status,
      awaiting_input: true,
      ...(duration !== undefined ? { duration_ms: duration } : {}),
      waited_ms: waited,
      tasks,
      ...extra,
    };
    Object.assign(result, await renderUnread(ctx, record, outputBudgetAfter(ctx, result)).catch(() => ({})));
    return { ...result, hint: inputWantedHint(record) };
  }
  if (outcome.kind === 'match') {
    const record = ctx.ex.get(outcome.id);
    const line = outcome.line.length > MAX_MATCH_SHOWN ? `${outcome.line.slice(0, MAX_MATCH_SHOWN)}…` : outcome.line;
    return {
      ok: true,
      outcome: 'matched',
      task_id: outcome.id,
      ...(record ? { status: record.status } : {}),
      stream: outcome.stream,
      match: line,
      match_cursor: outcome.matchCursor,
      waited_ms: waited,
      tasks,
      ...extra,
      hint: `Matched in ${outcome.stream}. bg_read with cursor=${outcome.matchCursor}${outcome.stream === 'stderr' ? ' and stream="stderr"' : ''} shows what follows the match.`,
    };
  }
  const record = outcome.record;
  const duration = durationOf(record, ctx.clock.now());
  const result: Omit<BgWaitResult, 'hint'> = {
    ok: true,
    outcome: 'exited',
    task_id: record.id,
    status: record.status,
    exit_code: record.exitCode ?? null,
    ...(record.signal ? { signal: record.signal } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
    ...(duration !== undefined ? { duration_ms: duration } : {}),
    waited_ms: waited,
    tasks,
    ...extra,
  };
  Object.assign(result, await renderUnread(ctx, record, outputBudgetAfter(ctx, result)).catch(() => ({})));
  ctx.reported(record);
  const others = tasks.filter((t) => t.task_id !== record.id && (t.status === 'running' || t.status === 'queued' || t.status === 'waiting'));
  const rest = others.length > 0 ? ` ${others.length} other task(s) still going: call bg_wait again for them.` : '';
  const note = until === 'pattern' ? ' It ended without printing a matching line.' : '';
  const capped = result.stdout?.truncated || result.stderr?.truncated ? ' Output was capped: bg_read continues at next_cursor.' : '';
  return { ...result, hint: `Task ${record.id} ${endText(record)}.${note}${capped}${rest}` };
}

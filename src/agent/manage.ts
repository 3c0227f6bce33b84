import { isTerminal, type TaskStatus } from '../index.js';
import { clamp, durationOf, fromError, unknownTask, type ToolContext } from './context.js';
import { DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT } from './schemas.js';
import { endText } from './start.js';
import type { AgentToolError, BgKillResult, BgListResult, BgListRow } from './types.js';

/** Input of `bg_kill` after validation. */
export interface KillInput {
  task_id: string;
  grace_ms?: number;
}

/** Input of `bg_list` after validation. */
export interface ListInput {
  status?: TaskStatus | 'all' | 'active' | 'finished';
  limit?: number;
}

const MAX_COMMAND_CHARS = 80;
const LIST_HINT_RESERVE = 280;
const ACTIVE: readonly TaskStatus[] = ['queued', 'waiting', 'running'];
const FINISHED: readonly TaskStatus[] = ['completed', 'failed', 'cancelled', 'timed_out', 'lost'];

/** Handles `bg_kill`: cancels the task (process tree: TERM, then KILL) and reports its final status. */
export async function bgKill(ctx: ToolContext, input: KillInput): Promise<BgKillResult | AgentToolError> {
  const before = ctx.own(input.task_id);
  if (!before) return unknownTask(input.task_id);
  const notes: string[] = [];
  const graceMs = input.grace_ms === undefined ? undefined : clamp('grace_ms', input.grace_ms, 0, ctx.limits.maxGraceMs, notes);
  const already = isTerminal(before.status);
  let record = before;
  if (!already) {
    try {
      record = await ctx.ex.cancel(before.id, graceMs === undefined ? {} : { graceMs });
    } catch (err) {
      return fromError(err, 'bg_kill');
    }
  }
  ctx.reported(record);
  return {
    ok: true,
    task_id: record.id,
    status: record.status,
    exit_code: record.exitCode ?? null,
    ...(record.signal ? { signal: record.signal } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
    already_finished: already,
    ...(notes.length > 0 ? { clamped: notes } : {}),
    hint: already
      ? `Nothing to kill: the task had already ended: ${endText(record)}.`
      : `Killed: the task is now ${endText(record)}. Its output stays readable with bg_read.`,
  };
}

/** Handles `bg_list`: this session's tasks, newest first, as compact rows. */
export function bgList(ctx: ToolContext, input: ListInput): BgListResult | AgentToolError {
  const notes: string[] = [];
  const limit = clamp('limit', input.limit ?? DEFAULT_LIST_LIMIT, 1, MAX_LIST_LIMIT, notes);
  const want = input.status ?? 'all';
  const status = want === 'all' ? undefined : want === 'active' ? ACTIVE : want === 'finished' ? FINISHED : want;
  let records;
  try {
    records = ctx.ex.list({ ...(ctx.session !== undefined ? { session: ctx.session } : {}), ...(status ? { status } : {}) });
  } catch (err) {
    return fromError(err, 'bg_list');
  }
  const now = ctx.clock.now();
  const tasks = records
    .slice(-limit)
    .reverse()
    .map((r): BgListRow => {
      const cmd = r.spec.args ? [r.spec.command, ...r.spec.args].join(' ') : r.spec.command;
      const d = durationOf(r, now);
      return {
        task_id: r.id,
        status: r.status,
        ...(isTerminal(r.status) ? { exit_code: r.exitCode ?? null } : {}),
        ...(d !== undefined ? { duration_ms: d } : {}),
        ...(r.awaitingInput === true && !isTerminal(r.status) ? { awaiting_input: true as const } : {}),
        command: cmd.length > MAX_COMMAND_CHARS ? `${cmd.slice(0, MAX_COMMAND_CHARS - 1)}…` : cmd,
      };
    });
  // Rows beyond the budget are left out like rows beyond the limit (the hint says how many show).
  let size = JSON.stringify({ ok: true, tasks: [], total: records.length, clamped: notes }).length + LIST_HINT_RESERVE;
  let fit = 0;
  for (; fit < tasks.length; fit++) {
    size += JSON.stringify(tasks[fit]).length + 1;
    if (size > ctx.maxOutputChars) break;
  }
  tasks.length = fit;
  const result: BgListResult = { ok: true, tasks, total: records.length };
  if (notes.length > 0) result.clamped = notes;
  if (records.length === 0) {
    result.hint = want === 'all' ? 'No tasks yet. Start one with bg_start.' : `No tasks with status "${want}".`;
  } else if (records.length > tasks.length) {
    result.hint = `Showing the newest ${tasks.length} of ${records.length}; raise limit or filter by status to see others.`;
  }
  const asking = tasks.filter((t) => t.awaiting_input === true).length;
  if (asking > 0) {
    const which = asking === 1 ? 'One task waits' : `${asking} tasks wait`;
    result.hint = `${result.hint ? `${result.hint} ` : ''}${which} for input (awaiting_input): answer with bg_write, or bg_read it first to see the prompt.`;
  }
  return result;
}

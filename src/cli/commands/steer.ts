import { ControlRequestError, sendControlRequest } from '../../control/client.js';
import type { ControlRequest, ControlResponse } from '../../control/protocol.js';
import type { TaskRecord, TaskSpec } from '../../task.js';
import { durationArg, intArg, listArg, numberArg } from '../args.js';
import { noOwner, printJson, requester, type CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { exitText, statusText, table } from '../format.js';

// How long a request may wait for its answer, beyond the grace of a kill.
const ANSWER_MS = 15_000;

/** A request's answer, or the reason there is none, as a value: several requests may run at once. */
type Outcome = { ok: true; result: unknown } | { ok: false; exitCode: number; message: string };

/** Sends one request to the store's owner; refuses at once when no owner runs. */
export async function ask(ctx: CliContext, request: ControlRequest, timeoutMs = ANSWER_MS): Promise<Outcome> {
  let response: ControlResponse;
  try {
    response = await sendControlRequest(ctx.dir, request, {
      timeoutMs,
      by: requester(ctx.parsed.command ?? 'request'),
      ownerAlive: async () => (await ctx.reader.owner())?.alive === true,
    });
  } catch (err) {
    if (err instanceof ControlRequestError) {
      if (err.reason === 'NO_OWNER') {
        const owner = await ctx.reader.owner();
        // A live owner without a request directory was started with `control: false`.
        const message = owner?.alive ? `the owner of ${ctx.dir} (pid ${owner.pid}) does not serve control requests (control: false)` : noOwner(ctx.dir, err.message).message;
        return { ok: false, exitCode: EXIT.NO_OWNER, message };
      }
      return { ok: false, exitCode: EXIT.NO_ANSWER, message: err.message };
    }
    throw err;
  }
  if (response.ok) return { ok: true, result: response.result };
  const { code, message } = response.error;
  return { ok: false, exitCode: code === 'NOT_FOUND' ? EXIT.NOT_FOUND : EXIT.REFUSED, message: `${code}: ${message}` };
}

/** Fails with `NO_OWNER` (and the offer to run the tasks here) unless a live process owns the store. */
export async function needOwner(ctx: CliContext): Promise<void> {
  const owner = await ctx.reader.owner();
  // A mistyped --dir is not a store nobody owns: offering `bgexec run` there would create one.
  if (!owner) await ctx.reader.snapshot();
  if (!owner?.alive) throw noOwner(ctx.dir, owner ? `its last owner, pid ${owner.pid}, is gone` : undefined);
}

export function unwrap(outcome: Outcome): unknown {
  if (!outcome.ok) throw new CliError(outcome.exitCode, outcome.message);
  return outcome.result;
}

function recordRows(ctx: CliContext, records: readonly TaskRecord[]): string {
  const rows = records.map((r) => [r.id, statusText(ctx.io, r.status), exitText(r), r.cancelledBy ?? r.reason ?? '-']);
  return table(['ID', 'STATUS', 'EXIT', 'BY'], rows, ctx.io.columns);
}

/** `kill ID...`: cancels each task (one request each, sent together); exit code of the worst failure. */
export async function kill(ctx: CliContext): Promise<number> {
  const graceMs = durationArg('grace', ctx.parsed.values.grace);
  await needOwner(ctx);
  const ids = ctx.parsed.positionals;
  // The owner answers once the tree is dead: allow for a grace of the task's own (default 5 s).
  const timeout = ANSWER_MS + (graceMs ?? 5000);
  const outcomes = await Promise.all(ids.map((taskId) => ask(ctx, { op: 'cancel', taskId, ...(graceMs !== undefined ? { graceMs } : {}) }, timeout)));
  const records: TaskRecord[] = [];
  let code: number = EXIT.OK;
  outcomes.forEach((o, i) => {
    if (o.ok) {
      const record = o.result as TaskRecord;
      records.push(record);
      // Killing a finished task changes nothing: say so rather than look like a kill.
      if (record.status !== 'cancelled' && !ctx.parsed.json) ctx.io.err(`bgexec: kill ${record.id}: it had already ended (${record.status})\n`);
    }
    else {
      ctx.io.err(`bgexec: kill ${ids[i]}: ${o.message}\n`);
      if (code === EXIT.OK) code = o.exitCode;
    }
  });
  if (ctx.parsed.json) printJson(ctx.io, records);
  else if (records.length > 0) ctx.io.out(recordRows(ctx, records));
  return code;
}

/** `retry ID`: a waiting task runs now; a finished one runs again as a new task (its id is printed). */
export async function retry(ctx: CliContext): Promise<number> {
  await needOwner(ctx);
  const result = unwrap(await ask(ctx, { op: 'retry', taskId: ctx.parsed.positionals[0]! })) as { task: TaskRecord; retryOf?: string };
  if (ctx.parsed.json) printJson(ctx.io, result);
  else ctx.io.out(`${result.task.id}\n`);
  if (!ctx.parsed.json) ctx.io.err(result.retryOf ? `submitted again as ${result.task.id}\n` : `${result.task.id} is ${result.task.status}\n`);
  return EXIT.OK;
}

/** `priority ID N`: changes the priority of a queued or waiting task. */
export async function priority(ctx: CliContext): Promise<number> {
  const [taskId, raw] = ctx.parsed.positionals as [string, string];
  const value = numberArg('the priority', raw)!;
  await needOwner(ctx);
  const record = unwrap(await ask(ctx, { op: 'priority', taskId, priority: value })) as TaskRecord;
  if (ctx.parsed.json) printJson(ctx.io, record);
  else ctx.io.err(`${record.id}: priority ${record.spec.priority ?? 0}\n`);
  return EXIT.OK;
}

/** `pause [GROUP]` and `resume [GROUP]`. */
export async function pauseResume(ctx: CliContext, op: 'pause' | 'resume'): Promise<number> {
  const group = ctx.parsed.positionals[0];
  await needOwner(ctx);
  const result = unwrap(await ask(ctx, { op, ...(group !== undefined ? { group } : {}) }));
  if (ctx.parsed.json) printJson(ctx.io, result);
  else ctx.io.err(`${op === 'pause' ? 'paused' : 'resumed'} ${group === undefined ? 'all tasks' : `group ${group}`}\n`);
  return EXIT.OK;
}

/** The spec `submit` sends, from its options and the words after `--`. */
export function submitSpec(ctx: CliContext): TaskSpec {
  const v = ctx.parsed.values;
  const words = ctx.parsed.positionals;
  const env: Record<string, string> = {};
  for (const pair of listArgRaw(v.env)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(EXIT.USAGE, `--env must be NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const retries = intArg('retries', v.retries, 0);
  const backoff = durationArg('backoff', v.backoff);
  if (backoff !== undefined && retries === undefined) throw new CliError(EXIT.USAGE, '--backoff needs --retries');
  const tags = listArg(v.tag);
  const optional = {
    priority: numberArg('--priority', v.priority),
    group: typeof v.group === 'string' ? v.group : undefined,
    timeoutMs: durationArg('timeout', v.timeout),
    graceMs: durationArg('grace', v.grace),
    delayMs: durationArg('delay', v.delay),
    session: typeof v.session === 'string' ? v.session : undefined,
    detached: v.detached === true ? true : undefined,
    // Fed later by `bgexec send`.
    stdin: v.interactive === true ? 'pipe' : undefined,
    tty: v.tty === true ? true : undefined,
    tags: tags.length > 0 ? tags : undefined,
    env: Object.keys(env).length > 0 ? env : undefined,
    retry: retries === undefined ? undefined : { attempts: retries + 1, ...(backoff !== undefined ? { backoff: { type: 'fixed', delayMs: backoff } } : {}) },
  };
  const spec: Record<string, unknown> = {
    // One word is a shell command line; several are a program and its arguments, run as given.
    command: words[0]!,
    ...(words.length > 1 ? { args: words.slice(1) } : {}),
    cwd: typeof v.cwd === 'string' ? v.cwd : ctx.io.cwd,
  };
  for (const [k, value] of Object.entries(optional)) if (value !== undefined) spec[k] = value;
  return spec as unknown as TaskSpec;
}

// Repeatable options whose values may contain commas (`--env A=1,2`).
function listArgRaw(raw: unknown): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).map(String);
}

/** `submit -- COMMAND...`: queues a task through the owner; prints its id. */
export async function submit(ctx: CliContext): Promise<number> {
  const spec = submitSpec(ctx);
  await needOwner(ctx);
  const record = unwrap(await ask(ctx, { op: 'submit', spec: spec as unknown as Record<string, unknown> })) as TaskRecord;
  if (ctx.parsed.json) printJson(ctx.io, record);
  else ctx.io.out(`${record.id}\n`);
  return EXIT.OK;
}

/** `prune`: forgets finished tasks (and their output) through the owner. */
export async function prune(ctx: CliContext): Promise<number> {
  const v = ctx.parsed.values;
  const olderThanMs = durationArg('older-than', v['older-than']);
  const keep = intArg('keep', v.keep, 0);
  const statuses = listArg(v.status);
  await needOwner(ctx);
  const request: ControlRequest = {
    op: 'prune',
    ...(olderThanMs !== undefined ? { olderThanMs } : {}),
    ...(keep !== undefined ? { keep } : {}),
    ...(statuses.length > 0 ? { statuses: statuses as never } : {}),
  };
  const result = unwrap(await ask(ctx, request, 60_000)) as { removed: number };
  if (ctx.parsed.json) printJson(ctx.io, result);
  else ctx.io.err(`removed ${result.removed} task${result.removed === 1 ? '' : 's'}\n`);
  return EXIT.OK;
}

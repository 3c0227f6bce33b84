import { AbortedError } from '../index.js';
import { fail, fromError, ToolContext } from './context.js';
import { formatResult } from './format.js';
import { normalizeInput } from './inputs.js';
import { bgKill, bgList, type KillInput, type ListInput } from './manage.js';
import { completionNotices } from './notices.js';
import { bgRead, type ReadInput } from './read.js';
import { descriptions, inputSchemas } from './schemas.js';
import { bgStart, type StartInput } from './start.js';
import type { AgentExecutor, AgentTool, AgentToolContext, AgentToolName, AgentToolOutput, AgentToolResult, AgentToolsOptions, JsonSchema } from './types.js';
import { describeParameters, validateInput } from './validate.js';
import { bgWait, type WaitInput } from './wait.js';
import { bgWrite, type WriteInput } from './write.js';

type Run = (ctx: ToolContext, input: Record<string, unknown>, call: AgentToolContext) => Promise<AgentToolResult> | AgentToolResult;

// Inputs are validated against the schema before these run, so the casts only name the shape.
const RUNS: Record<AgentToolName, Run> = {
  bg_start: (ctx, input, call) => bgStart(ctx, input as unknown as StartInput, call.signal),
  bg_read: (ctx, input) => bgRead(ctx, input as unknown as ReadInput),
  bg_wait: (ctx, input, call) => bgWait(ctx, input as unknown as WaitInput, call.signal),
  bg_kill: (ctx, input) => bgKill(ctx, input as unknown as KillInput),
  bg_list: (ctx, input) => bgList(ctx, input as unknown as ListInput),
  bg_write: (ctx, input, call) => bgWrite(ctx, input as unknown as WriteInput, call.signal),
};

// bg_write comes last, so that code which took the first five by position keeps working.
const ORDER: readonly AgentToolName[] = ['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write'];

// Notices are appended only when at least this many characters of the budget are left.
const MIN_NOTICE_CHARS = 300;

function makeTool(ctx: ToolContext, name: AgentToolName, description: string, inputSchema: JsonSchema, checkedSchema: JsonSchema): AgentTool {
  const run = RUNS[name];
  const invalid = (errors: string[]): AgentToolResult =>
    fail('invalid_input', `${name}: ${errors.join('; ')}. Parameters: ${describeParameters(inputSchema)}. Fix the arguments and call ${name} again.`);
  const tool: AgentTool = {
    name,
    description,
    inputSchema,
    strict: ctx.strict,
    async handler(input: unknown, call: AgentToolContext = {}): Promise<AgentToolResult> {
      const normalized = normalizeInput(name, input);
      if (!normalized.ok) return invalid(normalized.errors);
      const checked = validateInput(checkedSchema, normalized.value);
      if (!checked.ok) return invalid(checked.errors);
      try {
        return await run(ctx, checked.value, call);
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        return fromError(err, name);
      }
    },
    async call(input: unknown, call: AgentToolContext = {}): Promise<AgentToolOutput> {
      const result = await tool.handler(input, call);
      if (!ctx.appendNotices) return formatResult(result);
      // Completions of other tasks ride along, in what the budget has left after this result.
      const room = ctx.maxOutputChars - formatResult(result).text.length - 1;
      if (room < MIN_NOTICE_CHARS) return formatResult(result);
      const notices = await completionNotices(ctx.ex, ctx.session, { maxChars: room, readable: ctx.readable }).catch(() => ({ text: '' }));
      return formatResult(result, [notices.text]);
    },
  };
  return tool;
}

/**
 * Creates the six agent tools over an executor: `bg_start`, `bg_read`, `bg_wait`, `bg_kill`,
 * `bg_list` and `bg_write` (input to a task started with `stdin: "pipe"`), each with a description for the model, a JSON Schema of its input and an async
 * handler. Hand them to any framework (MCP, OpenAI function calling, the Vercel AI SDK): see
 * `docs/agent-tools.md`.
 *
 * The tools of one call share state: how far the model has read each task's output, so that
 * `bg_read` without a cursor continues where the last result stopped. Create one set per
 * agent session (with `session`) to keep sessions apart.
 *
 * `call()` gives what to hand the model (status JSON and plain-text output as separate
 * content items, within `maxOutputChars`); `handler()` gives the structured result. With
 * `strict: true` the input schemas keep to OpenAI's strict subset.
 *
 * @example
 * ```ts
 * const tools = createAgentTools(executor, { session: 'chat-42', maxOutputChars: 8192, strict: true });
 * const start = tools.find((t) => t.name === 'bg_start')!;
 * const { content, isError } = await start.call({ command: 'npm test', wait_ms: 5000 });
 * ```
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for bad options.
 */
export function createAgentTools(executor: AgentExecutor, options: AgentToolsOptions = {}): AgentTool[] {
  const ctx = new ToolContext(executor, options);
  const { advertised, checked } = inputSchemas(ctx);
  const texts = descriptions(ctx);
  return ORDER.map((name) => makeTool(ctx, name, texts[name], advertised[name], checked[name]));
}

import type { BackgroundExecutor, Clock, TaskSpec } from '../index.js';
import type { AgentToolResult } from './results.js';

/**
 * The part of {@link BackgroundExecutor} the agent tools use. Any executor satisfies it; a test
 * double only needs the required methods. Without `write`/`closeStdin`, `bg_write` answers
 * that input cannot be written; without `on`/`off`, waits do not end early when a task asks for
 * input, and `bg_write` waits for the task's end or `wait_ms` only.
 */
export type AgentExecutor = Pick<
  BackgroundExecutor,
  'submit' | 'get' | 'list' | 'wait' | 'cancel' | 'readOutput' | 'follow' | 'completions' | 'ack'
> &
  Partial<Pick<BackgroundExecutor, 'write' | 'closeStdin' | 'on' | 'off'>>;

/** A JSON Schema type name. */
export type JsonSchemaType = 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null';

/**
 * The subset of JSON Schema the agent tools declare (and validate by hand). It is accepted
 * as-is by MCP (`inputSchema`), OpenAI function calling (`parameters`) and the Vercel AI SDK
 * (`jsonSchema(...)`). With `strict: true` the schemas keep to OpenAI's strict subset: every
 * property required, optional ones nullable (`type: ['integer', 'null']`), no size keywords.
 */
export interface JsonSchema {
  /** JSON type of the value; a pair such as `['string', 'null']` for a nullable one. */
  type?: JsonSchemaType | readonly JsonSchemaType[];
  /** What the value means, for the model. */
  description?: string;
  /** Schemas of an object's properties. */
  properties?: Record<string, JsonSchema>;
  /** Property names an object must have. */
  required?: readonly string[];
  /** Whether (or in what shape) properties not listed in `properties` are allowed. */
  additionalProperties?: boolean | JsonSchema;
  /** Schema of an array's items. */
  items?: JsonSchema;
  /** The allowed values. */
  enum?: readonly (string | number | null)[];
  /** Fewest items of an array. */
  minItems?: number;
  /** Most items of an array. */
  maxItems?: number;
  /** Shortest string. */
  minLength?: number;
  /** Longest string. */
  maxLength?: number;
  /** Value used when the property is left out. */
  default?: unknown;
}

/** Per-call context a framework may pass to a handler. */
export interface AgentToolContext {
  /**
   * Aborts the call. `bg_wait` then rejects with `AbortedError` (code `ABORTED`); `bg_start`
   * and `bg_write` stop waiting and resolve at once with the (still running) task (the input
   * was written). Tasks are never killed by an aborted call.
   */
  signal?: AbortSignal;
}

/** Names of the tools {@link createAgentTools} returns, in that order. */
export type AgentToolName = 'bg_start' | 'bg_read' | 'bg_wait' | 'bg_kill' | 'bg_list' | 'bg_write';

/** One tool: what a framework shows the model, and the function that runs a call. */
export interface AgentTool {
  /** The tool's name, as the model calls it. */
  name: AgentToolName;
  /** Text for the model: what the tool does and how to use it well. */
  description: string;
  /** JSON Schema of the input (always `type: 'object'`). */
  inputSchema: JsonSchema;
  /** Whether {@link AgentTool.inputSchema} keeps to OpenAI's strict subset (the `strict` option). */
  strict: boolean;
  /**
   * Validates `input` against {@link AgentTool.inputSchema} and runs the call. Never rejects for
   * bad input, unknown task ids or executor errors: those resolve to an {@link AgentToolError}
   * whose `message` tells the model what to do next. Only an aborted `bg_wait` rejects.
   * The result is JSON-safe; {@link AgentTool.call} renders it for the model (and
   * `JSON.stringify(result)` also stays within the budget).
   */
  handler(input: unknown, context?: AgentToolContext): Promise<AgentToolResult>;
  /**
   * Like {@link AgentTool.handler}, but resolves to what the model should receive: the status
   * as JSON and the output as plain text in separate content items, all within the budget.
   */
  call(input: unknown, context?: AgentToolContext): Promise<AgentToolOutput>;
}

/** One text content item (the shape MCP and the chat APIs use). */
export interface AgentTextContent {
  /** Always `text`. */
  type: 'text';
  /** The text. */
  text: string;
}

/** What one tool call hands the model, from {@link AgentTool.call} or {@link formatResult}. */
export interface AgentToolOutput {
  /** The structured result, output text included (for programs and structured content). */
  result: AgentToolResult;
  /**
   * For the model: first the status as JSON without the output text, then each output stream as
   * plain text under a one-line header (`--- stdout, bytes 0..812 of 812 ---`).
   */
  content: AgentTextContent[];
  /** The content items joined by newlines, for clients whose tool results are one string. */
  text: string;
  /** The call did not succeed (`result.ok` is false). */
  isError: boolean;
}

/** Spec fields applied under every task the model starts (the model's own values win). */
export type AgentTaskDefaults = Partial<Omit<TaskSpec, 'command' | 'args' | 'signal' | 'session' | 'idempotencyKey'>>;

/** Limits of the agent tools. Values the model asks for beyond them are clamped (and said so). */
export interface AgentLimits {
  /** Longest `bg_wait` `timeout_ms` (default 300000 = 5 min). */
  maxWaitMs: number;
  /** Longest `bg_start` `wait_ms` (default 30000). */
  maxStartWaitMs: number;
  /** `bg_start` `wait_ms` when the model gives none (default 1000). */
  defaultStartWaitMs: number;
  /**
   * `bg_write` `wait_ms` when the model gives none (default 2000): how long it waits for the
   * reply (it returns earlier when the task ends, asks for input again, or its output pauses).
   * The longest is `maxStartWaitMs`.
   */
  defaultWriteWaitMs: number;
  /** Longest `bg_start` `timeout_ms` (default 86400000 = 24 h). */
  maxTimeoutMs: number;
  /** Longest `bg_kill` `grace_ms` (default 60000). */
  maxGraceMs: number;
}

/** Options of {@link createAgentTools}. */
export interface AgentToolsOptions {
  /**
   * Owner scope. Tasks started by these tools carry it, and every tool sees and touches only
   * tasks of this session: another session's task id behaves exactly like an unknown id.
   * Without a session the tools are unscoped and see every task of the executor.
   */
  session?: string;
  /**
   * Budget of one tool result, in characters the model receives: status, output and anything
   * appended, with output counted as JSON-encoded (so `\n` costs 2 and a control byte up to 6),
   * which bounds both the plain-text form of {@link AgentTool.call} and `JSON.stringify` of the
   * result. Default 16384, at least 1024. Larger output comes in pages, or as head + tail.
   */
  maxOutputChars?: number;
  /** @deprecated Same as {@link AgentToolsOptions.maxOutputChars} (it always counted what the model reads). */
  maxOutputBytes?: number;
  /**
   * Input schemas in OpenAI's strict subset (for `strict: true` function calling, the Responses
   * API, the Agents SDK): every property required, optional ones nullable, `env` as an array of
   * `{ name, value }`, no size keywords. Default false: optional properties may be left out.
   * Either way the handlers accept both forms and treat `null` (and `""` or `0` where those mean
   * nothing, such as `timeout_ms: 0` or `grep: ""`) as not given.
   */
  strict?: boolean;
  /**
   * Show output as a terminal would (default true): ANSI escapes removed, lines rewritten with
   * `\r` (progress bars) collapsed to their final state, other control bytes shown as short
   * markers such as `[4096×\x01]`. Cursors always count raw bytes, and `bg_read` with
   * `raw: true` returns the bytes as they are.
   */
  readable?: boolean;
  /**
   * {@link AgentTool.call} appends the completion notices of this session's other tasks
   * ({@link completionNotices}) to its content, within what the budget has left, and
   * acknowledges them. Default false.
   */
  appendNotices?: boolean;
  /**
   * Transports the model may choose with `bg_start`'s `transport` (the first is the default).
   * Without it the parameter is not offered and tasks use `defaults.transport` or the
   * executor's default transport.
   */
  allowedTransports?: readonly string[];
  /** Spec fields applied under every started task (cwd, env, timeoutMs, group, tags, …). */
  defaults?: AgentTaskDefaults;
  /** Clock for the tools' own timers (`wait_ms`, `bg_wait` timeouts, durations); default the system clock. */
  clock?: Clock;
  /** Overrides of the default {@link AgentLimits}. */
  limits?: Partial<AgentLimits>;
  /**
   * Acknowledge (`executor.ack`) a task's completion as soon as a tool result tells the model
   * its final status (`bg_start` that ended within `wait_ms`, `bg_wait` exited, `bg_kill`,
   * `bg_read` at end of output), so {@link completionNotices} does not repeat it. Default true.
   */
  ackOnReport?: boolean;
}

// The result types live in results.ts; they are re-exported so that importers of this module see every type.
export type * from './results.js';

import type { AgentToolName, JsonSchema } from '../agent/index.js';

/** MCP tool annotations: hints a host uses to decide what needs the user's confirmation. */
export interface McpToolAnnotations {
  /** A human-readable title. */
  title: string;
  /** The tool does not modify its environment. */
  readOnlyHint: boolean;
  /** The tool may perform destructive updates (meaningful when not read-only). */
  destructiveHint: boolean;
  /** Calling it again with the same arguments has no additional effect (meaningful when not read-only). */
  idempotentHint: boolean;
  /** The tool may interact with an open world of external entities. */
  openWorldHint: boolean;
}

// bg_start runs any shell command: it may change or delete anything and reach any network, so
// hosts should treat it as destructive and open-world. The read-only tools touch only bgexec's
// own state (bg_read and bg_wait move the tools' read position, which is not the environment).
// Killing a task again has no further effect, so bg_kill is idempotent. bg_write types into a
// running command, which may act on it in any way (answer "y" to "delete everything?", send a
// query to a remote database): destructive, not idempotent (a second "y" is another answer) and
// open-world, like bg_start.
const ANNOTATIONS: Record<AgentToolName, McpToolAnnotations> = {
  bg_start: { title: 'Start a background command', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  bg_read: { title: 'Read a background task’s output', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  bg_wait: { title: 'Wait for background tasks', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  bg_kill: { title: 'Kill a background task', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  bg_list: { title: 'List background tasks', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  bg_write: { title: 'Write to a background task’s input', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
};

/** The MCP annotations of one agent tool. */
export function toolAnnotations(name: AgentToolName): McpToolAnnotations {
  return { ...ANNOTATIONS[name] };
}

const str: JsonSchema = { type: 'string' };
const int: JsonSchema = { type: 'integer' };
const bool: JsonSchema = { type: 'boolean' };
// Durations come from the clock, which may give fractions of a millisecond.
const ms: JsonSchema = { type: 'number' };
const strings: JsonSchema = { type: 'array', items: str };
const exitCode: JsonSchema = { type: ['integer', 'null'] };
const signal: JsonSchema = { type: ['string', 'null'] };

const view: JsonSchema = {
  type: 'object',
  description: 'A slice of one output stream within the budget.',
  properties: { text: str, cursor: int, next_cursor: int, total_bytes: int, omitted_bytes: int, truncated: bool, skipped_bytes: int },
  required: ['text', 'cursor', 'next_cursor', 'total_bytes', 'omitted_bytes', 'truncated'],
};

// Every result is either a success (`ok: true` and the tool's fields) or an error
// (`ok: false`, `error`, `message`), so only `ok` is required; the fields of both are declared.
// Objects stay open (no `additionalProperties: false`) so a field added later does not make
// an older client reject the result.
function result(properties: Record<string, JsonSchema>): JsonSchema {
  return {
    type: 'object',
    properties: { ok: bool, error: str, message: str, ...properties, clamped: strings, hint: str },
    required: ['ok'],
  };
}

const OUTPUT_SCHEMAS: Record<AgentToolName, JsonSchema> = {
  bg_start: result({
    task_id: str,
    status: str,
    exit_code: exitCode,
    signal,
    reason: str,
    error_message: str,
    duration_ms: ms,
    awaiting_input: bool,
    stdout: view,
    stderr: view,
  }),
  bg_read: result({
    task_id: str,
    status: str,
    exit_code: exitCode,
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    awaiting_input: bool,
    attempt: int,
    text: str,
    cursor: int,
    next_cursor: int,
    total_bytes: int,
    eof: bool,
    truncated: bool,
    omitted_bytes: int,
    skipped_bytes: int,
    tail: { type: 'object', properties: { lines_requested: int, lines_available: int, lines_shown: int } },
    raw: bool,
    grep: { type: 'object', properties: { pattern: str, lines_read: int, lines_matched: int, lines_filtered: int } },
    other_stream_bytes: int,
  }),
  bg_wait: result({
    outcome: { type: 'string', enum: ['exited', 'matched', 'input_wanted', 'timeout'] },
    awaiting_input: bool,
    task_id: str,
    status: str,
    exit_code: exitCode,
    signal,
    reason: str,
    duration_ms: ms,
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    match: str,
    match_cursor: int,
    stdout: view,
    stderr: view,
    waited_ms: ms,
    tasks: {
      type: 'array',
      items: { type: 'object', properties: { task_id: str, status: str, exit_code: exitCode, awaiting_input: bool }, required: ['task_id', 'status'] },
    },
  }),
  bg_kill: result({ task_id: str, status: str, exit_code: exitCode, signal, reason: str, already_finished: bool }),
  bg_list: result({
    tasks: {
      type: 'array',
      items: {
        type: 'object',
        properties: { task_id: str, status: str, exit_code: exitCode, duration_ms: ms, awaiting_input: bool, command: str },
        required: ['task_id', 'status', 'command'],
      },
    },
    total: int,
  }),
  bg_write: result({
    task_id: str,
    status: str,
    bytes_written: int,
    closed: bool,
    awaiting_input: bool,
    exit_code: exitCode,
    signal,
    reason: str,
    duration_ms: ms,
    waited_ms: ms,
    stdout: view,
    stderr: view,
  }),
};

/** JSON Schema of one tool's structured result (`structuredContent`), success or error alike. */
export function outputSchema(name: AgentToolName): JsonSchema {
  return OUTPUT_SCHEMAS[name];
}

import type { AgentLimits, AgentToolName, JsonSchema } from './types.js';

/** What the schemas and descriptions depend on. */
export interface SchemaConfig {
  limits: AgentLimits;
  maxOutputChars: number;
  allowedTransports: readonly string[] | undefined;
  strict: boolean;
}

/** Smallest `max_chars` of `bg_read`. */
export const MIN_READ_CHARS = 256;
/** Characters of a `bg_read` result kept for everything but the output text: status fields, hint, notes. */
export const READ_STATUS_RESERVE = 700;

/** Largest (and default) `max_chars` of `bg_read` under a result budget. */
export function maxReadChars(budget: number): number {
  return Math.max(MIN_READ_CHARS, budget - READ_STATUS_RESERVE);
}
/** Most task ids one `bg_wait` takes. */
export const MAX_WAIT_IDS = 20;
/** Largest `bg_list` `limit`. */
export const MAX_LIST_LIMIT = 100;
/** Default `bg_list` `limit`. */
export const DEFAULT_LIST_LIMIT = 20;
/** Largest `tail_lines`. */
export const MAX_TAIL_LINES = 10_000;
/** Range of `priority`. */
export const PRIORITY_RANGE = 10;
/** Shortest `bg_start` `timeout_ms`. */
export const MIN_TIMEOUT_MS = 100;
/** Longest regular expression accepted by `grep` and `pattern`. */
export const MAX_PATTERN_LENGTH = 1000;
/** Longest `bg_start` `stdin` text and `bg_write` `input`, in characters. */
export const MAX_INPUT_CHARS = 100_000;

// How model text reaches a task, said once for bg_start's stdin and bg_write's input.
const AS_GIVEN =
  'Sent exactly as given, with no escape processing: end a line with a newline character (\\n in the JSON string), as pressing Enter would; a backslash followed by n is sent as those two characters.';

const NO_POLL =
  'Do not poll: call bg_wait to block until it exits or prints a pattern, or end your turn and a completion notice will arrive when it finishes.';

const taskId: JsonSchema = { type: 'string', minLength: 1, maxLength: 200, description: 'Task id returned by bg_start (or listed by bg_list).' };
const stream: JsonSchema = { type: 'string', enum: ['stdout', 'stderr'], description: 'Output stream; default "stdout".' };
const regex = (what: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength: MAX_PATTERN_LENGTH,
  description: `${what} JavaScript regular expression, matched line by line; start it with (?i) to ignore case. null or "" for none.`,
});

function startSchema(c: SchemaConfig): JsonSchema {
  const props: Record<string, JsonSchema> = {
    command: { type: 'string', minLength: 1, maxLength: 100_000, description: 'Shell command line, run by /bin/sh -c.' },
    cwd: { type: 'string', minLength: 1, description: 'Working directory: absolute, or relative to the default one; null or "" for the default.' },
    env: c.strict
      ? {
          type: 'array',
          items: {
            type: 'object',
            properties: { name: { type: 'string', description: 'Variable name.' }, value: { type: 'string', description: 'Its value.' } },
            required: ['name', 'value'],
            additionalProperties: false,
          },
          description: 'Extra environment variables, e.g. [{"name":"NODE_ENV","value":"test"}]; null or [] for none.',
        }
      : { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra environment variables, e.g. {"NODE_ENV":"test"}.' },
    timeout_ms: {
      type: 'integer',
      description: `Kill the whole process tree after this many ms (${MIN_TIMEOUT_MS}..${c.limits.maxTimeoutMs}). Omit it (or null or 0) for no timeout (e.g. servers).`,
    },
    priority: { type: 'integer', description: `Higher starts first when tasks queue (-${PRIORITY_RANGE}..${PRIORITY_RANGE}, default 0).` },
    wait_ms: {
      type: 'integer',
      description: `Wait up to this many ms for the command to finish (0..${c.limits.maxStartWaitMs}, default ${c.limits.defaultStartWaitMs}). If it finishes in time you get its exit code and output right away; otherwise it keeps running in the background.`,
    },
    stdin: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_INPUT_CHARS,
      description:
        `"pipe": keep the command's input open so that you can answer its prompts with bg_write (REPLs, questions, filters). Any other text: given as its whole input, then end-of-file. ${AS_GIVEN} Omit it (or null or "") for no input (/dev/null).`,
    },
    tty: {
      type: 'boolean',
      description:
        'true: run the command on a terminal (80x24), for programs that behave differently without one (REPLs, password-style prompts, colours, progress bars). stdout and stderr are then one stream (stdout). Add stdin "pipe" to type into the terminal with bg_write: without it the terminal\'s input is at end-of-file. Default false.',
    },
  };
  const transports = c.allowedTransports;
  if (transports && transports.length > 0) {
    props.transport = { type: 'string', enum: [...transports], description: `Where to run it; default "${transports[0]}".` };
  }
  return { type: 'object', properties: props, required: ['command'], additionalProperties: false };
}

// Keywords outside OpenAI's strict subset; what they checked is still checked by the handlers.
const NOT_STRICT = new Set(['minLength', 'maxLength', 'minItems', 'maxItems', 'default']);

function strictProperty(p: JsonSchema, nullable: boolean): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(p)) if (!NOT_STRICT.has(k)) (out as Record<string, unknown>)[k] = v;
  if (p.type === 'object') Object.assign(out, strictObject(p));
  if (p.items) out.items = strictProperty(p.items, false);
  if (nullable) {
    if (typeof p.type === 'string') out.type = [p.type, 'null'];
    if (p.enum) out.enum = [...p.enum, null];
  }
  return out;
}

function strictObject(s: JsonSchema): JsonSchema {
  if (typeof s.additionalProperties === 'object') throw new Error('open maps cannot be expressed in strict mode');
  const required = new Set(s.required ?? []);
  const props = Object.entries(s.properties ?? {});
  const out: JsonSchema = {
    type: 'object',
    ...(s.description !== undefined ? { description: s.description } : {}),
    properties: Object.fromEntries(props.map(([k, p]) => [k, strictProperty(p, !required.has(k))])),
    required: props.map(([k]) => k),
    additionalProperties: false,
  };
  return out;
}

/**
 * Rewrites an object schema into OpenAI's strict subset: every property listed in `required`,
 * the optional ones nullable, `additionalProperties: false` on every object, and no keyword the
 * subset lacks (the handlers check those limits themselves).
 */
export function toStrictSchema(schema: JsonSchema): JsonSchema {
  return strictObject(schema);
}

/**
 * Builds the JSON Schema of each tool's input, as advertised to the model (strict or not) and
 * as checked by the handlers (always the full form, which also holds the size limits).
 */
export function inputSchemas(c: SchemaConfig): { advertised: Record<AgentToolName, JsonSchema>; checked: Record<AgentToolName, JsonSchema> } {
  const checked = fullSchemas({ ...c, strict: false });
  if (!c.strict) return { advertised: checked, checked };
  const rich = fullSchemas(c);
  const advertised = Object.fromEntries(Object.entries(rich).map(([name, s]) => [name, toStrictSchema(s)])) as Record<AgentToolName, JsonSchema>;
  return { advertised, checked };
}

function fullSchemas(c: SchemaConfig): Record<AgentToolName, JsonSchema> {
  return {
    bg_start: startSchema(c),
    bg_read: {
      type: 'object',
      properties: {
        task_id: taskId,
        cursor: {
          type: 'integer',
          description:
            'Byte offset to read from: the next_cursor of an earlier result. Omit it (or null) to continue where your last read of this task and stream stopped; 0 reads from the start.',
        },
        max_chars: {
          type: 'integer',
          description: `Most characters of output to return (${MIN_READ_CHARS}..${maxReadChars(c.maxOutputChars)}, default ${maxReadChars(c.maxOutputChars)}); null or 0 for the default.`,
        },
        tail_lines: { type: 'integer', description: `Return only the last N lines of the output (1..${MAX_TAIL_LINES}), as many as fit; ignores cursor. null or 0 for a normal read.` },
        grep: regex('Show only lines matching this'),
        stream,
        raw: {
          type: 'boolean',
          description: 'true: return the bytes as they are (ANSI escapes, \\r rewrites, control bytes). Default false: readable text; cursors count raw bytes either way.',
        },
      },
      required: ['task_id'],
      additionalProperties: false,
    },
    bg_wait: {
      type: 'object',
      properties: {
        task_ids: {
          type: 'array',
          items: taskId,
          minItems: 1,
          maxItems: MAX_WAIT_IDS,
          description: `Tasks to wait on (1 to ${MAX_WAIT_IDS} ids); returns as soon as any one of them is done.`,
        },
        timeout_ms: { type: 'integer', description: `Give up after this many ms (0..${c.limits.maxWaitMs}); the tasks keep running.` },
        until: { type: 'string', enum: ['exit', 'pattern'], description: '"exit" (default): wait until a task ends. "pattern": wait until a task prints a line matching pattern (or ends).' },
        pattern: regex('With until="pattern": the'),
        stream: { type: 'string', enum: ['stdout', 'stderr', 'both'], description: 'With until="pattern": stream(s) to watch; default "stdout".' },
        cursor: {
          type: 'integer',
          description: 'With until="pattern": match output from this byte offset (e.g. the next_cursor of your last bg_read) instead of only output written after this call.',
        },
      },
      required: ['task_ids', 'timeout_ms'],
      additionalProperties: false,
    },
    bg_kill: {
      type: 'object',
      properties: {
        task_id: taskId,
        grace_ms: { type: 'integer', description: `Delay between SIGTERM and SIGKILL (0..${c.limits.maxGraceMs}); omit it (or null) for the task's own (5000).` },
      },
      required: ['task_id'],
      additionalProperties: false,
    },
    bg_write: {
      type: 'object',
      properties: {
        task_id: taskId,
        input: {
          type: 'string',
          maxLength: MAX_INPUT_CHARS,
          description: `Text to write to the task's input, e.g. "y\\n" or "print(2+2)\\n". ${AS_GIVEN} May be "" with close=true.`,
        },
        close: { type: 'boolean', description: 'true: after the input, close it (end-of-file, like Ctrl-D), for programs that read until the input ends. Default false.' },
        wait_ms: {
          type: 'integer',
          description: `Wait up to this many ms for the reply (0..${c.limits.maxStartWaitMs}, default ${c.limits.defaultWriteWaitMs}); returns earlier when the task ends, asks for input again, or its output pauses.`,
        },
      },
      required: ['task_id', 'input'],
      additionalProperties: false,
    },
    bg_list: {
      type: 'object',
      properties: {
        status: {
          type: 'string',
          enum: ['all', 'active', 'finished', 'queued', 'waiting', 'running', 'completed', 'failed', 'cancelled', 'timed_out', 'lost'],
          description: '"active" = queued, waiting or running; "finished" = ended in any way; default "all".',
        },
        limit: { type: 'integer', description: `Most rows, newest first (1..${MAX_LIST_LIMIT}, default ${DEFAULT_LIST_LIMIT}; null or 0 for the default).` },
      },
      required: [],
      additionalProperties: false,
    },
  };
}

/** Builds the description of each tool: what it does and how to use it without wasting turns. */
export function descriptions(c: SchemaConfig): Record<AgentToolName, string> {
  const budget = c.maxOutputChars;
  return {
    bg_start:
      `Start a shell command in the background and get its task id. Use it for anything that may take long (builds, tests, servers, downloads). ` +
      `If the command finishes within wait_ms, the result already holds its exit code and output (within ${budget} characters, head and tail). ` +
      `Otherwise it keeps running: ${NO_POLL} stdout and stderr are kept apart; append 2>&1 to merge them. ` +
      `Stdin is /dev/null unless you pass stdin: "pipe" (then answer prompts with bg_write) or the input text itself; tty: true runs it on a terminal.`,
    bg_read:
      `Read a background task's output incrementally by byte cursor, whole lines, within ${budget} characters per call. ` +
      `Each result gives next_cursor; without a cursor the read continues where your last one stopped, so you never see the same bytes twice ` +
      `(lines already shown as the tail of an earlier result are passed over). Output is shown readable (ANSI colours removed, progress bars collapsed); raw=true gives the bytes as they are. ` +
      `Use tail_lines for just the latest lines, and grep to show only matching lines (the cursor still moves past every line read; the result counts the filtered lines). ` +
      `To wait for more output, call bg_wait with until="pattern" instead of reading repeatedly.`,
    bg_wait:
      `Block until one of the given tasks exits (until="exit") or prints a line matching a regular expression (until="pattern", e.g. "listening on|ready"), or until timeout_ms passes. ` +
      `This is the way to wait: never call bg_read or bg_list in a loop. On exit you get the exit code and the output you have not read yet (within the budget). ` +
      `A task that waits for input ends the wait too (outcome "input_wanted"): answer it with bg_write. ` +
      `On timeout the tasks keep running: wait again, do other work, or end your turn and a completion notice will arrive.`,
    bg_kill:
      'Stop a background task: SIGTERM to its whole process tree, SIGKILL after grace_ms. Returns the final status. Killing a task that already ended is harmless.',
    bg_list:
      'List your background tasks, newest first, as compact rows (id, status, exit code, duration, command). Use it to recover task ids, not to watch progress: use bg_wait for that.',
    bg_write:
      `Write to the input of a running task started with stdin: "pipe" (answer a prompt, drive a REPL, feed a filter), then wait up to wait_ms for its reply: ` +
      `returns what it printed since your last read (within ${budget} characters) as soon as it ends, asks for input again (awaiting_input), or its output pauses. ` +
      `Results of bg_read, bg_wait and bg_list say awaiting_input when a task waits for input. ` +
      `On a terminal (tty: true) the input is typed: "\\u0003" is Ctrl-C, and what you type is echoed to the output. close=true ends the input (end-of-file).`,
  };
}

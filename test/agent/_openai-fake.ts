// A stand-in for the OpenAI HTTP API on 127.0.0.1: the real `openai` client (and the Agents SDK
// on top of it) sends its real requests here, and a scripted "model" answers /chat/completions
// and /responses with tool calls. The script reads the tool results in each request, so it
// works from the task ids and output the real tools returned.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the scripted model does next: call a tool, or answer in text. */
export type Step = { tool: string; args: Record<string, unknown> } | { answer: string };

/** Decides the next step from the tool results so far (each the text the model was sent). */
export type Script = (results: string[], tools: Map<string, Record<string, unknown>>) => Step;

/** One request the server received. */
export interface SeenRequest {
  path: string;
  body: Record<string, any>;
}

/** The fake API: its base URL for `new OpenAI({ baseURL })`, what it received, and `close()`. */
export interface FakeOpenAI {
  baseURL: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** The status JSON of a tool result: the first line of `AgentToolOutput.text`. */
export function statusOf(text: string): Record<string, any> {
  return JSON.parse(text.split('\n')[0]!) as Record<string, any>;
}

/** Arguments as a strict-mode model sends them: every property present, null where not chosen. */
export function strictArgs(schema: Record<string, unknown> | undefined, given: Record<string, unknown>): Record<string, unknown> {
  const props = Object.keys((schema?.properties ?? {}) as Record<string, unknown>);
  return Object.fromEntries(props.map((k) => [k, k in given ? given[k] : null]));
}

function textOf(output: unknown): string {
  if (typeof output === 'string') return output;
  if (Array.isArray(output)) return output.map((p: { text?: string }) => p.text ?? '').join('\n');
  return JSON.stringify(output);
}

function chatReply(body: Record<string, any>, script: Script, n: number): unknown {
  const tools = new Map<string, Record<string, unknown>>(
    (body.tools ?? []).map((t: { function: { name: string; parameters: Record<string, unknown> } }) => [t.function.name, t.function.parameters]),
  );
  const results = (body.messages as { role: string; content: unknown }[]).filter((m) => m.role === 'tool').map((m) => textOf(m.content));
  const step = script(results, tools);
  const message =
    'answer' in step
      ? { role: 'assistant', content: step.answer, refusal: null }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [{ id: `call_${n}`, type: 'function', function: { name: step.tool, arguments: JSON.stringify(strictArgs(tools.get(step.tool), step.args)) } }],
        };
  return {
    id: `chatcmpl-${n}`,
    object: 'chat.completion',
    created: 1,
    model: body.model,
    choices: [{ index: 0, message, finish_reason: 'answer' in step ? 'stop' : 'tool_calls', logprobs: null }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function responsesReply(body: Record<string, any>, script: Script, n: number): unknown {
  const tools = new Map<string, Record<string, unknown>>((body.tools ?? []).map((t: { name: string; parameters: Record<string, unknown> }) => [t.name, t.parameters]));
  const input = typeof body.input === 'string' ? [] : (body.input as { type?: string; output?: unknown }[]);
  const results = input.filter((i) => i.type === 'function_call_output').map((i) => textOf(i.output));
  const step = script(results, tools);
  const output =
    'answer' in step
      ? [{ type: 'message', id: `msg_${n}`, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: step.answer, annotations: [] }] }]
      : [{ type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: step.tool, arguments: JSON.stringify(strictArgs(tools.get(step.tool), step.args)), status: 'completed' }];
  return {
    id: `resp_${n}`,
    object: 'response',
    created_at: 1,
    model: body.model,
    status: 'completed',
    output,
    output_text: 'answer' in step ? step.answer : '',
    parallel_tool_calls: false,
    tool_choice: 'auto',
    tools: body.tools ?? [],
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    temperature: null,
    top_p: null,
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
  };
}

/** Starts the fake API on an ephemeral loopback port. */
export async function startFakeOpenAI(script: Script): Promise<FakeOpenAI> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/\?.*$/, '');
      let reply: unknown;
      let status = 200;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
        requests.push({ path, body });
        if (path.endsWith('/chat/completions')) reply = chatReply(body, script, requests.length);
        else if (path.endsWith('/responses')) reply = responsesReply(body, script, requests.length);
        else [status, reply] = [404, { error: { message: `no route ${path}` } }];
      } catch (err) {
        [status, reply] = [500, { error: { message: String(err) } }];
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// The keywords of OpenAI's strict subset the tools may use (as in strict-schema.test.ts).
const ALLOWED = new Set(['type', 'description', 'properties', 'required', 'additionalProperties', 'items', 'enum']);

/** The strict-subset violations of a JSON Schema as it was sent over the wire (empty if none). */
export function strictProblems(schema: Record<string, any>, path = '$'): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(schema)) if (!ALLOWED.has(key)) problems.push(`${path}: keyword ${key}`);
  const types: unknown[] = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (schema.type === undefined) problems.push(`${path}: no type`);
  if (Array.isArray(schema.enum) && types.includes('null') !== schema.enum.includes(null)) problems.push(`${path}: nullable type and enum disagree`);
  if (types.includes('object')) {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    const keys = Object.keys(schema.properties ?? {}).sort();
    if (JSON.stringify([...(schema.required ?? [])].sort()) !== JSON.stringify(keys)) problems.push(`${path}: required must list every property`);
    for (const [k, p] of Object.entries(schema.properties ?? {})) problems.push(...strictProblems(p as Record<string, any>, `${path}.${k}`));
  }
  if (types.includes('array')) problems.push(...strictProblems(schema.items ?? {}, `${path}[]`));
  return problems;
}

/**
 * The script every test runs: start a command (strict arguments: nulls, `timeout_ms: 0`, `env`
 * as name/value pairs) without waiting, wait for it, read its output from the start, answer.
 */
export const startWaitRead: Script = (results) => {
  const started = results[0] === undefined ? undefined : statusOf(results[0]);
  switch (results.length) {
    case 0:
      return {
        tool: 'bg_start',
        args: { command: 'echo "$GREETING from bgexec"; sleep 0.4; echo second line', env: [{ name: 'GREETING', value: 'hello' }], timeout_ms: 0, wait_ms: 0 },
      };
    case 1:
      return { tool: 'bg_wait', args: { task_ids: [started!.task_id], timeout_ms: 10_000 } };
    case 2:
      return { tool: 'bg_read', args: { task_id: started!.task_id, cursor: 0, tail_lines: 0, grep: '', max_chars: 0 } };
    default:
      return { answer: `done: ${results[results.length - 1]!.split('\n').slice(1).join(' | ')}` };
  }
};

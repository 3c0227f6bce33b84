// The real `openai` client runs tool loops with the bg_* tools in strict mode, against a local
// fake of the API (no network): Chat Completions and the Responses API, each bg_start → bg_wait
// → bg_read on a real command. The request bodies are the SDK's own, so this also checks what
// the tools look like on the wire.
import OpenAI from 'openai';
import type { ChatCompletionFunctionTool, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import type { FunctionTool, ResponseInputItem } from 'openai/resources/responses/responses';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { callAgentTool, createAgentTools, toOpenAIChatTools, toOpenAIResponsesTools, toolParameters } from '../../src/agent/index.js';
import { fakeExecutor } from '../helpers.js';
import { startFakeOpenAI, startWaitRead, statusOf, strictProblems, type FakeOpenAI } from './_openai-fake.js';

let ex: BackgroundExecutor | undefined;
let api: FakeOpenAI | undefined;
afterEach(async () => {
  await ex?.shutdown();
  await api?.close();
  ex = api = undefined;
});

async function setup(): Promise<{ client: OpenAI; tools: ReturnType<typeof createAgentTools> }> {
  ex = new BackgroundExecutor({ outputPollMs: 20 });
  await ex.start();
  api = await startFakeOpenAI(startWaitRead);
  const client = new OpenAI({ apiKey: 'test-key', baseURL: api.baseURL, maxRetries: 0 });
  return { client, tools: createAgentTools(ex, { session: 'sdk-openai', strict: true }) };
}

/** What the loop saw: each tool call's name and the status JSON of its result. */
type Seen = { name: string; status: Record<string, any>; text: string }[];

function expectStartWaitRead(seen: Seen, answer: string | null | undefined): void {
  expect(seen.map((s) => s.name)).toEqual(['bg_start', 'bg_wait', 'bg_read']);
  // timeout_ms: 0 and wait_ms: 0 from a strict model: no timeout (the 0.4 s command is not killed), no wait.
  expect(seen[0]!.status).toMatchObject({ ok: true, status: 'running' });
  expect(seen[1]!.status).toMatchObject({ ok: true, outcome: 'exited', status: 'completed', exit_code: 0 });
  // cursor 0 with tail_lines: 0, grep: "", max_chars: 0 is a plain read from the start.
  expect(seen[2]!.status).toMatchObject({ ok: true, cursor: 0, eof: true });
  expect(seen[2]!.text).toContain('hello from bgexec\nsecond line');
  expect(answer).toContain('hello from bgexec');
}

function expectStrictTools(wireTools: { name: string; strict: unknown; parameters: Record<string, any> }[]): void {
  expect(wireTools.map((t) => t.name)).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
  for (const t of wireTools) {
    expect(t.strict, t.name).toBe(true);
    expect(strictProblems(t.parameters), t.name).toEqual([]);
  }
}

describe('openai client, strict function calling', () => {
  it('Chat Completions: a tool loop runs bg_start → bg_wait → bg_read on a real command', async () => {
    const { client, tools } = await setup();
    // Typed by the SDK: the adapter output is assignable without a cast.
    const openaiTools: ChatCompletionFunctionTool[] = toOpenAIChatTools(tools);
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say hello from a background task.' }];
    const seen: Seen = [];
    let answer: string | null | undefined;
    for (let turn = 0; turn < 8 && answer === undefined; turn++) {
      const completion = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages, tools: openaiTools });
      const reply = completion.choices[0]!.message;
      messages.push(reply);
      if (!reply.tool_calls?.length) answer = reply.content;
      for (const c of reply.tool_calls ?? []) {
        if (c.type !== 'function') continue;
        const out = await callAgentTool(tools, c.function.name, c.function.arguments);
        seen.push({ name: c.function.name, status: statusOf(out.text), text: out.text });
        messages.push({ role: 'tool', tool_call_id: c.id, content: out.text });
      }
    }
    expectStartWaitRead(seen, answer);
    const first = api!.requests[0]!;
    expect(first.path).toBe('/v1/chat/completions');
    expectStrictTools(first.body.tools.map((t: { function: { name: string; strict: unknown; parameters: Record<string, any> } }) => t.function));
    // The strict model's arguments carried every property, nulls included.
    const startArgs = JSON.parse(api!.requests[1]!.body.messages[1].tool_calls[0].function.arguments) as Record<string, unknown>;
    expect(startArgs).toMatchObject({ cwd: null, priority: null, timeout_ms: 0 });
  });

  it('Responses API: a tool loop runs bg_start → bg_wait → bg_read on a real command', async () => {
    const { client, tools } = await setup();
    const responsesTools: FunctionTool[] = toOpenAIResponsesTools(tools);
    const input: ResponseInputItem[] = [{ role: 'user', content: 'Say hello from a background task.' }];
    const seen: Seen = [];
    let answer: string | undefined;
    for (let turn = 0; turn < 8 && answer === undefined; turn++) {
      const response = await client.responses.create({ model: 'gpt-4.1-mini', input, tools: responsesTools });
      const calls = response.output.flatMap((o) => (o.type === 'function_call' ? [o] : []));
      if (calls.length === 0) answer = response.output_text;
      for (const c of calls) {
        input.push({ type: 'function_call', call_id: c.call_id, name: c.name, arguments: c.arguments });
        const out = await callAgentTool(tools, c.name, c.arguments);
        seen.push({ name: c.name, status: statusOf(out.text), text: out.text });
        input.push({ type: 'function_call_output', call_id: c.call_id, output: out.text });
      }
    }
    expectStartWaitRead(seen, answer);
    expect(api!.requests[0]!.path).toBe('/v1/responses');
    expectStrictTools(api!.requests[0]!.body.tools);
  });
});

describe('adapters', () => {
  const { ex: fake } = fakeExecutor();

  it('give fresh copies: changing what an adapter returned leaves the tools as they were', () => {
    const tools = createAgentTools(fake, { strict: true });
    const params = toolParameters(tools[0]!);
    params.required.push('extra');
    params.properties.command!.description = 'changed';
    expect(tools[0]!.inputSchema.required).not.toContain('extra');
    expect(tools[0]!.inputSchema.properties!.command!.description).not.toBe('changed');
    expect(toolParameters(tools[0]!)).toEqual({ ...tools[0]!.inputSchema, required: [...tools[0]!.inputSchema.required!] });
  });

  it('follow the strict option: non-strict tools are sent with strict: false', () => {
    const loose = toOpenAIChatTools(createAgentTools(fake));
    expect(loose.map((t) => t.function.strict)).toEqual([false, false, false, false, false, false]);
    expect(loose[0]!.function.parameters.required).toEqual(['command']);
    expect(toOpenAIResponsesTools(createAgentTools(fake)).map((t) => t.strict)).toEqual([false, false, false, false, false, false]);
  });

  it('callAgentTool answers an unknown tool or arguments that are not JSON with a result the model can act on', async () => {
    const tools = createAgentTools(fake, { strict: true });
    const unknown = await callAgentTool(tools, 'bg_nope', '{}');
    expect(unknown.isError).toBe(true);
    expect(unknown.result).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(unknown.text).toContain('The tools are bg_start, bg_read, bg_wait, bg_kill, bg_list, bg_write');
    const bad = await callAgentTool(tools, 'bg_list', '{not json');
    expect(bad.result).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(bad.text).toContain('not valid JSON');
    // Empty arguments are an empty object; parsed arguments are taken as they are.
    expect((await callAgentTool(tools, 'bg_list', '')).isError).toBe(false);
    expect((await callAgentTool(tools, 'bg_list', { status: null, limit: null })).isError).toBe(false);
  });
});

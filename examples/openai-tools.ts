// bgexec agent tools with OpenAI function calling, through the real `openai` SDK, in strict mode.
//
//   npx tsx examples/openai-tools.ts      (needs `npm install openai`)
//
// 1. `toOpenAIChatTools()` (from bgexec/agent) turns createAgentTools() into the `tools` array
//    of the Chat Completions API; its result is a `ChatCompletionFunctionTool[]` as it is. For the
//    Responses API use `toOpenAIResponsesTools()` and send `function_call_output` items back.
//    With `strict: true` the schemas keep to OpenAI's strict subset, so the model fills every
//    property (null for those it does not choose); the handlers take null as "not given".
// 2. `dispatch()` runs the `tool_calls` of an assistant message with `callAgentTool()` and returns
//    the `role: 'tool'` messages to append: the status as JSON, then the output as plain text.
//    Unknown tools, bad JSON or bad arguments come back as results the model can fix.
// 3. A tool-call loop around `client.chat.completions.create({ model, messages, tools })`.
//    So that it runs offline and without an API key, the client here gets a `fetch` that answers
//    every request from a scripted "model" instead of the network: the SDK still builds each
//    request and parses each response. Delete the `fetch` option to talk to the real API.
import OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionFunctionTool,
  ChatCompletionMessage,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
  ChatCompletionToolMessageParam,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import { BackgroundExecutor } from 'bgexec';
import { callAgentTool, completionNotices, createAgentTools, toOpenAIChatTools, type AgentTool } from 'bgexec/agent';

/** Runs every tool call of an assistant message (in parallel) and returns the tool messages. */
export async function dispatch(
  tools: AgentTool[],
  calls: ChatCompletionMessageToolCall[],
  signal?: AbortSignal,
): Promise<ChatCompletionToolMessageParam[]> {
  return Promise.all(
    calls.map(async (call): Promise<ChatCompletionToolMessageParam> => {
      // Custom (free-text) tool calls are a different API; the bg_* tools are all functions.
      const out =
        call.type === 'function'
          ? await callAgentTool(tools, call.function.name, call.function.arguments, signal ? { signal } : {})
          : await callAgentTool(tools, call.custom.name, call.custom.input);
      return { role: 'tool', tool_call_id: call.id, content: out.text };
    }),
  );
}

// ---------------------------------------------------------------- a scripted "model"

let callNo = 0;
let sentTools: ChatCompletionFunctionTool[] = [];
/** A call as a strict-mode model makes it: every property of the schema, null where not chosen. */
const toolCall = (name: string, args: Record<string, unknown>): ChatCompletionMessageToolCall => {
  const props = Object.keys(sentTools.find((t) => t.function.name === name)?.function.parameters?.properties ?? {});
  const full = Object.fromEntries(props.map((k) => [k, k in args ? args[k] : null]));
  return { id: `call_${++callNo}`, type: 'function', function: { name, arguments: JSON.stringify(full) } };
};
/** The tool results so far: the status JSON (first line) and the text after it. */
const toolResult = (messages: ChatCompletionMessageParam[], back = 1): { status: Record<string, any>; output: string } => {
  const results = messages.filter((m): m is ChatCompletionToolMessageParam => m.role === 'tool');
  const [first, ...rest] = String(results[results.length - back]!.content).split('\n');
  return { status: JSON.parse(first!) as Record<string, any>, output: rest.join('\n') };
};

/** What the model "answers" on its turn-th call, from the transcript it is sent. */
function scriptedReply(messages: ChatCompletionMessageParam[], turn: number): ChatCompletionMessage {
  const calls = (...tool_calls: ChatCompletionMessageToolCall[]): ChatCompletionMessage => ({ role: 'assistant', content: null, refusal: null, tool_calls });
  switch (turn) {
    case 0: // two commands at once: a slow "test suite" (timeout_ms 0: no timeout) and a quick one
      return calls(
        toolCall('bg_start', { command: 'for i in 1 2 3; do echo "test $i ok"; sleep 0.2; done; echo "3 passed"', timeout_ms: 0, wait_ms: 100 }),
        toolCall('bg_start', { command: 'echo node $(node --version)', env: [{ name: 'LC_ALL', value: 'C' }], wait_ms: 2000 }),
      );
    case 1: // a mistake: the tool answers with what to fix
      return calls(toolCall('bg_read', { task_id: 'no-such-task' }));
    case 2: // the right call: wait for the suite instead of polling
      return calls(toolCall('bg_wait', { task_ids: [toolResult(messages, 3).status.task_id], timeout_ms: 10_000 }));
    case 3:
      return calls(toolCall('bg_read', { task_id: toolResult(messages).status.task_id, tail_lines: 1, cursor: 0 }));
    default: {
      const last = toolResult(messages).output.trim().split('\n').pop();
      return { role: 'assistant', content: `The test suite finished: ${last}.`, refusal: null };
    }
  }
}

/** A `fetch` for the OpenAI client that never touches the network: the scripted model answers. */
let turns = 0;
async function scriptedFetch(_url: string | URL | Request, init?: RequestInit): Promise<Response> {
  // The request the SDK built (JSON.parse gives `any`; the annotation names what it is).
  const body: ChatCompletionCreateParamsNonStreaming = JSON.parse(String(init?.body));
  sentTools = (body.tools ?? []).flatMap((t) => (t.type === 'function' ? [t] : []));
  if (turns === 0) console.log(`request: model=${body.model}, tools=${sentTools.map((t) => `${t.function.name}${t.function.strict ? '(strict)' : ''}`).join(',')}`);
  const message = scriptedReply(body.messages, turns++);
  const completion: ChatCompletion = {
    id: `chatcmpl-${turns}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop', logprobs: null }],
  };
  return new Response(JSON.stringify(completion), { status: 200, headers: { 'content-type': 'application/json' } });
}

// ---------------------------------------------------------------- the loop

const client = new OpenAI({ apiKey: process.env.OPENAI_API_KEY ?? 'offline', fetch: scriptedFetch });
const executor = new BackgroundExecutor();
await executor.start();
const session = 'openai-demo';
const tools = createAgentTools(executor, { session, maxOutputChars: 4096, strict: true });
const openaiTools: ChatCompletionFunctionTool[] = toOpenAIChatTools(tools);
console.log(`tools: ${openaiTools.map((t) => t.function.name).join(', ')}`);
console.log(`bg_read parameters: ${Object.keys(openaiTools[1]!.function.parameters?.properties ?? {}).join(', ')}\n`);

const messages: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You can run shell commands in the background with the bg_* tools.' },
  { role: 'user', content: 'Run the test suite and tell me the result.' },
];
for (let turn = 0; turn < 10; turn++) {
  // Between turns, a framework injects the completions the model has not heard of yet.
  const notices = await completionNotices(executor, session);
  if (notices.text) {
    messages.push({ role: 'user', content: notices.text });
    console.log(`[notice] ${notices.text.trim().replace(/\n/g, '\n         ')}`);
  }
  const completion = await client.chat.completions.create({ model: 'gpt-4.1-mini', messages, tools: openaiTools });
  const reply = completion.choices[0]!.message;
  messages.push(reply);
  if (!reply.tool_calls?.length) {
    console.log(`assistant: ${reply.content}`);
    break;
  }
  for (const c of reply.tool_calls) if (c.type === 'function') console.log(`assistant → ${c.function.name}(${c.function.arguments})`);
  for (const m of await dispatch(tools, reply.tool_calls)) {
    messages.push(m);
    const text = String(m.content);
    console.log(`tool ${m.tool_call_id} ← ${text.length > 300 ? `${text.slice(0, 300)}…` : text}`);
  }
}
await executor.shutdown();

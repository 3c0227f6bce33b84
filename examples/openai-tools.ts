// bgexec agent tools with OpenAI function calling — without the `openai` package.
//
//   npx tsx examples/openai-tools.ts
//
// 1. `toOpenAITools()` turns createAgentTools() into the `tools` array of the Chat Completions
//    API ({ type: 'function', function: { name, description, parameters } }). The Responses API
//    takes the same fields flattened: { type: 'function', name, description, parameters }.
// 2. `dispatch()` runs the `tool_calls` of an assistant message and returns the `role: 'tool'`
//    messages to append. Bad JSON or bad arguments come back as tool messages the model can fix.
// 3. A scripted stand-in for the model drives a short tool-call loop, printed as a transcript.
//    With the real SDK you would call `client.chat.completions.create({ model, messages, tools })`
//    where `nextAssistantMessage()` is called below.
import { completionNotices, createAgentTools, type AgentTool } from '../src/agent/index.js';
import { BackgroundExecutor } from '../src/index.js';

// The minimal slice of the Chat Completions types used here.
interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}
type Message =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** Chat Completions `tools` entries. `strict` stays off: optional parameters are really optional. */
export function toOpenAITools(tools: AgentTool[]) {
  return tools.map((t) => ({
    type: 'function' as const,
    function: { name: t.name, description: t.description, parameters: t.inputSchema },
  }));
}

/** Runs every tool call of an assistant message (in parallel) and returns the tool messages. */
export async function dispatch(tools: AgentTool[], calls: ToolCall[], signal?: AbortSignal): Promise<Message[]> {
  const byName = new Map(tools.map((t) => [t.name as string, t]));
  return Promise.all(
    calls.map(async (call): Promise<Message> => {
      const tool = byName.get(call.function.name);
      let content: string;
      if (!tool) content = JSON.stringify({ ok: false, error: 'unknown_tool', message: `No tool ${call.function.name}.` });
      else {
        let args: unknown;
        try {
          args = JSON.parse(call.function.arguments || '{}');
        } catch {
          args = undefined;
        }
        content =
          args === undefined
            ? JSON.stringify({ ok: false, error: 'invalid_input', message: 'arguments are not valid JSON; send a JSON object.' })
            : JSON.stringify(await tool.handler(args, signal ? { signal } : {}));
      }
      return { role: 'tool', tool_call_id: call.id, content };
    }),
  );
}

// ---------------------------------------------------------------- a scripted "model"

let callNo = 0;
const toolCall = (name: string, args: object): ToolCall => ({ id: `call_${++callNo}`, type: 'function', function: { name, arguments: JSON.stringify(args) } });
const lastJson = (messages: Message[], back = 1): Record<string, any> => {
  const tools = messages.filter((m): m is Extract<Message, { role: 'tool' }> => m.role === 'tool');
  return JSON.parse(tools[tools.length - back]!.content) as Record<string, any>;
};

/** Stands in for `client.chat.completions.create(...)`: decides the next step from the transcript. */
function nextAssistantMessage(messages: Message[], turn: number): Extract<Message, { role: 'assistant' }> {
  switch (turn) {
    case 0: // two commands at once: a slow "test suite" and a quick one
      return {
        role: 'assistant',
        content: null,
        tool_calls: [
          toolCall('bg_start', { command: 'for i in 1 2 3; do echo "test $i ok"; sleep 0.2; done; echo "3 passed"', wait_ms: 100 }),
          toolCall('bg_start', { command: 'echo node $(node --version)', wait_ms: 2000 }),
        ],
      };
    case 1: // a mistake: the tool answers with what to fix
      return { role: 'assistant', content: null, tool_calls: [toolCall('bg_wait', { task_ids: lastJson(messages, 2).task_id })] };
    case 2: // the right call: wait for the suite instead of polling
      return { role: 'assistant', content: null, tool_calls: [toolCall('bg_wait', { task_ids: [lastJson(messages, 3).task_id], timeout_ms: 10_000 })] };
    case 3:
      return { role: 'assistant', content: null, tool_calls: [toolCall('bg_read', { task_id: lastJson(messages).task_id, tail_lines: 1, cursor: 0 })] };
    default:
      return { role: 'assistant', content: `The test suite finished: ${String(lastJson(messages).text).trim()}.` };
  }
}

// ---------------------------------------------------------------- the loop

const executor = new BackgroundExecutor();
await executor.start();
const session = 'openai-demo';
const tools = createAgentTools(executor, { session, maxOutputBytes: 4096 });
const openaiTools = toOpenAITools(tools);
console.log(`tools: ${openaiTools.map((t) => t.function.name).join(', ')}`);
console.log(`bg_read parameters: ${JSON.stringify(openaiTools[1]!.function.parameters.properties)}`.slice(0, 160) + '…\n');

const messages: Message[] = [
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
  const reply = nextAssistantMessage(messages, turn);
  messages.push(reply);
  if (!reply.tool_calls?.length) {
    console.log(`assistant: ${reply.content}`);
    break;
  }
  for (const c of reply.tool_calls) console.log(`assistant → ${c.function.name}(${c.function.arguments})`);
  for (const m of await dispatch(tools, reply.tool_calls)) {
    messages.push(m);
    if (m.role === 'tool') console.log(`tool ${m.tool_call_id} ← ${m.content.length > 300 ? `${m.content.slice(0, 300)}…` : m.content}`);
  }
}
await executor.shutdown();

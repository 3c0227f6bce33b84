// bgexec agent tools in the Vercel AI SDK (`ai` 6), with its own `tool()` and `jsonSchema()`.
//
//   npm run build && npx tsx examples/vercel-ai-tools.ts      (needs `npm install ai`)
//
// 1. `toVercelTools()` turns createAgentTools() into the `tools` record of `generateText` /
//    `streamText`. The JSON Schemas are passed as they are (`jsonSchema()`); the handlers
//    validate their input themselves and answer bad input with a message for the model.
// 2. Part one calls the tools' `execute` the way the SDK does for each tool call (a toolCallId,
//    the messages, the step's abort signal): a dev server started, awaited by pattern, killed;
//    a wait aborted by the framework; a completion notice between steps.
// 3. Part two lets the SDK itself run a tool loop: `generateText` with `stopWhen: stepCountIs(5)`
//    and a scripted model (`MockLanguageModelV3` from `ai/test`, so it runs offline). With a real
//    provider you pass e.g. `model: openai('gpt-4.1')` and nothing else changes.
import { generateText, jsonSchema, stepCountIs, tool, type JSONSchema7, type ToolSet } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { BackgroundExecutor } from 'bgexec';
import { completionNotices, createAgentTools, type AgentTool, type AgentToolResult } from 'bgexec/agent';

/** A `tools` record for `generateText` / `streamText`. */
export function toVercelTools(tools: AgentTool[]): ToolSet {
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      tool<unknown, AgentToolResult>({
        description: t.description,
        inputSchema: jsonSchema<unknown>(t.inputSchema as JSONSchema7),
        // Errors for the model (bad input, unknown ids) come back as results with ok: false;
        // only an aborted bg_wait rejects, which the SDK reports as a tool error.
        execute: (input, { abortSignal }) => t.handler(input, abortSignal ? { signal: abortSignal } : {}),
      }),
    ]),
  );
}

const executor = new BackgroundExecutor();
await executor.start();
const session = 'vercel-demo';
const tools = toVercelTools(createAgentTools(executor, { session, maxOutputBytes: 2048 }));
console.log(`tools: ${Object.keys(tools).join(', ')}`);
const waitSchema = (await tools.bg_wait!.inputSchema as { jsonSchema: JSONSchema7 }).jsonSchema;
console.log(`bg_wait input schema: ${JSON.stringify(waitSchema.required)} required\n`);

// ---------------------------------------------------------------- part one: execute, as the SDK does

let n = 0;
/** What the SDK does for each tool call the model makes. */
async function runToolCall(toolName: string, input: unknown, abortSignal?: AbortSignal): Promise<Record<string, any>> {
  const toolCallId = `call_${++n}`;
  console.log(`model → ${toolName}(${JSON.stringify(input)})`);
  try {
    const result = await tools[toolName]!.execute!(input, { toolCallId, messages: [], ...(abortSignal ? { abortSignal } : {}) });
    const text = JSON.stringify(result);
    console.log(`tool  ← ${text.length > 240 ? `${text.slice(0, 240)}…` : text}`);
    return result as Record<string, any>;
  } catch (err) {
    // An aborted bg_wait rejects with an error named AbortError (the SDK reports a tool error).
    console.log(`tool  ✗ ${(err as Error).name}: ${(err as Error).message}`);
    return { ok: false };
  }
}

// A dev server: start it, wait until it says it is listening, use it, stop it.
const server = await runToolCall('bg_start', { command: 'sleep 0.3; echo "listening on http://localhost:4321"; sleep 30', wait_ms: 0 });
const ready = await runToolCall('bg_wait', { task_ids: [server.task_id], timeout_ms: 5000, until: 'pattern', pattern: 'listening on' });
console.log(`   (server ready: ${ready.outcome === 'matched'})`);
await runToolCall('bg_start', { command: 'echo "GET / -> 200"', wait_ms: 2000 });
await runToolCall('bg_kill', { task_id: server.task_id, grace_ms: 1000 });

// The framework aborts a step (user pressed stop): the pending bg_wait ends, the task does not.
const slow = await runToolCall('bg_start', { command: 'sleep 0.5; echo slow done', wait_ms: 0 });
const stop = new AbortController();
setTimeout(() => stop.abort(), 100);
await runToolCall('bg_wait', { task_ids: [slow.task_id], timeout_ms: 60_000 }, stop.signal);
const slowDone = await executor.wait(slow.task_id);
console.log(`   (the task went on after the aborted wait: ${slowDone.status})`);

// Between steps, unreported completions are injected as a message.
const notices = await completionNotices(executor, session);
console.log(`\n[notice for the next step]\n${notices.text}`);
await runToolCall('bg_list', {});

// ---------------------------------------------------------------- part two: generateText runs the loop

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 10, text: 10, reasoning: undefined },
};
const model = new MockLanguageModelV3({
  // Called once per step with the whole prompt, tool results included.
  doGenerate: async ({ prompt }) => {
    const last = prompt[prompt.length - 1]!;
    if (last.role !== 'tool') {
      // Step 1: the model asks for a command and gives it up to 2 s to finish.
      const input = JSON.stringify({ command: 'echo "6 tests, 0 failures"', wait_ms: 2000 });
      return {
        content: [{ type: 'tool-call', toolCallId: 'gen_1', toolName: 'bg_start', input }],
        finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
        usage,
        warnings: [],
      };
    }
    // Step 2: it reads the tool result the SDK sent back and answers.
    const part = last.content[0]!;
    const result = part.type === 'tool-result' && part.output.type === 'json' ? (part.output.value as Record<string, any>) : {};
    const text = `The command ${result.status} and printed: ${String(result.stdout?.text ?? '').trim()}`;
    return { content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
  },
});

const gen = await generateText({ model, tools, stopWhen: stepCountIs(5), prompt: 'Run the tests and tell me how they went.' });
console.log('\ngenerateText:');
for (const [i, step] of gen.steps.entries()) {
  for (const c of step.toolCalls) console.log(`  step ${i + 1}: tool call ${c.toolName}(${JSON.stringify(c.input)})`);
  for (const r of step.toolResults) console.log(`  step ${i + 1}: tool result status=${(r.output as AgentToolResult & { status?: string }).status}`);
}
console.log(`  answer: ${gen.text}`);
await executor.shutdown();

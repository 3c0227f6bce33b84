// bgexec agent tools in the Vercel AI SDK (`ai` 6), with its own `tool()` and `jsonSchema()`.
//
//   npx tsx examples/vercel-ai-tools.ts      (needs `npm install ai`)
//
// 1. `toVercelTools()` turns createAgentTools() into the `tools` record of `generateText` /
//    `streamText`: `jsonSchema(toolParameters(t))` passes each JSON Schema as it is (no cast:
//    `toolParameters()` returns a plain object `jsonSchema()` accepts); `execute` returns
//    `tool.call()`, and `toModelOutput` hands the model its content items: the status as JSON,
//    then the output as plain text. The handlers validate their input themselves and answer bad
//    input with a message for the model.
// 2. Part one calls the tools' `execute` the way the SDK does for each tool call (a toolCallId,
//    the messages, the step's abort signal): a dev server started, awaited by pattern, killed;
//    a wait aborted by the framework; a completion notice between steps.
// 3. Part two lets the SDK itself run a tool loop, bg_start → bg_wait → bg_read: `generateText`
//    with `stopWhen: stepCountIs(6)` and a scripted model (`MockLanguageModelV3` from `ai/test`,
//    so it runs offline). With a real provider you pass e.g. `model: openai('gpt-4.1')` and
//    nothing else changes.
import { asSchema, generateText, jsonSchema, stepCountIs, tool, type ToolSet } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { BackgroundExecutor } from 'bgexec';
import { completionNotices, createAgentTools, toolParameters, type AgentTool, type AgentToolOutput } from 'bgexec/agent';

/** A `tools` record for `generateText` / `streamText`. */
export function toVercelTools(tools: AgentTool[]): ToolSet {
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      tool<unknown, AgentToolOutput>({
        description: t.description,
        inputSchema: jsonSchema<unknown>(toolParameters(t)),
        // Errors for the model (bad input, unknown ids) come back as results with ok: false;
        // only an aborted bg_wait rejects, which the SDK reports as a tool error.
        execute: (input, { abortSignal }) => t.call(input, abortSignal ? { signal: abortSignal } : {}),
        // The model reads the status JSON and the output as plain text, not one escaped JSON blob.
        toModelOutput: ({ output }) => ({ type: 'content', value: output.content }),
      }),
    ]),
  );
}

const executor = new BackgroundExecutor();
await executor.start();
const session = 'vercel-demo';
const tools = toVercelTools(createAgentTools(executor, { session, maxOutputChars: 2048 }));
console.log(`tools: ${Object.keys(tools).join(', ')}`);
const waitSchema = await asSchema(tools.bg_wait!.inputSchema).jsonSchema;
console.log(`bg_wait input schema: ${JSON.stringify(waitSchema.required)} required\n`);

// ---------------------------------------------------------------- part one: execute, as the SDK does

let n = 0;
/** What the SDK does for each tool call the model makes. */
async function runToolCall(toolName: string, input: unknown, abortSignal?: AbortSignal): Promise<Record<string, any>> {
  const toolCallId = `call_${++n}`;
  console.log(`model → ${toolName}(${JSON.stringify(input)})`);
  try {
    const output: AgentToolOutput = await tools[toolName]!.execute!(input, { toolCallId, messages: [], ...(abortSignal ? { abortSignal } : {}) });
    const text = JSON.stringify(output.result);
    console.log(`tool  ← ${text.length > 240 ? `${text.slice(0, 240)}…` : text}`);
    return output.result;
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
/** The tool results the SDK sent back so far, as the text items the model reads. */
type Texts = string[];
let calls = 0;
const model = new MockLanguageModelV3({
  // Called once per step with the whole prompt, tool results included.
  doGenerate: async ({ prompt }) => {
    const results: Texts[] = prompt.flatMap((m) =>
      m.role === 'tool'
        ? m.content.flatMap((p) => (p.type === 'tool-result' && p.output.type === 'content' ? [p.output.value.flatMap((v) => (v.type === 'text' ? [v.text] : []))] : []))
        : [],
    );
    const taskId = results[0] ? String((JSON.parse(results[0][0]!) as { task_id?: string }).task_id) : '';
    const toolCall = (toolName: string, args: object) => ({
      content: [{ type: 'tool-call' as const, toolCallId: `gen_${++calls}`, toolName, input: JSON.stringify(args) }],
      finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
      usage,
      warnings: [],
    });
    switch (results.length) {
      case 0: // start the suite and go on at once
        return toolCall('bg_start', { command: 'echo "6 tests"; sleep 0.3; echo "0 failures"', wait_ms: 0 });
      case 1: // block until it exits
        return toolCall('bg_wait', { task_ids: [taskId], timeout_ms: 10_000 });
      case 2: // read it from the start
        return toolCall('bg_read', { task_id: taskId, cursor: 0 });
      default: {
        // The output arrives as its own plain-text item under a header line.
        const output = results[2]![1]!.split('\n').slice(1).join(', ').replace(/, $/, '');
        return { content: [{ type: 'text', text: `The tests printed: ${output}` }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
      }
    }
  },
});

const gen = await generateText({ model, tools, stopWhen: stepCountIs(6), prompt: 'Run the tests and tell me how they went.' });
console.log('\ngenerateText:');
for (const [i, step] of gen.steps.entries()) {
  for (const c of step.toolCalls) console.log(`  step ${i + 1}: tool call ${c.toolName}(${JSON.stringify(c.input)})`);
  for (const r of step.toolResults) {
    const out: AgentToolOutput = r.output;
    console.log(`  step ${i + 1}: tool result ${out.text.split('\n')[0]!.slice(0, 120)}`);
  }
}
console.log(`  answer: ${gen.text}`);
await executor.shutdown();

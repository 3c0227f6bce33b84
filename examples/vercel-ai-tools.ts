// bgexec agent tools in the shape the Vercel AI SDK expects — written without installing `ai`.
//
//   npx tsx examples/vercel-ai-tools.ts
//
// With the SDK installed you would write (AI SDK 5):
//
//   import { generateText, jsonSchema, tool } from 'ai';
//   const tools = Object.fromEntries(createAgentTools(executor, { session }).map((t) => [t.name, tool({
//     description: t.description,
//     inputSchema: jsonSchema(t.inputSchema),          // AI SDK 4 calls this field `parameters`
//     execute: (input, { abortSignal }) => t.handler(input, { signal: abortSignal }),
//   })]));
//   await generateText({ model, tools, stopWhen: stepCountIs(10), messages });
//
// To stay dependency-free, this file defines the few types and the `jsonSchema()` helper it needs
// locally (same names and fields as in `ai`), builds the tools record, and then executes tool calls
// the way the SDK does (validate the input with the schema, call execute with a toolCallId and the
// abort signal), printing a short transcript.
import { completionNotices, createAgentTools, type AgentTool, type AgentToolResult, type JsonSchema } from '../src/agent/index.js';
import { BackgroundExecutor } from '../src/index.js';

// ---------------------------------------------------------------- minimal stand-ins for `ai`

/** `ai`'s Schema: a JSON Schema plus an optional validator (what `jsonSchema()` returns). */
interface Schema<T> {
  readonly jsonSchema: JsonSchema;
  validate?(value: unknown): { success: true; value: T } | { success: false; error: Error };
}
/** `ai`'s ToolCallOptions / ToolExecutionOptions (the second argument of `execute`). */
interface ToolExecutionOptions {
  toolCallId: string;
  messages: unknown[];
  abortSignal?: AbortSignal;
}
/** `ai`'s Tool, reduced to the fields used here. */
interface Tool<I = unknown, O = unknown> {
  description?: string;
  inputSchema: Schema<I>;
  /** AI SDK 4 name of `inputSchema`; set too so either version accepts the object. */
  parameters: Schema<I>;
  execute(input: I, options: ToolExecutionOptions): Promise<O>;
}
/** Same contract as `jsonSchema()` from `ai`: wraps a JSON Schema. Our handlers validate, so no validator is needed. */
function jsonSchema<T>(schema: JsonSchema): Schema<T> {
  return { jsonSchema: schema };
}

// ---------------------------------------------------------------- the adapter

/** A `tools` record for `generateText` / `streamText`. */
export function toVercelTools(tools: AgentTool[]): Record<string, Tool<unknown, AgentToolResult>> {
  return Object.fromEntries(
    tools.map((t) => {
      const schema = jsonSchema<unknown>(t.inputSchema);
      const vercelTool: Tool<unknown, AgentToolResult> = {
        description: t.description,
        inputSchema: schema,
        parameters: schema,
        // Errors for the model (bad input, unknown ids) come back as results with ok: false;
        // only an aborted bg_wait rejects, which the SDK reports as a tool error.
        execute: (input, { abortSignal }) => t.handler(input, abortSignal ? { signal: abortSignal } : {}),
      };
      return [t.name, vercelTool];
    }),
  );
}

// ---------------------------------------------------------------- a simulated run

const executor = new BackgroundExecutor();
await executor.start();
const session = 'vercel-demo';
const tools = toVercelTools(createAgentTools(executor, { session, maxOutputBytes: 2048 }));
console.log(`tools: ${Object.keys(tools).join(', ')}`);
console.log(`bg_wait input schema: ${JSON.stringify(tools.bg_wait!.inputSchema.jsonSchema.required)} required\n`);

let n = 0;
/** What the SDK does for each tool call the model makes. */
async function runToolCall(toolName: string, input: unknown, abortSignal?: AbortSignal): Promise<Record<string, any>> {
  const toolCallId = `call_${++n}`;
  console.log(`model → ${toolName}(${JSON.stringify(input)})`);
  try {
    const result = await tools[toolName]!.execute(input, { toolCallId, messages: [], ...(abortSignal ? { abortSignal } : {}) });
    const text = JSON.stringify(result);
    console.log(`tool  ← ${text.length > 240 ? `${text.slice(0, 240)}…` : text}`);
    return result as Record<string, any>;
  } catch (err) {
    console.log(`tool  ✗ ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
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
await executor.wait(slow.task_id);

// Between steps, unreported completions are injected as a message.
const notices = await completionNotices(executor, session);
console.log(`\n[notice for the next step]\n${notices.text}`);
await runToolCall('bg_list', {});
await executor.shutdown();

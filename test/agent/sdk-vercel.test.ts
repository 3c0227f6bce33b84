// The Vercel AI SDK (`ai`): the bg_* tools wrapped with its own `tool()` and `jsonSchema()`, and
// `generateText` with the SDK's mock language model running bg_start → bg_wait → bg_read on a
// real command. The mock sees what a provider would: the tools' schemas and the tool results.
import { generateText, jsonSchema, stepCountIs, tool, type ToolSet } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { createAgentTools, toolParameters, type AgentTool, type AgentToolOutput } from '../../src/agent/index.js';
import { strictArgs, strictProblems } from './_openai-fake.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

/** The recipe of docs/agent-tools.md. */
function toVercelTools(tools: AgentTool[]): ToolSet {
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      tool<unknown, AgentToolOutput>({
        description: t.description,
        inputSchema: jsonSchema<unknown>(toolParameters(t)),
        execute: (input, { abortSignal }) => t.call(input, abortSignal ? { signal: abortSignal } : {}),
        toModelOutput: ({ output }) => ({ type: 'content', value: output.content }),
      }),
    ]),
  );
}

const usage = {
  inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 1, text: 1, reasoning: undefined },
};

describe('ai (Vercel AI SDK)', () => {
  it('generateText runs bg_start → bg_wait → bg_read with strict tools and the model reads the real output', async () => {
    ex = new BackgroundExecutor({ outputPollMs: 20 });
    await ex.start();
    const tools = toVercelTools(createAgentTools(ex, { session: 'sdk-vercel', strict: true }));
    const seenSchemas = new Map<string, Record<string, unknown>>();
    const model = new MockLanguageModelV3({
      doGenerate: async ({ prompt, tools: offered }) => {
        for (const t of offered ?? []) if (t.type === 'function') seenSchemas.set(t.name, { ...t.inputSchema });
        // Every tool result so far, as the text items the model was given.
        const results = prompt.flatMap((m) =>
          m.role === 'tool'
            ? m.content.flatMap((p) => (p.type === 'tool-result' && p.output.type === 'content' ? [p.output.value.flatMap((v) => (v.type === 'text' ? [v.text] : []))] : []))
            : [],
        );
        const id = results[0] ? String((JSON.parse(results[0][0]!) as { task_id: string }).task_id) : '';
        const steps: [string, Record<string, unknown>][] = [
          ['bg_start', { command: 'echo "$GREETING from bgexec"; sleep 0.4; echo second line', env: [{ name: 'GREETING', value: 'hello' }], timeout_ms: 0, wait_ms: 0 }],
          ['bg_wait', { task_ids: [id], timeout_ms: 10_000 }],
          ['bg_read', { task_id: id, cursor: 0, grep: '', tail_lines: 0 }],
        ];
        const next = steps[results.length];
        if (next) {
          const input = JSON.stringify(strictArgs(seenSchemas.get(next[0]), next[1]));
          return { content: [{ type: 'tool-call', toolCallId: `c${results.length}`, toolName: next[0], input }], finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage, warnings: [] };
        }
        return { content: [{ type: 'text', text: results[2]!.slice(1).join('\n') }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] };
      },
    });

    const gen = await generateText({ model, tools, stopWhen: stepCountIs(6), prompt: 'Say hello from a background task.' });

    expect(gen.steps.flatMap((s) => s.toolCalls.map((c) => c.toolName))).toEqual(['bg_start', 'bg_wait', 'bg_read']);
    const outputs: AgentToolOutput[] = gen.steps.flatMap((s) => s.toolResults.map((r) => r.output));
    expect(outputs.map((o) => o.isError)).toEqual([false, false, false]);
    // timeout_ms: 0 from a strict model is no timeout: the 0.4 s command ran to its end.
    expect(outputs[1]!.result).toMatchObject({ outcome: 'exited', status: 'completed', exit_code: 0 });
    expect(gen.text).toMatch(/^--- stdout, bytes 0\.\.\d+ of \d+ ---\nhello from bgexec\nsecond line\n?$/);
    // What the provider would send: the schemas exactly as the tools declare them, strict subset.
    expect([...seenSchemas.keys()]).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
    for (const [name, schema] of seenSchemas) expect(strictProblems(schema), name).toEqual([]);
  });
});

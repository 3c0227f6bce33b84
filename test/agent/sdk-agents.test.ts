// The OpenAI Agents SDK (`@openai/agents`): every bg_* tool wrapped by the SDK's own `tool()` in
// strict mode, and a real run (`run()` with the SDK's own OpenAI provider, Responses API, over
// the real `openai` client) against a local fake of the API: bg_start → bg_wait → bg_read on a real command.
// examples/openai-agents-tools.ts does the same with a scripted `Model` (test/examples.test.ts).
import { Agent, OpenAIProvider, run, setTracingDisabled, tool } from '@openai/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { createAgentTools, toolParameters } from '../../src/agent/index.js';
import { fakeExecutor } from '../helpers.js';
import { startFakeOpenAI, startWaitRead, statusOf, strictProblems, type FakeOpenAI } from './_openai-fake.js';

let ex: BackgroundExecutor | undefined;
let api: FakeOpenAI | undefined;
afterEach(async () => {
  await ex?.shutdown();
  await api?.close();
  ex = api = undefined;
});

setTracingDisabled(true); // nothing leaves the machine

describe('@openai/agents', () => {
  it('tool() in strict mode takes every tool schema as it is', () => {
    const { ex: fake } = fakeExecutor();
    for (const t of createAgentTools(fake, { strict: true })) {
      const wrapped = tool({ name: t.name, description: t.description, parameters: toolParameters(t), strict: true, execute: async (input) => (await t.call(input)).text });
      expect(wrapped).toMatchObject({ type: 'function', name: t.name, strict: true });
      expect(wrapped.parameters).toEqual(toolParameters(t));
      expect(strictProblems(wrapped.parameters), t.name).toEqual([]);
    }
  });

  it('run() calls the wrapped tools: bg_start → bg_wait → bg_read on a real command', async () => {
    ex = new BackgroundExecutor({ outputPollMs: 20 });
    await ex.start();
    api = await startFakeOpenAI(startWaitRead);
    const tools = createAgentTools(ex, { session: 'sdk-agents', strict: true });
    const results: { name: string; text: string }[] = [];
    const agent = new Agent({
      name: 'Runner',
      instructions: 'Run shell commands with the bg_* tools.',
      model: await new OpenAIProvider({ apiKey: 'test-key', baseURL: api.baseURL, useResponses: true }).getModel('gpt-4.1-mini'),
      tools: tools.map((t) =>
        tool({
          name: t.name,
          description: t.description,
          parameters: toolParameters(t),
          strict: true,
          execute: async (input) => {
            const { text } = await t.call(input);
            results.push({ name: t.name, text });
            return text;
          },
        }),
      ),
    });
    const result = await run(agent, 'Say hello from a background task.', { maxTurns: 8 });

    expect(results.map((r) => r.name)).toEqual(['bg_start', 'bg_wait', 'bg_read']);
    // timeout_ms: 0 from a strict model means no timeout: the 0.4 s command is not killed.
    expect(statusOf(results[1]!.text)).toMatchObject({ outcome: 'exited', status: 'completed', exit_code: 0 });
    expect(results[2]!.text).toContain('hello from bgexec\nsecond line');
    expect(result.finalOutput).toContain('hello from bgexec');
    // What the SDK sent: all six tools, strict, with schemas in the strict subset.
    const sent = api.requests[0]!.body.tools as { name: string; strict: boolean; parameters: Record<string, any> }[];
    expect(sent.map((t) => [t.name, t.strict])).toEqual(tools.map((t) => [t.name, true]));
    for (const t of sent) expect(strictProblems(t.parameters), t.name).toEqual([]);
    // The SDK handed the tool's text back to the model.
    expect(JSON.stringify(api.requests[3]!.body.input)).toContain('hello from bgexec');
  });
});

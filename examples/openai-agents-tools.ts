// bgexec agent tools in the OpenAI Agents SDK (`@openai/agents`), in strict mode.
//
//   npx tsx examples/openai-agents-tools.ts      (needs `npm install @openai/agents`)
//
// 1. `toAgentsTools()` wraps each tool with the SDK's own `tool()`: `strict: true` and the
//    tool's JSON Schema as `parameters` (`toolParameters()` gives it in the shape `tool()` takes).
//    Create the tools with `createAgentTools(executor, { strict: true })`: strict mode needs
//    every property required and the optional ones nullable, which that option provides.
// 2. `execute` returns `tool.call(input).text`: the status as JSON, then the output as plain text.
// 3. `run()` drives the loop. So that it runs offline and without an API key, the agent's model
//    here is a scripted `Model` that calls bg_start → bg_wait → bg_read and then answers, as a
//    strict-mode model would (every property sent, null for the ones it does not choose).
//    Delete the `model` option (and set OPENAI_API_KEY) to use a real one.
import { Agent, run, setTracingDisabled, tool, Usage, type Model, type ModelRequest, type ModelResponse, type StreamEvent, type Tool } from '@openai/agents';
import { BackgroundExecutor } from 'bgexec';
import { createAgentTools, toolParameters, type AgentTool } from 'bgexec/agent';

/** The bg_* tools as Agents SDK tools, in strict mode. The tools must be created with `strict: true`. */
export function toAgentsTools(tools: AgentTool[]): Tool[] {
  return tools.map((t) => {
    if (!t.strict) throw new Error(`${t.name}: create the tools with createAgentTools(executor, { strict: true })`);
    return tool({
      name: t.name,
      description: t.description,
      parameters: toolParameters(t),
      strict: true,
      // Bad input and unknown ids come back as results the model can act on, not as exceptions.
      execute: async (input) => (await t.call(input)).text,
    });
  });
}

// ---------------------------------------------------------------- a scripted "model"

/** The status JSON of a tool result (its first line). */
const statusOf = (text: string): Record<string, unknown> => JSON.parse(text.split('\n')[0]!) as Record<string, unknown>;

class ScriptedModel implements Model {
  private turn = 0;

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    if (this.turn++ === 0) {
      const shown = request.tools.map((t) => (t.type === 'function' ? `${t.name}${t.strict ? ' (strict)' : ''}` : t.type));
      console.log(`tools sent to the model: ${shown.join(', ')}`);
    }
    // The tool results so far, as the SDK hands them back to the model.
    const items = typeof request.input === 'string' ? [] : request.input;
    const results = items.flatMap((i) => (i.type === 'function_call_result' ? [typeof i.output === 'string' ? i.output : 'text' in i.output ? i.output.text : ''] : []));
    const last = results[results.length - 1];
    if (last !== undefined) console.log(`tool  ← ${last.split('\n')[0]}`);
    const taskId = results[0] === undefined ? '' : String(statusOf(results[0]).task_id);
    const call = (name: string, args: object): ModelResponse => {
      console.log(`model → ${name}(${JSON.stringify(args)})`);
      return { usage: new Usage(), output: [{ type: 'function_call', callId: `call_${this.turn}`, name, arguments: JSON.stringify(args), status: 'completed' }] };
    };
    switch (results.length) {
      case 0:
        return call('bg_start', { command: 'for i in 1 2 3; do echo "test $i ok"; sleep 0.1; done; echo "3 passed"', cwd: null, env: null, timeout_ms: 0, priority: null, wait_ms: 0 });
      case 1:
        return call('bg_wait', { task_ids: [taskId], timeout_ms: 10_000, until: null, pattern: null, stream: null, cursor: null });
      case 2:
        return call('bg_read', { task_id: taskId, cursor: null, max_chars: null, tail_lines: 1, grep: null, stream: null, raw: null });
      default: {
        const text = `The tests finished: ${last!.split('\n').slice(2).join(' ').trim()}`;
        return { usage: new Usage(), output: [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text }] }] };
      }
    }
  }

  // eslint-disable-next-line require-yield
  async *getStreamedResponse(): AsyncIterable<StreamEvent> {
    throw new Error('this example does not stream');
  }
}

// ---------------------------------------------------------------- the run

setTracingDisabled(true); // no trace upload from an offline example
const executor = new BackgroundExecutor();
await executor.start();
const tools = createAgentTools(executor, { session: 'agents-demo', strict: true });
const agent = new Agent({
  name: 'Runner',
  instructions: 'You run shell commands in the background with the bg_* tools.',
  model: new ScriptedModel(),
  tools: toAgentsTools(tools),
});
const result = await run(agent, 'Run the test suite and tell me the result.', { maxTurns: 8 });
console.log(`final output: ${result.finalOutput}`);
await executor.shutdown();

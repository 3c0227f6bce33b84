// Prints a start → read → wait → read transcript of the agent tools, with a small output budget
// (1024 characters) so capping is visible. docs/agent-tools.md shows one run of it.
//
//   npm run build && npx tsx examples/agent-transcript.ts
import { BackgroundExecutor } from 'bgexec';
import { createAgentTools, type AgentToolName } from 'bgexec/agent';

const executor = new BackgroundExecutor();
await executor.start();
const tools = new Map(createAgentTools(executor, { session: 'demo', maxOutputChars: 1024 }).map((t) => [t.name, t]));

async function step(name: AgentToolName, input: Record<string, unknown>): Promise<Record<string, any>> {
  console.log(`→ ${name} ${JSON.stringify(input)}`);
  const result = (await tools.get(name)!.handler(input)) as Record<string, any>;
  console.log(`← ${JSON.stringify(result, null, 2)}\n`);
  return result;
}

// A "build": 400 lines at once, a pause, a warning on stderr, then three slow test lines.
const command = [
  'for i in $(seq 1 400); do echo "compiling module $i"; done',
  'sleep 1',
  'echo "warning: deprecated API" >&2',
  'for i in 1 2 3; do echo "test $i passed"; sleep 0.3; done',
  'echo "done: 3 passed"',
].join('; ');

const started = await step('bg_start', { command, wait_ms: 300 });
const id = started.task_id as string;
await step('bg_read', { task_id: id, max_chars: 512 });
await step('bg_wait', { task_ids: [id], timeout_ms: 10_000 });
await step('bg_read', { task_id: id, cursor: 0, grep: 'passed|warning' });
await executor.shutdown();

import { BackgroundExecutor } from '../../src/executor.js';
import { createAgentTools } from '../../src/agent/index.js';
import type { AgentTool, AgentToolName, AgentToolsOptions } from '../../src/agent/index.js';
import { fakeExecutor, type FakeSetup } from '../helpers.js';

/** The tools by name, with handlers typed loosely for assertions. */
export type Tools = Record<AgentToolName, AgentTool>;

export function byName(tools: AgentTool[]): Tools {
  return Object.fromEntries(tools.map((t) => [t.name, t])) as Tools;
}

/** Calls a tool and returns its result as a plain record for `expect`. */
export async function call(tools: Tools, name: AgentToolName, input: unknown, signal?: AbortSignal): Promise<Record<string, any>> {
  return (await tools[name].handler(input, signal ? { signal } : {})) as unknown as Record<string, any>;
}

/** A real executor (local transport) and its tools. */
export async function realSetup(options: AgentToolsOptions = {}): Promise<{ ex: BackgroundExecutor; tools: Tools }> {
  const ex = new BackgroundExecutor({ outputPollMs: 20 });
  await ex.start();
  return { ex, tools: byName(createAgentTools(ex, options)) };
}

/** An executor on FakeTransport + ManualClock, with tools on the same clock. */
export function fakeSetup(options: AgentToolsOptions = {}): FakeSetup & { tools: Tools } {
  const setup = fakeExecutor({ outputPollMs: 10 });
  return { ...setup, tools: byName(createAgentTools(setup.ex, { clock: setup.clock, ...options })) };
}

/** `count` numbered lines, `line 1\n` … */
export function numbered(count: number, prefix = 'line'): string {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i + 1}\n`).join('');
}

// `bgexec mcp --dir DIR`: the built bin serves the agent tools for one store over stdio (the
// real MCP SDK client drives it), owns that store, and so answers the other commands' requests.
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../../src/task.js';
import { buildCli, ROOT, runBin, scratch } from './_bin.js';

let bin: string;
let removeBin: () => void;
let tmp: { dir: string; remove: () => void };
let store: string;
let client: Client;

beforeAll(async () => {
  ({ bin, remove: removeBin } = await buildCli());
  tmp = scratch('bgexec-cli-mcp-');
  store = join(tmp.dir, 'store');
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [bin, 'mcp', '--dir', store, '--session', 'agent1'],
    cwd: ROOT,
    stderr: 'pipe',
  });
  client = new Client({ name: 'bgexec-cli-mcp-test', version: '1.0.0' });
  await client.connect(transport);
}, 60_000);

afterAll(async () => {
  await client?.close();
  removeBin?.();
  tmp?.remove();
});

describe('bgexec mcp', { timeout: 120_000 }, () => {
  it('serves the agent tools on a store the other commands see and steer', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
    const res = await client.callTool({ name: 'bg_start', arguments: { command: 'echo from-agent', wait_ms: 10_000 } });
    const started = res.structuredContent as { task_id: string; status: string };
    expect(started.status).toBe('completed');
    const ls = await runBin(bin, ['--dir', store, 'ls', '--json', '--session', 'agent1']);
    expect(ls.code, ls.stderr).toBe(0);
    expect((JSON.parse(ls.stdout) as TaskRecord[]).map((r) => r.id)).toEqual([started.task_id]);
    expect((await runBin(bin, ['--dir', store, 'logs', started.task_id])).stdout).toBe('from-agent\n');
    // The MCP process owns the store, so it serves requests too.
    const sub = await runBin(bin, ['--dir', store, 'submit', '--session', 'agent1', '--', 'echo from-cli']);
    expect(sub.code, sub.stderr).toBe(0);
    const list = await client.callTool({ name: 'bg_list', arguments: {} });
    expect(JSON.stringify(list.structuredContent)).toContain(sub.stdout.trim());
  });
});

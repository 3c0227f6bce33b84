// End to end: examples/mcp-server.ts (a thin example over bgexec/mcp) as a child process, driven by the real MCP SDK client over stdio.
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
let client: Client;
let transport: StdioClientTransport;
let stderr = '';

type Json = Record<string, any>;

/**
 * Calls a tool; returns the structured result (`structuredContent`, validated by the client
 * against the tool's outputSchema) and the completion notices among the content items.
 */
async function tool(name: string, args: Json, options: { signal?: AbortSignal } = {}): Promise<Json & { notices: string[] }> {
  const res = await client.callTool({ name, arguments: args }, undefined, options);
  const content = res.content as Array<{ type: string; text: string }>;
  const parsed = res.structuredContent as Json;
  expect(res.isError).toBe(parsed.ok === false);
  // The first item is the status as JSON without the output text; output items follow as plain text.
  const status = JSON.parse(content[0]!.text) as Json;
  expect(status.ok).toBe(parsed.ok);
  expect(status).not.toHaveProperty('text');
  return { ...parsed, notices: content.slice(1).filter((c) => c.text.startsWith('Background task ')).map((c) => c.text) };
}

beforeAll(async () => {
  transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'examples/mcp-server.ts'],
    cwd: root,
    stderr: 'pipe',
    env: { ...process.env, BGEXEC_MAX_OUTPUT_CHARS: '2048' } as Record<string, string>,
  });
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  client = new Client({ name: 'bgexec-e2e', version: '1.0.0' });
  await client.connect(transport);
}, 30_000);

afterAll(async () => {
  await client?.close();
});

describe('MCP server example (stdio, real SDK client)', () => {
  it('lists the six tools with their JSON Schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
    const start = tools.find((t) => t.name === 'bg_start')!;
    expect(start.inputSchema).toMatchObject({ type: 'object', required: ['command'] });
    expect(start.description).toMatch(/Do not poll/);
    expect(stderr).toMatch(/bgexec MCP server ready/);
  });

  it('starts a command, reads it incrementally, waits for a pattern and for the exit', async () => {
    const cmd = 'for i in 1 2 3 4; do echo "step $i"; sleep 0.3; done; echo finished';
    const start = await tool('bg_start', { command: cmd, wait_ms: 100 });
    expect(start).toMatchObject({ ok: true, status: 'running' });
    const id = start.task_id as string;
    let seen = start.stdout?.text ?? '';

    const matched = await tool('bg_wait', { task_ids: [id], timeout_ms: 10_000, until: 'pattern', pattern: 'step 3' });
    expect(matched).toMatchObject({ outcome: 'matched', task_id: id, match: 'step 3' });

    const r1 = await tool('bg_read', { task_id: id });
    expect(r1.cursor).toBe(start.stdout?.next_cursor ?? 0); // continues where the preview stopped
    seen += r1.text;
    expect(seen).toMatch(/^step 1\nstep 2\nstep 3\n/);

    const exited = await tool('bg_wait', { task_ids: [id], timeout_ms: 10_000 });
    expect(exited).toMatchObject({ outcome: 'exited', status: 'completed', exit_code: 0 });
    seen += exited.stdout?.text ?? '';
    const r2 = await tool('bg_read', { task_id: id });
    expect(r2).toMatchObject({ text: '', eof: true });
    expect(seen).toBe('step 1\nstep 2\nstep 3\nstep 4\nfinished\n');
  });

  it('caps big output with the omitted-bytes marker', async () => {
    const start = await tool('bg_start', { command: 'seq 1 20000', wait_ms: 10_000 });
    expect(start.status).toBe('completed');
    expect(start.stdout.text).toMatch(/\[… \d+ bytes omitted; next_cursor=\d+\]/);
    expect(Buffer.byteLength(start.stdout.text)).toBeLessThan(2048 + 100);
    const grep = await tool('bg_read', { task_id: start.task_id, cursor: 0, grep: '^1999[0-9]$' });
    expect(grep.text).toBe('19990\n19991\n19992\n19993\n19994\n19995\n19996\n19997\n19998\n19999\n');
    expect(grep.grep).toMatchObject({ lines_matched: 10, lines_read: 20000, lines_filtered: 19990 });
  });

  it('kills a running command and lists tasks; unknown ids get an actionable error', async () => {
    const start = await tool('bg_start', { command: 'sleep 60', wait_ms: 0 });
    const killed = await tool('bg_kill', { task_id: start.task_id, grace_ms: 500 });
    expect(killed).toMatchObject({ ok: true, status: 'cancelled', already_finished: false });
    const list = await tool('bg_list', { limit: 10 });
    expect(list.tasks[0]).toMatchObject({ task_id: start.task_id, status: 'cancelled', command: 'sleep 60' });
    const missing = await tool('bg_read', { task_id: 'nope' });
    expect(missing).toMatchObject({ ok: false, error: 'unknown_task' });
    expect(missing.message).toMatch(/Call bg_list/);
  });

  it('a cancelled bg_wait request stops waiting; completion notices ride along later', async () => {
    const start = await tool('bg_start', { command: 'sleep 0.8; echo late', wait_ms: 0 });
    const ac = new AbortController();
    const pending = tool('bg_wait', { task_ids: [start.task_id], timeout_ms: 60_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await expect(pending).rejects.toThrow();
    // The server is still fine, and the task finishes on its own; its notice arrives with a later result.
    await new Promise((r) => setTimeout(r, 1500));
    const list = await tool('bg_list', { status: 'finished' });
    expect(list.notices.join('\n')).toMatch(new RegExp(`Background task ${start.task_id} finished: completed \\(exit code 0\\)[\\s\\S]*late`));
    const again = await tool('bg_list', {});
    expect(again.notices).toEqual([]);
  });

  it('the server exits when stdin closes', async () => {
    const pid = transport.pid!;
    await client.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

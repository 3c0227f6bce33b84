// The `bgexec-mcp` command (src/mcp/bin.ts) as a child process, driven by the real MCP SDK client
// over stdio: annotations, output schemas and structured results, progress while bg_wait
// blocks, and the log notification sent when a task ends.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = ['--import', 'tsx', 'src/mcp/bin.ts'];
let client: Client;
let transport: StdioClientTransport;
let storeDir: string;
const logs: Array<{ level: string; logger?: string; data: any }> = [];

type Json = Record<string, any>;

async function tool(name: string, args: Json): Promise<{ result: Json; content: string[]; isError: boolean }> {
  const res = await client.callTool({ name, arguments: args });
  return {
    result: res.structuredContent as Json,
    content: (res.content as Array<{ type: string; text: string }>).map((c) => c.text),
    isError: res.isError === true,
  };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && !cond(); waited += 50) await new Promise((r) => setTimeout(r, 50));
}

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'bgexec-mcp-store-'));
  transport = new StdioClientTransport({
    command: process.execPath,
    // Arguments win over the environment: the budget is 2048, not 999999.
    args: [...BIN, '--store-dir', storeDir, '--max-output-chars', '2048'],
    cwd: root,
    stderr: 'pipe',
    env: { ...process.env, BGEXEC_MAX_OUTPUT_CHARS: '999999' } as Record<string, string>,
  });
  client = new Client({ name: 'bgexec-bin-test', version: '1.0.0' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params as (typeof logs)[number]);
  });
  await client.connect(transport);
}, 30_000);

afterAll(async () => {
  await client?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

describe('bgexec-mcp (stdio, real SDK client)', () => {
  it('serves annotations, titles and output schemas', async () => {
    const { tools } = await client.listTools();
    const by = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(by)).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
    for (const name of ['bg_read', 'bg_wait', 'bg_list']) expect(by[name]!.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: false });
    expect(by.bg_kill!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(by.bg_start!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true });
    expect(by.bg_write!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true });
    expect(by.bg_write!.inputSchema).toMatchObject({ required: ['task_id', 'input'] });
    for (const t of tools) {
      expect(t.title).toBeTruthy();
      expect(t.outputSchema).toMatchObject({ type: 'object', required: ['ok'] });
    }
    expect(client.getInstructions()).toMatch(/bg_wait/);
    expect(client.getServerVersion()).toMatchObject({ name: 'bgexec', version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version });
  });

  it('returns structuredContent (validated by the client) and plain-text output items', async () => {
    const { result, content, isError } = await tool('bg_start', { command: 'printf "a\\tb\\n\\"quoted\\"\\n"', wait_ms: 10_000 });
    expect(isError).toBe(false);
    expect(result).toMatchObject({ ok: true, status: 'completed', exit_code: 0, stdout: { text: 'a\tb\n"quoted"\n' } });
    expect(JSON.parse(content[0]!)).toMatchObject({ ok: true, status: 'completed', stdout: { total_bytes: 13 } });
    // The output as the model reads it: not JSON-escaped.
    expect(content[1]).toBe('--- stdout, bytes 0..13 of 13 ---\na\tb\n"quoted"\n');

    const missing = await tool('bg_read', { task_id: 'nope' });
    expect(missing.isError).toBe(true);
    expect(missing.result).toMatchObject({ ok: false, error: 'unknown_task' });

    // --max-output-chars 2048 from argv, not the environment's 999999.
    const big = await tool('bg_start', { command: 'seq 1 20000', wait_ms: 10_000 });
    expect(big.content.join('\n').length).toBeLessThanOrEqual(2048);
    expect(big.result.stdout.truncated).toBe(true);
  });

  it('sends progress notifications while bg_wait blocks, when asked', async () => {
    const { result } = await tool('bg_start', { command: 'sleep 2.5', wait_ms: 0 });
    const progress: Progress[] = [];
    const res = await client.callTool(
      { name: 'bg_wait', arguments: { task_ids: [result.task_id], timeout_ms: 20_000 } },
      undefined,
      { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true },
    );
    expect(res.structuredContent).toMatchObject({ outcome: 'exited', status: 'completed' });
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]!.message).toMatch(/bg_wait still running after/);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.progress).toBeGreaterThan(progress[i - 1]!.progress);

    // Without a progress token there is none (and nothing breaks).
    const quick = await tool('bg_start', { command: 'sleep 1.5', wait_ms: 0 });
    const waited = await tool('bg_wait', { task_ids: [quick.result.task_id], timeout_ms: 20_000 });
    expect(waited.result.outcome).toBe('exited');
  });

  it('tells the client when a task ends, between calls', async () => {
    const { result } = await tool('bg_start', { command: 'sleep 0.5; echo done', wait_ms: 0 });
    const id = result.task_id as string;
    // No request in flight: the notification arrives on its own.
    await until(() => logs.some((l) => l.data?.task_id === id), 15_000);
    const log = logs.find((l) => l.data?.task_id === id);
    expect(log).toMatchObject({
      level: 'info',
      logger: 'bgexec',
      data: { event: 'task_finished', task_id: id, status: 'completed', exit_code: 0, signal: null, command: 'sleep 0.5; echo done' },
    });
    expect(log!.data.message).toBe(`Background task ${id} finished: completed (exit code 0).`);
    // The model still hears of it with the next tool result.
    const list = await tool('bg_list', {});
    expect(list.content.join('\n')).toMatch(new RegExp(`Background task ${id} finished: completed[\\s\\S]*done`));
  });

  it('keeps task state in --store-dir', () => {
    expect(readdirSync(storeDir).length).toBeGreaterThan(0);
  });
});

describe('bgexec-mcp arguments', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [...BIN, ...args], { cwd: root, encoding: 'utf8', input: '', timeout: 20_000 });

  it('--help prints the usage to stderr and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Usage: bgexec-mcp[\s\S]*--store-dir/);
  });

  it('a bad option or value exits 2 with a message and the usage', () => {
    const bad = run(['--max-output-chars', '12']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/max-output-chars: must be an integer >= 1024, got "12"[\s\S]*Usage:/);
    const unknown = run(['--nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--nope/);
  });
});

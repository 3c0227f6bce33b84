// createMcpServer in process, over the SDK's in-memory transport with the real SDK client: every
// kind of result validates against the served outputSchema, completion notifications are
// scoped to the server's session, and options are checked.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor, InvalidArgumentError } from '../../src/index.js';
import { createMcpServer, type BgexecMcpServer, type McpServerOptions } from '../../src/mcp/index.js';

type Json = Record<string, any>;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connected(options: McpServerOptions = {}): Promise<{ ex: BackgroundExecutor; mcp: BgexecMcpServer; client: Client; logs: Json[] }> {
  const ex = new BackgroundExecutor({ outputPollMs: 20 });
  await ex.start();
  const mcp = await createMcpServer(ex, options);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await mcp.connect(serverSide);
  const client = new Client({ name: 'bgexec-mcp-test', version: '1.0.0' });
  const logs: Json[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params.data as Json);
  });
  await client.connect(clientSide);
  cleanups.push(async () => {
    await client.close();
    await mcp.close();
    await ex.shutdown({ mode: 'kill', graceMs: 200 });
  });
  return { ex, mcp, client, logs };
}

async function call(client: Client, name: string, args: Json): Promise<Json> {
  // callTool validates structuredContent against the tool's outputSchema and throws on a mismatch.
  const res = await client.callTool({ name, arguments: args });
  return res.structuredContent as Json;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && !cond(); waited += 25) await new Promise((r) => setTimeout(r, 25));
}

describe('createMcpServer', () => {
  it('every kind of result validates against the served outputSchema', async () => {
    const { client } = await connected({ maxOutputChars: 1024 });
    await client.listTools(); // the client caches the output schemas from here
    const started = await call(client, 'bg_start', { command: 'seq 1 3000; echo oops >&2; exit 3', wait_ms: 10_000 });
    expect(started).toMatchObject({ ok: true, status: 'failed', exit_code: 3 });
    const id = started.task_id as string;
    expect(await call(client, 'bg_read', { task_id: id, tail_lines: 5000 })).toMatchObject({ ok: true, tail: { lines_requested: 5000 } });
    expect(await call(client, 'bg_read', { task_id: id, cursor: 0, grep: '^29' })).toMatchObject({ ok: true, grep: { pattern: '^29' } });
    expect(await call(client, 'bg_read', { task_id: id, cursor: 0, raw: true, stream: 'stderr' })).toMatchObject({ text: 'oops\n', raw: true });
    expect(await call(client, 'bg_read', { cursor: 0 })).toMatchObject({ ok: false, error: 'invalid_input' });
    const running = await call(client, 'bg_start', { command: 'sleep 0.3; echo ready; sleep 30', wait_ms: 0 });
    const matched = await call(client, 'bg_wait', { task_ids: [running.task_id], until: 'pattern', pattern: 'ready', timeout_ms: 10_000 });
    expect(matched).toMatchObject({ outcome: 'matched', match: 'ready' });
    expect(await call(client, 'bg_wait', { task_ids: [running.task_id], timeout_ms: 100 })).toMatchObject({ outcome: 'timeout' });
    expect(await call(client, 'bg_kill', { task_id: running.task_id, grace_ms: 200 })).toMatchObject({ status: 'cancelled', signal: expect.any(String) });
    expect(await call(client, 'bg_kill', { task_id: running.task_id })).toMatchObject({ already_finished: true });
    expect((await call(client, 'bg_list', { status: 'all' })).total).toBe(2);
  });

  it('serves bg_write: its results, and awaiting_input in the others, validate against the served outputSchema', async () => {
    const { client } = await connected();
    await client.listTools();
    const started = await call(client, 'bg_start', { command: 'while IFS= read -r l; do echo "got $l"; done', stdin: 'pipe', wait_ms: 0 });
    const id = started.task_id as string;
    const w = await call(client, 'bg_write', { task_id: id, input: 'hi\n', wait_ms: 10_000 });
    expect(w).toMatchObject({ ok: true, status: 'running', bytes_written: 3, stdout: { text: 'got hi\n' } });
    // The loop reads again: bg_wait ends at once on it, and bg_list/bg_read say so.
    const waited = await call(client, 'bg_wait', { task_ids: [id], timeout_ms: 10_000 });
    expect(waited).toMatchObject({ outcome: 'input_wanted', awaiting_input: true, tasks: [{ task_id: id, awaiting_input: true }] });
    expect((await call(client, 'bg_list', {})).tasks[0]).toMatchObject({ awaiting_input: true });
    expect(await call(client, 'bg_read', { task_id: id })).toMatchObject({ awaiting_input: true });
    expect(await call(client, 'bg_write', { task_id: 'nope', input: 'x' })).toMatchObject({ ok: false, error: 'unknown_task' });
    expect(await call(client, 'bg_write', { task_id: id, input: '', close: true, wait_ms: 10_000 })).toMatchObject({ ok: true, closed: true, status: 'completed' });
    expect(await call(client, 'bg_write', { task_id: id, input: 'x' })).toMatchObject({ ok: false, error: 'input_refused' });
  });

  it('notifies completions of its own session only, and stops after close()', async () => {
    const { ex, mcp, logs } = await connected({ session: 'alice' });
    const mine = await ex.submit({ command: 'true', session: 'alice' });
    const theirs = await ex.submit({ command: 'true', session: 'bob' });
    await ex.wait(mine.id);
    await ex.wait(theirs.id);
    await until(() => logs.length > 0, 5000);
    expect(logs.map((l) => l.task_id)).toEqual([mine.id]);

    const before = ex.listenerCount('task:settled');
    await mcp.close();
    expect(ex.listenerCount('task:settled')).toBe(before - 1);
  });

  it('notifyCompletions: false sends none; strict: true serves strict schemas', async () => {
    const { ex, client, logs } = await connected({ notifyCompletions: false, strict: true });
    const { tools } = await client.listTools();
    expect(tools.find((t) => t.name === 'bg_list')!.inputSchema).toMatchObject({ additionalProperties: false, required: ['status', 'limit'] });
    const r = await call(client, 'bg_start', { command: 'echo hi', cwd: null, env: null, timeout_ms: null, priority: null, wait_ms: 5000 });
    expect(r).toMatchObject({ ok: true, status: 'completed', stdout: { text: 'hi\n' } });
    await ex.wait(r.task_id);
    await new Promise((res) => setTimeout(res, 200));
    expect(logs).toEqual([]);
  });

  it('listens for completions only while connected', async () => {
    const ex = new BackgroundExecutor();
    const before = ex.listenerCount('task:settled');
    const mcp = await createMcpServer(ex);
    expect(ex.listenerCount('task:settled')).toBe(before);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await mcp.connect(serverSide);
    expect(ex.listenerCount('task:settled')).toBe(before + 1);
    await clientSide.close(); // the client goes away
    expect(ex.listenerCount('task:settled')).toBe(before);
    await mcp.close();
    await ex.shutdown();
  });

  it('rejects bad options with INVALID_ARGUMENT', async () => {
    const ex = new BackgroundExecutor();
    await expect(createMcpServer(ex, { progressIntervalMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(createMcpServer(ex, { session: '' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', field: 'session' });
    await ex.shutdown();
  });
});

describe('parseMcpCliArgs', () => {
  it('arguments win over the environment, which wins over the defaults', async () => {
    const { parseMcpCliArgs } = await import('../../src/mcp/cli.js');
    expect(parseMcpCliArgs([], {}, '/here')).toEqual({
      help: false,
      maxOutputChars: 16_384,
      maxWaitMs: 50_000,
      timeoutMs: 3_600_000,
      cwd: '/here',
      session: 'mcp',
      strict: false,
    });
    const env = { BGEXEC_STORE_DIR: '/s', BGEXEC_MAX_OUTPUT_BYTES: '4096', BGEXEC_MAX_WAIT_MS: '1000', BGEXEC_STRICT: '1', BGEXEC_SESSION: 'env' };
    expect(parseMcpCliArgs(['--session', 'arg', '--cwd', '/tmp'], env, '/here')).toMatchObject({
      storeDir: '/s',
      maxOutputChars: 4096,
      maxWaitMs: 1000,
      strict: true,
      session: 'arg',
      cwd: '/tmp',
    });
    expect(() => parseMcpCliArgs(['--timeout-ms', '1.5'], {}, '/')).toThrow(InvalidArgumentError);
    expect(() => parseMcpCliArgs(['extra'], {}, '/')).toThrow(InvalidArgumentError);
  });
});

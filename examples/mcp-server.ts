// A stdio MCP server that gives a model background shell commands: bg_start, bg_read, bg_wait,
// bg_kill and bg_list, served by `bgexec/mcp` (annotations, output schemas, progress while a
// call blocks, a log notification when a task ends).
//
//   npx tsx examples/mcp-server.ts      (runs until stdin closes)
//
// Without this repository, the package's own command does the same:
//   { "mcpServers": { "bgexec": { "command": "npx", "args": ["-y", "-p", "bgexec", "-p", "@modelcontextprotocol/sdk", "bgexec-mcp"] } } }
//
// stdout carries the protocol; anything for humans goes to stderr.
import { BackgroundExecutor } from 'bgexec';
import { createMcpServer } from 'bgexec/mcp';

const executor = new BackgroundExecutor();
await executor.start();
const mcp = await createMcpServer(executor, {
  // One MCP connection = one agent session.
  session: 'mcp',
  maxOutputChars: Number(process.env.BGEXEC_MAX_OUTPUT_CHARS ?? process.env.BGEXEC_MAX_OUTPUT_BYTES ?? 16_384),
  // Keep runaway commands from living forever; the model may ask for less (timeout_ms).
  defaults: { timeoutMs: 60 * 60 * 1000, cwd: process.cwd() },
  // MCP clients usually give up on a request after 60 s: keep every bg_wait well below that.
  limits: { maxWaitMs: 50_000, maxStartWaitMs: 20_000 },
});

let closing = false;
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await executor.shutdown({ mode: 'kill', graceMs: 1000 });
  await mcp.close();
  process.exit(0);
}
process.stdin.on('end', () => void close());
process.stdin.on('close', () => void close());
process.on('SIGINT', () => void close());
process.on('SIGTERM', () => void close());

await mcp.connectStdio();
console.error(`bgexec MCP server ready (session ${mcp.session}, ${mcp.tools.length} tools)`);

// A stdio MCP server that gives a model background shell commands: bg_start, bg_read, bg_wait,
// bg_kill, bg_list and bg_write, served by `bgexec/mcp` (annotations, output schemas, progress while a
// call blocks, a log notification when a task ends).
//
//   npx tsx examples/mcp-server.ts      (runs until stdin closes)
//
// Without this repository, the package's own command does the same:
//   { "mcpServers": { "bgexec": { "command": "npx", "args": ["-y", "-p", "bgexec", "-p", "@modelcontextprotocol/sdk", "bgexec-mcp"] } } }
//
// stdout carries the protocol; anything for humans goes to stderr.
import { BackgroundExecutor } from 'bgexec';
import { serveMcpStdio } from 'bgexec/mcp';

const executor = new BackgroundExecutor();
await executor.start();
// Connects to stdin/stdout; when the host goes away (stdin closes, SIGINT/SIGTERM) the running
// tasks are killed, since nobody would read their results.
const mcp = await serveMcpStdio(executor, {
  // One MCP connection = one agent session.
  session: 'mcp',
  maxOutputChars: Number(process.env.BGEXEC_MAX_OUTPUT_CHARS ?? 16_384),
  // Keep runaway commands from living forever; the model may ask for less (timeout_ms).
  defaults: { timeoutMs: 60 * 60 * 1000, cwd: process.cwd() },
  // MCP clients usually give up on a request after 60 s: keep every bg_wait well below that.
  limits: { maxWaitMs: 50_000, maxStartWaitMs: 20_000 },
});
console.error(`bgexec MCP server ready (session ${mcp.session}, ${mcp.tools.length} tools)`);

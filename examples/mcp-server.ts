// A stdio MCP server that gives a model background shell commands: bg_start, bg_read, bg_wait,
// bg_kill and bg_list from `bgexec/agent`.
//
//   npm run build && npx tsx examples/mcp-server.ts      (runs until stdin closes)
//
// Register it with an MCP client, e.g. in a Claude Desktop / Cursor style config:
//   { "mcpServers": { "bgexec": { "command": "npx", "args": ["tsx", "/path/to/examples/mcp-server.ts"] } } }
//
// It uses the SDK's low-level request handlers (through McpServer.server) so the JSON Schemas of
// createAgentTools are served as they are: no zod, no schema conversion. stdout carries the
// protocol; anything for humans goes to stderr.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { BackgroundExecutor } from 'bgexec';
import { completionNotices, createAgentTools } from 'bgexec/agent';

// One MCP connection = one agent session. A server shared by several clients would create one
// set of tools per connection, each with its own session id.
const SESSION = 'mcp';

const executor = new BackgroundExecutor();
await executor.start();
const tools = createAgentTools(executor, {
  session: SESSION,
  maxOutputBytes: Number(process.env.BGEXEC_MAX_OUTPUT_BYTES ?? 16_384),
  // Keep runaway commands from living forever; the model may ask for less (timeout_ms).
  defaults: { timeoutMs: 60 * 60 * 1000, cwd: process.cwd() },
  // MCP clients usually give up on a request after 60 s: keep every bg_wait well below that.
  limits: { maxWaitMs: 50_000, maxStartWaitMs: 20_000 },
});
const byName = new Map(tools.map((t) => [t.name, t]));

const mcp = new McpServer({ name: 'bgexec', version: '0.1.0' }, { capabilities: { tools: {} } });

mcp.server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: tools.map((t): Tool => ({ name: t.name, description: t.description, inputSchema: t.inputSchema as Tool['inputSchema'] })),
}));

mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
  const tool = byName.get(request.params.name as never);
  if (!tool) {
    return { isError: true, content: [{ type: 'text', text: `Unknown tool ${request.params.name}. Tools: ${[...byName.keys()].join(', ')}.` }] };
  }
  // extra.signal fires when the client cancels the request (notifications/cancelled):
  // a pending bg_wait stops waiting; the tasks keep running.
  const result = await tool.handler(request.params.arguments ?? {}, { signal: extra.signal });
  const content: CallToolResult['content'] = [{ type: 'text', text: JSON.stringify(result) }];
  // MCP has no way to speak between turns, so completions of *other* tasks ride along with the
  // next tool result (the one this call reported was acknowledged by the tools already).
  const notices = await completionNotices(executor, SESSION);
  if (notices.text) content.push({ type: 'text', text: notices.text });
  return { content, isError: !result.ok };
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

await mcp.connect(new StdioServerTransport());
console.error(`bgexec MCP server ready (session ${SESSION}, ${tools.length} tools)`);

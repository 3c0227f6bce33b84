/**
 * An MCP server for the agent tools (`bgexec/mcp`): {@link createMcpServer} serves `bg_start`,
 * `bg_read`, `bg_wait`, `bg_kill`, `bg_list` and `bg_write` with tool annotations, output schemas and
 * structured results, progress notifications while a call blocks, and a log notification when
 * a task ends; {@link serveMcpStdio} runs it over stdio for an MCP host, as the `bgexec-mcp`
 * command does. Needs
 * `@modelcontextprotocol/sdk`, an optional peer dependency, loaded on first use.
 * @module bgexec/mcp
 */
export { createMcpServer } from './server.js';
export { serveMcpStdio } from './serve-stdio.js';
export type { ServeMcpStdioOptions } from './serve-stdio.js';
export type { BgexecMcpServer, McpServerOptions, McpTaskFinishedData } from './server.js';
export { McpSdkMissingError } from './errors.js';
export { outputSchema, toolAnnotations } from './schemas.js';
export type { McpToolAnnotations } from './schemas.js';

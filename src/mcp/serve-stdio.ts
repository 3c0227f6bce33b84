import type { BackgroundExecutor, ShutdownOptions } from '../index.js';
import { createMcpServer, type BgexecMcpServer, type McpServerOptions } from './server.js';

/** Options of {@link serveMcpStdio}: the server's own, plus what happens when the host leaves. */
export interface ServeMcpStdioOptions extends McpServerOptions {
  /**
   * How the executor is shut down when the host closes stdin or the process gets SIGINT/SIGTERM.
   * Default `{ mode: 'kill', graceMs: 1000 }`: the tasks would have no one to report to.
   * `false` leaves the executor running (the caller owns its lifetime).
   */
  shutdown?: ShutdownOptions | false;
  /** Called once everything is closed. Default: `process.exit(0)`. */
  onClosed?: () => void;
}

/**
 * Serves the agent tools over stdin/stdout for an MCP host, the way the `bgexec-mcp` command
 * does: creates the server, connects it to stdio, and when the host goes away (stdin ends or
 * closes, SIGINT, SIGTERM) shuts the executor down, closes the server and exits. stdout carries
 * the protocol: write anything for humans to stderr.
 *
 * @example
 * ```ts
 * const executor = new BackgroundExecutor();
 * await executor.start();
 * const mcp = await serveMcpStdio(executor, { session: 'mcp' });
 * console.error(`ready: ${mcp.tools.length} tools`);
 * ```
 */
export async function serveMcpStdio(executor: BackgroundExecutor, options: ServeMcpStdioOptions = {}): Promise<BgexecMcpServer> {
  const { shutdown = { mode: 'kill', graceMs: 1000 }, onClosed = () => process.exit(0), ...serverOptions } = options;
  const mcp = await createMcpServer(executor, serverOptions);
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    // Best effort on the way out: a failing shutdown must not keep the process alive.
    if (shutdown !== false) await executor.shutdown(shutdown).catch(() => undefined);
    await mcp.close().catch(() => undefined);
    onClosed();
  };
  process.stdin.on('end', () => void close());
  process.stdin.on('close', () => void close());
  process.once('SIGINT', () => void close());
  process.once('SIGTERM', () => void close());
  await mcp.connectStdio();
  return mcp;
}

#!/usr/bin/env node
// `bgexec-mcp`: the MCP server of bgexec over stdio, for an MCP host configuration such as
//   { "command": "npx", "args": ["-y", "-p", "bgexec", "-p", "@modelcontextprotocol/sdk", "bgexec-mcp"] }
// stdout carries the protocol: everything for humans goes to stderr.
import { BackgroundExecutor, BgexecError, JsonDirStore } from '../index.js';
import { parseMcpCliArgs, USAGE } from './cli.js';
import { McpSdkMissingError } from './errors.js';
import { serveMcpStdio } from './serve-stdio.js';

async function main(): Promise<void> {
  const config = parseMcpCliArgs(process.argv.slice(2), process.env, process.cwd());
  if (config.help) {
    process.stderr.write(USAGE);
    return;
  }
  const executor = new BackgroundExecutor(config.storeDir ? { store: new JsonDirStore({ dir: config.storeDir }) } : {});
  await executor.start();
  const mcp = await serveMcpStdio(executor, {
    session: config.session,
    maxOutputChars: config.maxOutputChars,
    strict: config.strict,
    // Keep runaway commands from living forever; the model may ask for less (timeout_ms).
    defaults: { timeoutMs: config.timeoutMs, cwd: config.cwd },
    limits: { maxWaitMs: config.maxWaitMs, maxStartWaitMs: Math.min(20_000, config.maxWaitMs) },
  });
  process.stderr.write(`bgexec MCP server ready (session ${mcp.session}, ${mcp.tools.length} tools${config.storeDir ? `, store ${config.storeDir}` : ''})\n`);
}

main().catch((err: unknown) => {
  if (err instanceof McpSdkMissingError || err instanceof BgexecError) {
    process.stderr.write(`bgexec-mcp: ${err.message}\n`);
    if (err instanceof BgexecError && err.code === 'INVALID_ARGUMENT') process.stderr.write(`\n${USAGE}`);
  } else {
    process.stderr.write(`bgexec-mcp: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(err instanceof McpSdkMissingError || err instanceof BgexecError ? 2 : 1);
});

import { createRequire } from 'node:module';
import type { BackgroundExecutor, TaskEndEvent } from '../index.js';
import { createAgentTools, type AgentTool, type AgentToolsOptions } from '../agent/index.js';
import { endText } from '../agent/start.js';
import { InvalidArgumentError } from '../errors.js';
import { outputSchema, toolAnnotations } from './schemas.js';
import { loadMcpSdk } from './sdk.js';
// Type-only: used inside function bodies, so the emitted declarations do not reference the SDK.
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

/** Options of {@link createMcpServer}: those of `createAgentTools`, plus the server's own. */
export interface McpServerOptions extends Omit<AgentToolsOptions, 'session' | 'appendNotices' | 'ackOnReport'> {
  /**
   * Append the completion notices of this session's other tasks to each tool result (default
   * true here: MCP hosts need not show log notifications to the model).
   */
  appendNotices?: boolean;
  /**
   * Acknowledge a task's completion once a tool result told the model its final status, so no
   * notice repeats it (default true).
   */
  ackOnReport?: boolean;
  /**
   * Owner scope of the tasks this server starts (default `mcp`). The tools see only tasks of this
   * session; completion notifications are sent for them alone. One server = one connection =
   * one session.
   */
  session?: string;
  /** Server name reported to the client (default `bgexec`). */
  name?: string;
  /** Server version reported to the client (default: the version of bgexec). */
  version?: string;
  /** Instructions for the model, sent at initialization (default: a short guide to the tools). */
  instructions?: string;
  /**
   * How often a call that is still running sends `notifications/progress`, when the client
   * asked for progress (a `progressToken` in the request); default 1000 ms, 0 for never.
   */
  progressIntervalMs?: number;
  /**
   * Send a `notifications/message` log message (logger `bgexec`, level `info`) whenever a task
   * of this session ends (default true). The completion also rides along with the next tool
   * result, since a host need not show log messages to the model.
   */
  notifyCompletions?: boolean;
}

/** The `data` of the `notifications/message` sent when a task of the session ends. */
export interface McpTaskFinishedData {
  /** Always `task_finished`. */
  event: 'task_finished';
  /** The task that ended. */
  task_id: string;
  /** Its final status (`completed`, `failed`, `cancelled`, `timed_out`, `lost`). */
  status: string;
  /** Its exit code (null when a signal ended it or it never ran). */
  exit_code: number | null;
  /** The signal that ended it, if any. */
  signal: string | null;
  /** The command, cut to 200 characters. */
  command: string;
  /** One sentence for a human or a model: `Background task … finished: completed (exit code 0).` */
  message: string;
}

/** A bgexec MCP server, created by {@link createMcpServer}; not yet connected. */
export interface BgexecMcpServer {
  /**
   * The SDK's low-level `Server` (`@modelcontextprotocol/sdk/server/index.js`), for adding
   * handlers. Typed as `unknown` so that these declarations do not need the SDK installed: cast it.
   */
  readonly server: unknown;
  /** The agent tools served (with `appendNotices` on unless the options turned it off). */
  readonly tools: readonly AgentTool[];
  /** The session of the tasks this server starts and reports. */
  readonly session: string;
  /** Connects to a transport of the SDK (any `Transport`: stdio, streamable HTTP, in-memory). */
  connect(transport: object): Promise<void>;
  /** Connects to stdin/stdout (`StdioServerTransport`). */
  connectStdio(): Promise<void>;
  /** Stops sending notifications and closes the connection. The executor is left running. */
  close(): Promise<void>;
}

const DEFAULT_INSTRUCTIONS =
  'Run shell commands in the background with bg_start; wait for them with bg_wait (not by polling), ' +
  'read their output with bg_read, stop them with bg_kill, find them with bg_list, ' +
  'and answer a task started with stdin "pipe" with bg_write when it waits for input. ' +
  'When a task ends, a log message (logger "bgexec") says so, and a notice comes with the next tool result.';

// package.json sits two levels up from both src/mcp and dist/mcp. A bundle that dropped it
// still works, reporting no real version.
function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function checkOptions(options: McpServerOptions): void {
  const interval = options.progressIntervalMs;
  if (interval !== undefined && (!Number.isFinite(interval) || interval < 0)) {
    throw new InvalidArgumentError('progressIntervalMs', `must be a number of milliseconds >= 0, got ${String(interval)}`);
  }
  if (options.session !== undefined && (typeof options.session !== 'string' || options.session === '')) {
    throw new InvalidArgumentError('session', 'must be a non-empty string');
  }
}

function finishedData(event: TaskEndEvent): McpTaskFinishedData {
  const r = event.record;
  const cmd = r.spec.args ? [r.spec.command, ...r.spec.args].join(' ') : r.spec.command;
  return {
    event: 'task_finished',
    task_id: r.id,
    status: r.status,
    exit_code: r.exitCode ?? null,
    signal: r.signal ?? null,
    command: cmd.length > 200 ? `${cmd.slice(0, 199)}…` : cmd,
    message: `Background task ${r.id} finished: ${endText(r)}.`,
  };
}

/**
 * Creates an MCP server over an executor, serving the six agent tools of `createAgentTools`
 * with what MCP offers beyond plain tools:
 *
 * - **annotations** (`readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint`, `title`);
 * - **`outputSchema` + `structuredContent`**: the structured result, which the SDK client validates;
 * - **content** as separate plain-text items: the status as JSON, each output stream, then
 *   completion notices of other tasks (`tool.call()`);
 * - **progress**: `notifications/progress` every `progressIntervalMs` while a call runs
 *   (`bg_wait`, `bg_start` and `bg_write` with `wait_ms`), when the request carries a `progressToken`;
 * - **completion notifications**: `notifications/message` (logger `bgexec`, data
 *   {@link McpTaskFinishedData}) when a task of the session ends, even between turns;
 * - **cancellation**: a cancelled `bg_wait` request stops waiting (tasks keep running).
 *
 * Loads `@modelcontextprotocol/sdk` (an optional peer dependency) on call.
 *
 * @example
 * ```ts
 * const executor = new BackgroundExecutor();
 * await executor.start();
 * const mcp = await createMcpServer(executor, { maxOutputChars: 16_384 });
 * await mcp.connectStdio();
 * ```
 * @throws McpSdkMissingError (`MCP_SDK_MISSING`) when the SDK is not installed.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for bad options.
 */
export async function createMcpServer(executor: BackgroundExecutor, options: McpServerOptions = {}): Promise<BgexecMcpServer> {
  checkOptions(options);
  const sdk = await loadMcpSdk();
  const session = options.session ?? 'mcp';
  const { name = 'bgexec', version = packageVersion(), instructions = DEFAULT_INSTRUCTIONS, progressIntervalMs = 1000, notifyCompletions = true, ...toolOptions } = options;
  const tools = createAgentTools(executor, {
    appendNotices: true,
    ...toolOptions,
    session,
    // MCP clients usually give up on a request after 60 s: keep every blocking call well below.
    limits: { maxWaitMs: 50_000, maxStartWaitMs: 20_000, ...toolOptions.limits },
  });
  const byName = new Map<string, AgentTool>(tools.map((t) => [t.name, t]));

  const server = new sdk.Server({ name, version }, { capabilities: { tools: {}, logging: {} }, instructions });

  // The schemas are served as they are (JSON Schema, no conversion); the SDK's type wants
  // `type: 'object'` literally, which every tool schema has.
  server.setRequestHandler(sdk.ListToolsRequestSchema, () => ({
    tools: tools.map((t) => {
      const { title, ...hints } = toolAnnotations(t.name);
      return { name: t.name, title, description: t.description, inputSchema: t.inputSchema, outputSchema: outputSchema(t.name), annotations: { title, ...hints } };
    }) as unknown as Tool[],
  }));

  server.setRequestHandler(sdk.CallToolRequestSchema, async (request, extra) => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      return { isError: true, content: [{ type: 'text' as const, text: `Unknown tool ${request.params.name}. Tools: ${[...byName.keys()].join(', ')}.` }] };
    }
    const token = request.params._meta?.progressToken;
    let timer: ReturnType<typeof setInterval> | undefined;
    if (token !== undefined && progressIntervalMs > 0) {
      const started = Date.now();
      timer = setInterval(() => {
        const elapsed = Date.now() - started;
        // progress must grow with every notification: elapsed milliseconds do.
        extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: elapsed, message: `${tool.name} still running after ${(elapsed / 1000).toFixed(1)} s` },
          })
          .catch(() => undefined); // the connection may be closing; the call's own result tells the rest
      }, progressIntervalMs);
    }
    try {
      // extra.signal fires when the client cancels the request: a bg_wait stops waiting.
      const out = await tool.call(request.params.arguments ?? {}, { signal: extra.signal });
      return { content: out.content, structuredContent: out.result as unknown as Record<string, unknown>, isError: out.isError };
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
  });

  let connected = false;
  const onSettled = (event: TaskEndEvent): void => {
    if (!connected || event.record.spec.session !== session) return;
    server.sendLoggingMessage({ level: 'info', logger: 'bgexec', data: finishedData(event) }).catch(() => undefined);
  };
  // A connection the client closed gets no more notifications (sending would only fail).
  server.onclose = () => {
    connected = false;
    executor.off('task:settled', onSettled);
  };

  const handle: BgexecMcpServer = {
    server,
    tools,
    session,
    async connect(transport: object): Promise<void> {
      await server.connect(transport as Parameters<typeof server.connect>[0]);
      connected = true;
      if (notifyCompletions) executor.on('task:settled', onSettled);
    },
    async connectStdio(): Promise<void> {
      await handle.connect(new sdk.StdioServerTransport());
    },
    async close(): Promise<void> {
      connected = false;
      executor.off('task:settled', onSettled);
      await server.close();
    },
  };
  return handle;
}

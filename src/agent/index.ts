/**
 * Tools for language-model agents (`bgexec/agent`): {@link createAgentTools} turns an executor
 * into `bg_start`, `bg_read`, `bg_wait`, `bg_kill` and `bg_list`, each a JSON Schema plus a
 * handler whose results stay within an output budget and whose errors tell the model what to do
 * next. {@link completionNotices} reports tasks that ended since the model last heard of them.
 * The schemas work as they are with MCP, OpenAI function calling and the Vercel AI SDK.
 * @module bgexec/agent
 */
export { createAgentTools } from './tools.js';
export { completionNotices } from './notices.js';
export type { CompletionNotice, CompletionNoticeOptions, CompletionNotices } from './notices.js';
export { DEFAULT_MAX_OUTPUT_BYTES } from './context.js';
export type {
  AgentErrorCode,
  AgentExecutor,
  AgentLimits,
  AgentTaskDefaults,
  AgentTool,
  AgentToolContext,
  AgentToolError,
  AgentToolName,
  AgentToolResult,
  AgentToolsOptions,
  BgKillResult,
  BgListResult,
  BgListRow,
  BgReadResult,
  BgStartResult,
  BgWaitResult,
  JsonSchema,
  OutputView,
  WaitTaskState,
} from './types.js';

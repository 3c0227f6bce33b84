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

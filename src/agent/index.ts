/**
 * Tools for language-model agents (`bgexec/agent`): {@link createAgentTools} turns an executor
 * into `bg_start`, `bg_read`, `bg_wait`, `bg_kill`, `bg_list` and `bg_write`, each a JSON Schema plus a
 * handler whose results stay within an output budget and whose errors tell the model what to do
 * next. {@link completionNotices} reports tasks that ended since the model last heard of them.
 * The schemas work as they are with MCP, OpenAI function calling and the Vercel AI SDK; with
 * `strict: true` they keep to OpenAI's strict subset. `tool.call()` (or {@link formatResult})
 * renders a result for the model: status JSON, then the output as readable plain text.
 * {@link toOpenAIChatTools}, {@link toOpenAIResponsesTools}, {@link toolParameters} and
 * {@link callAgentTool} hand the tools to OpenAI, the OpenAI Agents SDK and the Vercel AI SDK
 * without casts and without importing any of them.
 * @module bgexec/agent
 */
export { createAgentTools } from './tools.js';
export { formatResult } from './format.js';
export { callAgentTool, toOpenAIChatTools, toOpenAIResponsesTools, toolParameters } from './adapters.js';
export type { OpenAIChatTool, OpenAIResponsesTool, ToolParameterSchema, ToolParametersSchema } from './adapters.js';
export { readableText } from './readable.js';
export { completionNotices } from './notices.js';
export type { CompletionNotice, CompletionNoticeOptions, CompletionNotices } from './notices.js';
export { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_OUTPUT_CHARS } from './context.js';
export type {
  AgentErrorCode,
  AgentExecutor,
  AgentLimits,
  AgentTaskDefaults,
  AgentTextContent,
  AgentTool,
  AgentToolContext,
  AgentToolError,
  AgentToolName,
  AgentToolOutput,
  AgentToolResult,
  AgentToolsOptions,
  BgKillResult,
  TaskEndFields,
  BgListResult,
  BgListRow,
  BgReadResult,
  BgStartResult,
  BgWaitResult,
  BgWriteResult,
  JsonSchema,
  JsonSchemaType,
  OutputView,
  WaitTaskState,
} from './types.js';

// Plain-object adapters for the common tool-calling APIs. They import no SDK, at run time or in
// their types: each result is a plain JSON shape that the SDK's own parameter type accepts
// structurally (checked against the real packages by the tests), so consumers without an SDK
// still typecheck, and `bgexec` keeps its three runtime dependencies.
import { fail } from './context.js';
import { formatResult } from './format.js';
import type { AgentTool, AgentToolContext, AgentToolOutput, JsonSchema } from './types.js';

/** A schema property as a plain, mutable JSON object. */
export type ToolParameterSchema = { [key: string]: unknown };

/**
 * A tool's input schema as a plain, mutable JSON object. Assignable without casts to OpenAI's
 * `FunctionParameters`, the Agents SDK's `JsonObjectSchemaStrict` (`tool({ parameters })`) and
 * the Vercel AI SDK's `JSONSchema7` (`jsonSchema(...)`).
 */
export type ToolParametersSchema = {
  /** Always `object`. */
  type: 'object';
  /** Schemas of the properties. */
  properties: { [name: string]: ToolParameterSchema };
  /** Required property names (every one, with `strict: true`). */
  required: string[];
  /** Always false: no property beyond `properties`. */
  additionalProperties: false;
};

/** One entry of the Chat Completions `tools` array (assignable to `ChatCompletionFunctionTool`). */
export type OpenAIChatTool = {
  /** Always `function`. */
  type: 'function';
  /** The function the model may call. */
  function: {
    /** Tool name. */
    name: string;
    /** Text for the model. */
    description: string;
    /** JSON Schema of the arguments. */
    parameters: ToolParametersSchema;
    /** Whether the schema keeps to the strict subset (the tools' `strict` option). */
    strict: boolean;
  };
};

/** One entry of the Responses API `tools` array (assignable to the `FunctionTool` of `openai`). */
export type OpenAIResponsesTool = {
  /** Always `function`. */
  type: 'function';
  /** Tool name. */
  name: string;
  /** Text for the model. */
  description: string;
  /** JSON Schema of the arguments. */
  parameters: ToolParametersSchema;
  /** Whether the schema keeps to the strict subset (the tools' `strict` option). */
  strict: boolean;
};

/**
 * A tool's input schema as a fresh, mutable plain object (changing it does not change the tool),
 * typed so that SDK parameter types accept it without casts: pass it to the Agents SDK's
 * `tool({ parameters, strict: true })` (with tools made with `strict: true`) or to the Vercel AI
 * SDK's `jsonSchema()`.
 */
export function toolParameters(tool: AgentTool): ToolParametersSchema {
  const s: JsonSchema = tool.inputSchema;
  // A JSON round trip gives a deep, mutable copy; the schemas hold only JSON values.
  const properties = JSON.parse(JSON.stringify(s.properties ?? {})) as { [name: string]: ToolParameterSchema };
  return { type: 'object', properties, required: [...(s.required ?? [])], additionalProperties: false };
}

/**
 * The `tools` array of the OpenAI Chat Completions API (`client.chat.completions.create`).
 * `strict` follows the tools: create them with `createAgentTools(ex, { strict: true })` for
 * strict function calling.
 */
export function toOpenAIChatTools(tools: readonly AgentTool[]): OpenAIChatTool[] {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: toolParameters(t), strict: t.strict } }));
}

/**
 * The `tools` array of the OpenAI Responses API (`client.responses.create`), which expects
 * `strict` on every function tool: create the tools with `strict: true`.
 */
export function toOpenAIResponsesTools(tools: readonly AgentTool[]): OpenAIResponsesTool[] {
  return tools.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: toolParameters(t), strict: t.strict }));
}

/**
 * Runs one function call a model made, by tool name, and resolves to what to send back
 * ({@link AgentToolOutput}: `text` for a string result, `content` for text parts). `args` is the
 * arguments as the API delivers them: a JSON string (OpenAI) or an already parsed value. An
 * unknown tool name or arguments that are not JSON resolve to an `invalid_input` result the
 * model can act on; like {@link AgentTool.call}, only an aborted `bg_wait` rejects.
 */
export async function callAgentTool(tools: readonly AgentTool[], name: string, args: unknown, context: AgentToolContext = {}): Promise<AgentToolOutput> {
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    return formatResult(fail('invalid_input', `There is no tool named ${JSON.stringify(name)}. The tools are ${tools.map((t) => t.name).join(', ')}.`));
  }
  let input = args;
  if (typeof args === 'string') {
    try {
      // Some models send "" for a call without arguments.
      input = args.trim() === '' ? {} : (JSON.parse(args) as unknown);
    } catch {
      return formatResult(fail('invalid_input', `${name}: the arguments are not valid JSON. Send a JSON object and call ${name} again.`));
    }
  }
  return tool.call(input, context);
}

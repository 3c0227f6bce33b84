import { describe, expect, it } from 'vitest';
import { createAgentTools } from '../../src/agent/index.js';
import type { JsonSchema } from '../../src/agent/index.js';
import { describeParameters, validateInput } from '../../src/agent/validate.js';
import { fakeExecutor } from '../helpers.js';

describe('createAgentTools', () => {
  it('returns the six tools with JSON Schemas and steering descriptions', () => {
    const { ex } = fakeExecutor();
    const tools = createAgentTools(ex);
    expect(tools.map((t) => t.name)).toEqual(['bg_start', 'bg_read', 'bg_wait', 'bg_kill', 'bg_list', 'bg_write']);
    for (const t of tools) {
      expect(t.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(t.description.length).toBeGreaterThan(50);
      // Plain JSON: survives a round trip unchanged (what MCP/OpenAI/Vercel receive).
      expect(JSON.parse(JSON.stringify(t.inputSchema))).toEqual(t.inputSchema);
      // Ranges are clamped by the handlers, so the schemas never refuse a number.
      expect(JSON.stringify(t.inputSchema)).not.toMatch(/"(minimum|maximum)"/);
    }
    const [start, read, wait] = tools;
    expect(start!.description).toMatch(/Do not poll: call bg_wait.*or end your turn and a completion notice will arrive/);
    expect(read!.description).toMatch(/never see the same bytes twice/);
    expect(wait!.description).toMatch(/never call bg_read or bg_list in a loop/);
    expect(start!.inputSchema.required).toEqual(['command']);
    expect(wait!.inputSchema.required).toEqual(['task_ids', 'timeout_ms']);
  });

  it('descriptions and schemas follow the configured budget and limits', () => {
    const { ex } = fakeExecutor();
    const [start, read] = createAgentTools(ex, { maxOutputBytes: 4096, limits: { maxStartWaitMs: 9000 } });
    // The output share of a 4096-character result: what the status, hint and notes leave.
    expect(read!.inputSchema.properties!.max_chars!.description).toMatch(/256\.\.3396, default 3396/);
    expect(start!.inputSchema.properties!.wait_ms!.description).toMatch(/0\.\.9000/);
  });

  it('rejects bad options at creation', () => {
    const { ex } = fakeExecutor();
    expect(() => createAgentTools(ex, { maxOutputBytes: 10 })).toThrow(/maxOutputBytes/);
    expect(() => createAgentTools(ex, { session: '' })).toThrow(/session/);
    expect(() => createAgentTools(ex, { limits: { maxWaitMs: -1 } })).toThrow(/limits.maxWaitMs/);
    expect(() => createAgentTools({} as never)).toThrow(/executor/);
  });

  it('handlers answer any input with a result, never an exception', async () => {
    const { ex } = fakeExecutor();
    for (const tool of createAgentTools(ex)) {
      for (const input of [undefined, null, 'text', 42, [], { task_id: 'x', task_ids: ['x'], timeout_ms: 1, command: '' }]) {
        const res = await tool.handler(input);
        expect(res.ok === true || (res.ok === false && typeof res.message === 'string')).toBe(true);
      }
    }
    await ex.shutdown();
  });
});

describe('validateInput', () => {
  const schema: JsonSchema = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 5 },
      n: { type: 'integer' },
      x: { type: 'number' },
      flag: { type: 'boolean' },
      mode: { type: 'string', enum: ['a', 'b'] },
      list: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2 },
      env: { type: 'object', additionalProperties: { type: 'string' } },
    },
    required: ['name'],
    additionalProperties: false,
  };

  it('accepts valid input and drops nulls of optional fields', () => {
    expect(validateInput(schema, { name: 'ab', n: 3, x: 1.5, flag: true, mode: 'b', list: ['q'], env: { K: 'v' }, n2: undefined })).toEqual({
      ok: true,
      value: { name: 'ab', n: 3, x: 1.5, flag: true, mode: 'b', list: ['q'], env: { K: 'v' } },
    });
    expect(validateInput(schema, { name: 'ab', n: null, mode: null })).toEqual({ ok: true, value: { name: 'ab' } });
  });

  it('collects every problem with a clear message', () => {
    const res = validateInput(schema, { name: '', n: 1.5, x: 'NaN', flag: 'yes', mode: 'c', list: ['a', 'b', 3], env: { K: 1 }, other: 1 });
    expect(res.ok).toBe(false);
    expect(res.ok === false && res.errors).toEqual([
      'name must not be empty',
      'n must be an integer, got 1.5',
      'x must be a number, got "NaN"',
      'flag must be true or false, got "yes"',
      'mode must be one of "a", "b", got "c"',
      'list must have at most 2 items, got 3',
      'list[2] must be a string, got 3',
      'env.K must be a string, got 1',
      'unknown parameter other (known: name, n, x, flag, mode, list, env)',
    ]);
    expect(validateInput(schema, { name: null })).toEqual({ ok: false, errors: ['name is required'] });
    expect(validateInput(schema, [1])).toEqual({ ok: false, errors: ['input must be an object, got an array'] });
  });

  it('describes parameters for error messages', () => {
    expect(describeParameters(schema)).toBe(
      'name (string, required), n (integer), x (number), flag (boolean), mode ("a"|"b"), list (string[]), env (object)',
    );
  });
});

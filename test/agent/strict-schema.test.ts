import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { createAgentTools, type JsonSchema } from '../../src/agent/index.js';
import { validateInput } from '../../src/agent/validate.js';
import { fakeExecutor } from '../helpers.js';
import { call, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

// The keywords of OpenAI's strict subset these schemas may use. Size keywords (minLength,
// maxLength, minItems, maxItems), formats, patterns and defaults stay out: the handlers check them.
const ALLOWED = new Set(['type', 'description', 'properties', 'required', 'additionalProperties', 'items', 'enum']);

/** Every rule of the strict subset, for one schema and everything inside it. */
function lint(schema: JsonSchema, path: string, problems: string[]): void {
  for (const key of Object.keys(schema)) if (!ALLOWED.has(key)) problems.push(`${path}: keyword ${key} is not in the strict subset`);
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (schema.type === undefined) problems.push(`${path}: no type`);
  if (schema.enum && types.includes('null') !== schema.enum.includes(null)) problems.push(`${path}: nullable type and enum disagree`);
  if (types.includes('object')) {
    if (schema.additionalProperties !== false) problems.push(`${path}: additionalProperties must be false`);
    const keys = Object.keys(schema.properties ?? {});
    if (keys.length === 0) problems.push(`${path}: an object needs properties`);
    if (JSON.stringify([...(schema.required ?? [])].sort()) !== JSON.stringify([...keys].sort())) {
      problems.push(`${path}: required must list every property (${keys.join(', ')})`);
    }
    for (const [k, p] of Object.entries(schema.properties ?? {})) lint(p, `${path}.${k}`, problems);
  } else if (schema.properties || schema.required || schema.additionalProperties !== undefined) {
    problems.push(`${path}: object keywords on a non-object`);
  }
  if (types.includes('array')) {
    if (!schema.items) problems.push(`${path}: an array needs items`);
    else lint(schema.items, `${path}[]`, problems);
  }
}

describe('strict schemas', () => {
  const { ex: fake } = fakeExecutor();
  const variants = {
    default: createAgentTools(fake, { strict: true }),
    'with transports': createAgentTools(fake, { strict: true, allowedTransports: ['local', 'build1'] }),
  };

  for (const [label, tools] of Object.entries(variants)) {
    it(`every tool's schema keeps to the strict subset (${label})`, () => {
      const problems: string[] = [];
      for (const t of tools) {
        expect(t.strict).toBe(true);
        expect(t.inputSchema.type).toBe('object'); // the root itself is never nullable
        lint(t.inputSchema, t.name, problems);
      }
      expect(problems).toEqual([]);
    });
  }

  it('makes exactly the optional properties nullable and keeps the required ones as they are', () => {
    const loose = createAgentTools(fake);
    for (const [i, t] of variants.default.entries()) {
      const required = new Set(loose[i]!.inputSchema.required ?? []);
      for (const [k, p] of Object.entries(t.inputSchema.properties!)) {
        const nullable = Array.isArray(p.type) && p.type.includes('null');
        expect(nullable, `${t.name}.${k}`).toBe(!required.has(k));
      }
    }
    const start = variants.default[0]!.inputSchema.properties!;
    // No open map: env is a list of name/value pairs.
    expect(start.env).toMatchObject({ type: ['array', 'null'], items: { type: 'object', required: ['name', 'value'], additionalProperties: false } });
    expect(variants.default[4]!.inputSchema.properties!.status!.enum).toContain(null);
  });

  it('non-strict schemas stay pleasant: only the real requirements are required', () => {
    const loose = createAgentTools(fake);
    expect(loose.map((t) => t.strict)).toEqual([false, false, false, false, false, false]);
    expect(loose.map((t) => t.inputSchema.required)).toEqual([['command'], ['task_id'], ['task_ids', 'timeout_ms'], ['task_id'], [], ['task_id', 'input']]);
    expect(loose[0]!.inputSchema.properties!.env!.type).toBe('object');
  });
});

describe('strict-mode calls', () => {
  // What a strict-mode model sends when it means "not given": every field, null or empty.
  it('treats null, "" and meaningless zeros as not given (real processes)', async () => {
    const s = await realSetup({ strict: true });
    ex = s.ex;
    const schemas = Object.fromEntries(Object.values(s.tools).map((t) => [t.name, t.inputSchema]));
    const startInput = { command: 'sleep 0.3; echo done', cwd: '', env: [], timeout_ms: 0, priority: null, wait_ms: 5000, stdin: '', tty: null };
    expect(validateInput(schemas.bg_start!, startInput).ok).toBe(true);
    const start = await call(s.tools, 'bg_start', startInput);
    // timeout_ms 0 is no timeout (not a kill after 100 ms), cwd "" the default directory.
    expect(start).toMatchObject({ ok: true, status: 'completed', exit_code: 0 });
    expect(start.stdout.text).toBe('done\n');
    expect(start.clamped).toBeUndefined();

    const readInput = { task_id: start.task_id, cursor: 0, max_chars: 0, tail_lines: 0, grep: '', stream: null, raw: null };
    expect(validateInput(schemas.bg_read!, readInput).ok).toBe(true);
    const read = await call(s.tools, 'bg_read', readInput);
    expect(read).toMatchObject({ ok: true, stream: 'stdout', text: 'done\n', eof: true });
    expect(read.tail).toBeUndefined();
    expect(read.grep).toBeUndefined();
    expect(read.clamped).toBeUndefined();

    const slow = await call(s.tools, 'bg_start', { ...startInput, command: 'sleep 0.2; echo later', wait_ms: 0 });
    const waitInput = { task_ids: [slow.task_id], timeout_ms: 10_000, until: null, pattern: '', stream: null, cursor: null };
    expect(validateInput(schemas.bg_wait!, waitInput).ok).toBe(true);
    const waited = await call(s.tools, 'bg_wait', waitInput);
    expect(waited).toMatchObject({ ok: true, outcome: 'exited', exit_code: 0 });
    expect(waited.clamped).toBeUndefined();

    const list = await call(s.tools, 'bg_list', { status: null, limit: 0 });
    expect(list).toMatchObject({ ok: true, total: 2 });
    expect(list.tasks).toHaveLength(2);
    expect(list.clamped).toBeUndefined();

    const kill = await call(s.tools, 'bg_kill', { task_id: slow.task_id, grace_ms: null });
    expect(kill).toMatchObject({ ok: true, already_finished: true });
  });

  it('passes env given as name/value pairs and rejects malformed pairs clearly', async () => {
    const s = await realSetup({ strict: true });
    ex = s.ex;
    const base = { cwd: null, timeout_ms: null, priority: null, wait_ms: 5000 };
    const r = await call(s.tools, 'bg_start', { ...base, command: 'echo "$GREETING $NAME"', env: [{ name: 'GREETING', value: 'hi' }, { name: 'NAME', value: 'you' }] });
    expect(r.stdout.text).toBe('hi you\n');
    const bad = await call(s.tools, 'bg_start', { ...base, command: 'true', env: [{ name: '', value: 'x' }, { name: 'A' }] });
    expect(bad).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(bad.message).toMatch(/env\[0\]\.name must be a non-empty string; env\[1\]\.value must be a string/);
    // Non-strict tools take the map form and the pair form alike.
    const loose = createAgentTools(s.ex);
    const map = await loose[0]!.handler({ command: 'echo $X', env: { X: 'map' }, wait_ms: 5000 });
    const pairs = await loose[0]!.handler({ command: 'echo $X', env: [{ name: 'X', value: 'pairs' }], wait_ms: 5000 });
    expect([(map as { stdout?: { text: string } }).stdout?.text, (pairs as { stdout?: { text: string } }).stdout?.text]).toEqual(['map\n', 'pairs\n']);
  });

  it('keeps the limits the strict schemas cannot state', async () => {
    const s = await realSetup({ strict: true });
    ex = s.ex;
    const empty = await call(s.tools, 'bg_start', { command: '', cwd: null, env: null, timeout_ms: null, priority: null, wait_ms: null });
    expect(empty).toMatchObject({ ok: false, error: 'invalid_input' });
    expect(empty.message).toMatch(/command must not be empty/);
    const many = await call(s.tools, 'bg_wait', { task_ids: Array.from({ length: 21 }, (_, i) => `t${i}`), timeout_ms: 0, until: null, pattern: null, stream: null, cursor: null });
    expect(many.message).toMatch(/task_ids must have at most 20 items/);
    const needPattern = await call(s.tools, 'bg_wait', { task_ids: ['x'], timeout_ms: 0, until: 'pattern', pattern: '', stream: null, cursor: null });
    expect(needPattern).toMatchObject({ ok: false });
  });
});

import { setOwn } from '../args.js';
import type { AgentToolName } from './types.js';

// A model in strict mode must send every parameter, so it fills the ones it does not mean with
// null, "" or 0. Where such a value means nothing (a 0 ms timeout, an empty regex, no lines of a
// tail) it is taken as "not given", never as an instruction. Values that do mean something stay:
// cursor 0 (read from the start), wait_ms 0 (do not wait), priority 0, grace_ms 0.
const BLANK: Record<AgentToolName, Record<string, (v: unknown) => boolean>> = {
  bg_start: {
    cwd: (v) => v === '',
    timeout_ms: (v) => v === 0,
    transport: (v) => v === '',
    env: (v) => (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0),
    stdin: (v) => v === '',
  },
  bg_read: {
    grep: (v) => v === '',
    tail_lines: (v) => v === 0,
    max_chars: (v) => v === 0,
    stream: (v) => v === '',
  },
  bg_wait: {
    pattern: (v) => v === '',
    until: (v) => v === '',
    stream: (v) => v === '',
  },
  bg_kill: {},
  bg_write: {},
  bg_list: {
    status: (v) => v === '',
    limit: (v) => v === 0,
  },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Outcome of {@link normalizeInput}. */
export type Normalized = { ok: true; value: unknown } | { ok: false; errors: string[] };

function envFromArray(list: unknown[], errors: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  list.forEach((item, i) => {
    if (!isPlainObject(item)) return void errors.push(`env[${i}] must be an object {"name": …, "value": …}`);
    const { name, value } = item;
    if (typeof name !== 'string' || name === '') return void errors.push(`env[${i}].name must be a non-empty string`);
    if (typeof value !== 'string') return void errors.push(`env[${i}].value must be a string`);
    const extra = Object.keys(item).filter((k) => k !== 'name' && k !== 'value');
    if (extra.length > 0) return void errors.push(`unknown parameter env[${i}].${extra[0]} (known: name, value)`);
    setOwn(env, name, value);
  });
  return env;
}

/**
 * Brings a call's arguments to the one form the handlers check: "not given" values dropped
 * (see above), `env` as `[{name, value}]` (the strict form) turned into a map, and `bg_read`'s
 * former `max_bytes` read as `max_chars`. Anything else is left for the schema check.
 */
export function normalizeInput(name: AgentToolName, input: unknown): Normalized {
  if (input === undefined || input === null) return { ok: true, value: {} };
  if (!isPlainObject(input)) return { ok: true, value: input };
  const blank = BLANK[name];
  const out: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [key, v] of Object.entries(input)) {
    if (v === undefined || v === null) continue;
    if (Object.hasOwn(blank, key) && blank[key]!(v)) continue;
    setOwn(out, key, v);
  }
  if (name === 'bg_read' && out.max_bytes !== undefined && out.max_chars === undefined) {
    if (out.max_bytes !== 0) out.max_chars = out.max_bytes;
    delete out.max_bytes;
  }
  if (name === 'bg_start' && Array.isArray(out.env)) out.env = envFromArray(out.env, errors);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

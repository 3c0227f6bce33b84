import { setOwn } from '../args.js';
import type { JsonSchema, JsonSchemaType } from './types.js';

/** Outcome of {@link validateInput}. */
export type Validation = { ok: true; value: Record<string, unknown> } | { ok: false; errors: string[] };

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The one non-null type of a schema whose `type` may be a nullable pair. */
function mainType(schema: JsonSchema): JsonSchemaType | undefined {
  return Array.isArray(schema.type) ? (schema.type as readonly JsonSchemaType[]).find((t) => t !== 'null') : (schema.type as JsonSchemaType | undefined);
}

function check(schema: JsonSchema, value: unknown, path: string, errors: string[]): unknown {
  if (value === null && Array.isArray(schema.type) && schema.type.includes('null')) return null;
  switch (mainType(schema)) {
    case 'string':
      if (typeof value !== 'string') return void errors.push(`${path} must be a string, got ${describe(value)}`);
      if (schema.minLength !== undefined && value.length < schema.minLength) {
        errors.push(schema.minLength === 1 ? `${path} must not be empty` : `${path} must have at least ${schema.minLength} characters`);
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        errors.push(`${path} must have at most ${schema.maxLength} characters, got ${value.length}`);
      }
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        return void errors.push(`${path} must be an integer, got ${describe(value)}`);
      }
      break;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return void errors.push(`${path} must be a number, got ${describe(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return void errors.push(`${path} must be true or false, got ${describe(value)}`);
      break;
    case 'array': {
      if (!Array.isArray(value)) return void errors.push(`${path} must be an array, got ${describe(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        errors.push(`${path} must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        errors.push(`${path} must have at most ${schema.maxItems} items, got ${value.length}`);
      }
      const items = schema.items;
      return items ? value.map((item, i) => check(items, item, `${path}[${i}]`, errors)) : value;
    }
    case 'object':
      return checkObject(schema, value, path, errors);
    default:
      break;
  }
  if (schema.enum && !schema.enum.includes(value as string | number)) {
    errors.push(`${path} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${describe(value)}`);
  }
  return value;
}

function checkObject(schema: JsonSchema, value: unknown, path: string, errors: string[]): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) {
    errors.push(`${path || 'input'} must be an object, got ${describe(value)}`);
    return undefined;
  }
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = path ? `${path}.${key}` : key;
    // Own properties only: a model's "__proto__" or "constructor" is an unknown parameter.
    const sub = Object.hasOwn(props, key) ? props[key] : undefined;
    // null stands for "not given" (OpenAI strict mode sends null for optional parameters).
    if (v === undefined || (v === null && sub)) continue; // a null required one is reported below
    if (sub) setOwn(out, key, check(sub, v, name, errors));
    else if (isPlainObject(schema.additionalProperties)) setOwn(out, key, check(schema.additionalProperties, v, name, errors));
    else if (schema.additionalProperties === false) {
      const known = Object.keys(props);
      errors.push(`unknown parameter ${name}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
    } else setOwn(out, key, v);
  }
  for (const key of required) {
    const sub = props[key];
    const nullable = sub !== undefined && Array.isArray(sub.type) && sub.type.includes('null');
    if (value[key] === undefined || (value[key] === null && !nullable)) errors.push(`${path ? `${path}.${key}` : key} is required`);
  }
  return out;
}

/**
 * Checks `input` against an object schema of the {@link JsonSchema} subset: types, required,
 * unknown properties, enums, string lengths and array sizes. Numeric ranges are deliberately
 * not part of the schemas: the tools clamp them and say so instead of refusing the call.
 * `null` for an optional property counts as absent.
 */
export function validateInput(schema: JsonSchema, input: unknown): Validation {
  const errors: string[] = [];
  const value = checkObject(schema, input ?? {}, '', errors);
  return errors.length > 0 || value === undefined ? { ok: false, errors } : { ok: true, value };
}

/** One line per parameter (`name (type, required): description`), for error messages. */
export function describeParameters(schema: JsonSchema): string {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .map(([name, p]) => {
      const t = mainType(p);
      const type = p.enum ? p.enum.map((e) => JSON.stringify(e)).join('|') : t === 'array' ? `${(p.items && mainType(p.items)) ?? 'any'}[]` : (t ?? 'any');
      return `${name} (${type}${required.has(name) ? ', required' : ''})`;
    })
    .join(', ');
}

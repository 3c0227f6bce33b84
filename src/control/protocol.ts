import { join } from 'node:path';
import { describeValue } from '../args.js';
import { InvalidArgumentError } from '../errors.js';
import type { TerminalStatus } from '../task.js';

/**
 * Control requests: how another process (the `bgexec` command) asks the executor that owns a
 * JSON store directory to act. A request is one JSON file `<dir>/requests/<id>.json`, created
 * atomically (temp file + rename) with mode 0600; the owner claims it (deletes it), acts, and
 * answers with `<dir>/responses/<id>.json`. Both directories are mode 0700. See
 * docs/architecture.md, "Control requests".
 */

/** Version of the request and response formats. */
export const CONTROL_VERSION = 1;
/** Directory of request files, inside the store directory. */
export const REQUESTS_DIR = 'requests';
/** Directory of response files, inside the store directory. */
export const RESPONSES_DIR = 'responses';
/** Request ids (and so file names): URL-safe, at most 64 characters. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Largest request file the owner reads (64 KiB); a larger one is refused unread. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Most bytes of input one `input` request carries (base64 in the request file). */
export const MAX_INPUT_BYTES = 32 * 1024;
/** Longest `by` label kept. */
export const MAX_BY_CHARS = 200;

/** Paths of the control directories of the store at `dir`. */
export function controlPaths(dir: string): { requests: string; responses: string } {
  return { requests: join(dir, REQUESTS_DIR), responses: join(dir, RESPONSES_DIR) };
}

/** A request, as the owner accepts it (after {@link parseControlRequest}). */
export type ControlRequest =
  | { op: 'ping' }
  | { op: 'cancel'; taskId: string; graceMs?: number }
  | { op: 'retry'; taskId: string }
  | { op: 'priority'; taskId: string; priority: number }
  | { op: 'pause'; group?: string }
  | { op: 'resume'; group?: string }
  | { op: 'submit'; spec: Record<string, unknown> }
  | { op: 'input'; taskId: string; data?: string; close?: boolean }
  | { op: 'prune'; olderThanMs?: number; keep?: number; statuses?: TerminalStatus[] };

/** Every request op. */
export type ControlOp = ControlRequest['op'];

/** The body of a request file: a {@link ControlRequest} plus the envelope. */
export type ControlRequestFile = ControlRequest & {
  /** Always {@link CONTROL_VERSION}. */
  version: number;
  /** Who asks (free text, e.g. `bgexec kill (user alice, pid 4242)`); kept in the record of a cancelled task. */
  by?: string;
};

/** The body of a response file. */
export type ControlResponse = {
  /** Always {@link CONTROL_VERSION}. */
  version: number;
  /** The request id (the request file's name without `.json`). */
  id: string;
  /** When the owner answered (ms since the epoch). */
  at: number;
  /** Process id of the owner that answered. */
  pid: number;
} & (
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; field?: string } }
);

// Keys each op accepts besides `version`, `op` and `by`.
const KEYS: Record<ControlOp, readonly string[]> = {
  ping: [],
  cancel: ['taskId', 'graceMs'],
  retry: ['taskId'],
  priority: ['taskId', 'priority'],
  pause: ['group'],
  resume: ['group'],
  submit: ['spec'],
  input: ['taskId', 'data', 'close'],
  prune: ['olderThanMs', 'keep', 'statuses'],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the parsed body of a request file: envelope, op and the op's fields (types only; the
 * executor method that serves it checks values as it does for any caller).
 * @throws InvalidArgumentError naming the offending field.
 */
export function parseControlRequest(value: unknown): { request: ControlRequest; by?: string } {
  if (!isObject(value)) throw new InvalidArgumentError('request', `must be a JSON object, got ${describeValue(value)}`);
  if (value.version !== CONTROL_VERSION) throw new InvalidArgumentError('version', `must be ${CONTROL_VERSION}, got ${describeValue(value.version)}`);
  const op = value.op;
  if (typeof op !== 'string' || !Object.hasOwn(KEYS, op)) {
    throw new InvalidArgumentError('op', `must be one of ${Object.keys(KEYS).join(', ')}, got ${describeValue(op)}`);
  }
  const allowed = new Set(['version', 'op', 'by', ...KEYS[op as ControlOp]]);
  for (const key of Object.keys(value)) if (!allowed.has(key)) throw new InvalidArgumentError(key, `is not a field of a ${op} request`);
  const by = value.by;
  if (by !== undefined && typeof by !== 'string') throw new InvalidArgumentError('by', `must be a string, got ${describeValue(by)}`);
  const str = (k: string, optional: boolean): void => {
    const v = value[k];
    if (v === undefined ? !optional : typeof v !== 'string') throw new InvalidArgumentError(k, `must be a string, got ${describeValue(v)}`);
  };
  const num = (k: string, optional: boolean): void => {
    const v = value[k];
    if (v === undefined ? !optional : typeof v !== 'number') throw new InvalidArgumentError(k, `must be a number, got ${describeValue(v)}`);
  };
  switch (op as ControlOp) {
    case 'cancel':
      str('taskId', false);
      num('graceMs', true);
      break;
    case 'retry':
      str('taskId', false);
      break;
    case 'priority':
      str('taskId', false);
      num('priority', false);
      break;
    case 'pause':
    case 'resume':
      str('group', true);
      break;
    case 'submit':
      if (!isObject(value.spec)) throw new InvalidArgumentError('spec', `must be an object, got ${describeValue(value.spec)}`);
      break;
    case 'prune':
      num('olderThanMs', true);
      num('keep', true);
      if (value.statuses !== undefined && !(Array.isArray(value.statuses) && value.statuses.every((s) => typeof s === 'string'))) {
        throw new InvalidArgumentError('statuses', `must be an array of strings, got ${describeValue(value.statuses)}`);
      }
      break;
    case 'input': {
      str('taskId', false);
      str('data', true);
      const data = value.data as string | undefined;
      // base64 of at most MAX_INPUT_BYTES; Buffer.from would skip anything else silently.
      const bytes = data === undefined ? 0 : (data.length / 4) * 3 - (data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0);
      if (data !== undefined && (data.length % 4 !== 0 || bytes > MAX_INPUT_BYTES || !/^[A-Za-z0-9+/]*={0,2}$/.test(data))) {
        throw new InvalidArgumentError('data', `must be base64 of at most ${MAX_INPUT_BYTES} bytes`);
      }
      if (value.close !== undefined && typeof value.close !== 'boolean') throw new InvalidArgumentError('close', `must be a boolean, got ${describeValue(value.close)}`);
      break;
    }
    case 'ping':
      break;
  }
  const { version: _v, by: _b, ...request } = value;
  return { request: request as ControlRequest, ...(by !== undefined ? { by: by.slice(0, MAX_BY_CHARS) } : {}) };
}

import { InvalidSpecError } from './errors.js';
import type { TaskResources } from './task.js';
import { refusedOptionReason } from './transports/slurm/refused-options.js';

const RESOURCE_KEYS = new Set(['cpus', 'memoryMb', 'gpus', 'timeLimitMinutes', 'extraArgs']);
const MAX_EXTRA = 64;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return String(v);
  return typeof v;
}

function count(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 1e9) {
    throw new InvalidSpecError(field, `must be an integer from 1 to 1e9, got ${describe(v)}`);
  }
  return v;
}

/** Validates `spec.resources`: positive integer counts, extra options that start with `-` and that the Slurm transport does not refuse (see `refusedOptionReason`). */
export function checkResources(v: unknown): TaskResources {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InvalidSpecError('resources', `must be an object, got ${describe(v)}`);
  const input = v as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!RESOURCE_KEYS.has(key)) throw new InvalidSpecError(`resources.${key}`, 'is not a known option (cpus, memoryMb, gpus, timeLimitMinutes, extraArgs)');
  }
  const out: { -readonly [K in keyof TaskResources]: TaskResources[K] } = {};
  if (input['cpus'] !== undefined) out.cpus = count('resources.cpus', input['cpus']);
  if (input['memoryMb'] !== undefined) out.memoryMb = count('resources.memoryMb', input['memoryMb']);
  if (input['gpus'] !== undefined) out.gpus = count('resources.gpus', input['gpus']);
  if (input['timeLimitMinutes'] !== undefined) out.timeLimitMinutes = count('resources.timeLimitMinutes', input['timeLimitMinutes']);
  const extra = input['extraArgs'];
  if (extra !== undefined) {
    if (!Array.isArray(extra)) throw new InvalidSpecError('resources.extraArgs', `must be an array of strings, got ${describe(extra)}`);
    if (extra.length > MAX_EXTRA) throw new InvalidSpecError('resources.extraArgs', `must have at most ${MAX_EXTRA} entries`);
    out.extraArgs = extra.map((a: unknown, i) => {
      const field = `resources.extraArgs[${i}]`;
      if (typeof a !== 'string') throw new InvalidSpecError(field, `must be a string, got ${describe(a)}`);
      if (!a.startsWith('-')) throw new InvalidSpecError(field, `must be an option starting with "-", got ${JSON.stringify(a.slice(0, 40))}`);
      if (/[\0\n\r]/.test(a) || a.length > 4096) throw new InvalidSpecError(field, 'must be a single line of at most 4096 characters');
      // Options the Slurm transport sets itself or that break its guarantees, however spelled.
      const refused = refusedOptionReason(a);
      if (refused !== undefined) throw new InvalidSpecError(field, `${JSON.stringify(a.split('=')[0])} ${refused}`);
      return a;
    });
  }
  return out;
}

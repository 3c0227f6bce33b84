import { InvalidArgumentError } from '../../errors.js';
import type { TransportHandle } from '../../task.js';
import { parseMetaFile } from '../job-protocol/markers.js';
import { isValidAttempt, isValidId } from '../job-protocol/quote.js';
import type { ReplyItem } from './reply.js';

/** `<taskId>-<attempt>`: the run directory's name. */
export function leafOf(taskId: string, attempt: number): string {
  return `${taskId}-${attempt}`;
}

/** Splits a run directory name back into task id and attempt, or undefined. */
export function parseLeaf(leaf: string): { taskId: string; attempt: number } | undefined {
  const m = /^(.+)-([1-9][0-9]{0,14})$/.exec(leaf);
  if (!m || !isValidId(m[1])) return undefined;
  const attempt = Number(m[2]);
  return isValidAttempt(attempt) ? { taskId: m[1], attempt } : undefined;
}

/**
 * The remote run directory of a handle of `kind`, checked: valid ids, an absolute path without
 * NUL or newline that ends in `/jobs/<taskId>-<attempt>` (cleanup removes it recursively).
 */
export function runDirOf(handle: TransportHandle, kind: string): { runDir: string; leaf: string } {
  if (handle === null || typeof handle !== 'object' || handle.kind !== kind) {
    throw new InvalidArgumentError('handle', `not a ${kind} handle (kind ${String(handle?.kind)})`);
  }
  if (!isValidId(handle.taskId) || !isValidAttempt(handle.attempt)) throw new InvalidArgumentError('handle', 'invalid task id or attempt');
  const leaf = leafOf(handle.taskId, handle.attempt);
  const dir = handle.runDir;
  if (typeof dir !== 'string' || !dir.startsWith('/') || /[\0\n]/.test(dir) || !dir.endsWith(`/jobs/${leaf}`)) {
    throw new InvalidArgumentError('handle', `runDir ${JSON.stringify(dir)} is not a run directory of ${leaf}`);
  }
  return { runDir: dir, leaf };
}

/** A handle from a `P` line of a probe or list reply. */
export function handleFromProbe(
  kind: string,
  host: string,
  root: string,
  item: Extract<ReplyItem, { t: 'P'; found: true }>,
  bootId: string | undefined,
): TransportHandle | undefined {
  const ids = parseLeaf(item.leaf);
  if (!ids) return undefined;
  const meta = parseMetaFile(`${item.meta}\n`);
  return {
    kind,
    taskId: ids.taskId,
    attempt: ids.attempt,
    runDir: `${root}/jobs/${item.leaf}`,
    ...(item.pid === undefined ? {} : { pid: item.pid }),
    ...(item.pgid === undefined ? {} : { pgid: item.pgid }),
    bootId: meta?.bootId ?? bootId ?? 'unknown',
    detached: meta?.detached ?? false,
    outlivesExecutor: true,
    startedAt: meta?.startedAt ?? Date.now(),
    host,
  };
}

/** An environment name a remote `export` accepts. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

import { randomBytes } from 'node:crypto';
import { existsSync, type FSWatcher, watch } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BgexecError } from '../errors.js';
import { FILE_MODE, writeFileAtomic } from '../stores/atomic-write.js';
import { CONTROL_VERSION, controlPaths, type ControlRequest, type ControlResponse } from './protocol.js';

/** Options of {@link sendControlRequest}. */
export interface SendControlOptions {
  /** Give up (and withdraw the request if it was not claimed yet) after this many ms. */
  timeoutMs: number;
  /** Who asks; kept in the record of a task the request cancels. */
  by?: string;
  /** Checked about once a second while waiting: false ends the wait with `NO_OWNER`. */
  ownerAlive?: () => Promise<boolean>;
  /** Period of the rescan that backs up the file watch (default 100 ms). */
  pollMs?: number;
}

/** Why a request got no answer: `NO_OWNER` (nobody serves the store) or `NO_ANSWER` (timeout). */
export class ControlRequestError extends BgexecError {
  /** `NO_OWNER` or `NO_ANSWER`. */
  readonly reason: 'NO_OWNER' | 'NO_ANSWER';
  constructor(reason: 'NO_OWNER' | 'NO_ANSWER', message: string) {
    super(reason === 'NO_ANSWER' ? 'WAIT_TIMEOUT' : 'NOT_STARTED', message);
    this.reason = reason;
  }
}

/** A fresh request id: time-ordered, random, valid as a file name. */
export function newRequestId(): string {
  return `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`;
}

/**
 * Drops `request` into the store's request directory (atomically, mode 0600) and waits for the
 * owner's response file, which it reads and removes. Throws {@link ControlRequestError} when
 * the store has no control directory or no live owner, or when no answer came in time.
 */
export async function sendControlRequest(dir: string, request: ControlRequest, options: SendControlOptions): Promise<ControlResponse> {
  const paths = controlPaths(dir);
  if (!existsSync(paths.requests)) {
    throw new ControlRequestError('NO_OWNER', `no executor has served control requests in ${dir} (no ${paths.requests})`);
  }
  const id = newRequestId();
  const requestPath = join(paths.requests, `${id}.json`);
  const responsePath = join(paths.responses, `${id}.json`);
  const body = { version: CONTROL_VERSION, ...request, ...(options.by !== undefined ? { by: options.by } : {}) };
  await writeFileAtomic(requestPath, `${JSON.stringify(body)}\n`, { fsync: false, mode: FILE_MODE });

  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  try {
    try {
      watcher = watch(paths.responses, { persistent: false }, () => wake?.());
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // polling alone
    }
    const deadline = Date.now() + options.timeoutMs;
    let nextOwnerCheck = Date.now() + 1000;
    for (;;) {
      const response = await readResponse(responsePath);
      if (response) {
        await unlink(responsePath).catch(() => undefined);
        return response;
      }
      const now = Date.now();
      if (now >= deadline) {
        const withdrawn = await unlink(requestPath).then(() => true, () => false);
        throw new ControlRequestError(
          'NO_ANSWER',
          withdrawn
            ? `the owner of ${dir} did not pick up the request within ${options.timeoutMs} ms (withdrawn)`
            : `the owner of ${dir} took the request but did not answer within ${options.timeoutMs} ms; it may still act on it`,
        );
      }
      if (options.ownerAlive && now >= nextOwnerCheck) {
        nextOwnerCheck = now + 1000;
        if (!(await options.ownerAlive())) {
          await unlink(requestPath).catch(() => undefined);
          // An answer written just before the owner exited still counts.
          const last = await readResponse(responsePath);
          if (last) {
            await unlink(responsePath).catch(() => undefined);
            return last;
          }
          throw new ControlRequestError('NO_OWNER', `the process owning ${dir} is gone`);
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(options.pollMs ?? 100, Math.max(1, deadline - now)));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    watcher?.close();
  }
}

async function readResponse(path: string): Promise<ControlResponse | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as ControlResponse;
    return typeof value === 'object' && value !== null && typeof value.ok === 'boolean' ? value : undefined;
  } catch {
    return undefined; // responses are renamed into place, so this is not expected; wait on
  }
}

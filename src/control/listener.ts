import { closeSync, constants, fstatSync, openSync, readSync, type FSWatcher, watch } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, StoreError, toErrorInfo, type ErrorInfo } from '../errors.js';
import { DIR_MODE, FILE_MODE, isTempName, writeFileAtomic } from '../stores/atomic-write.js';
import { serveControlRequest, type ControlTarget } from './handlers.js';
import { CONTROL_VERSION, controlPaths, MAX_REQUEST_BYTES, parseControlRequest, type ControlResponse } from './protocol.js';

/** Options of {@link ControlListener.open}. */
export interface ControlListenerOptions {
  /** The store directory the executor owns. */
  dir: string;
  /** The executor the requests steer. */
  target: ControlTarget;
  /** Where problems go (a malformed request, an unwritable response): the executor's `error` event. */
  report: (err: unknown, taskId?: string) => void;
  /** Period of the rescan that backs up the file watch (default 1000 ms). */
  rescanMs?: number;
}

const REQUEST_FILE = /^([A-Za-z0-9_-]{1,64})\.json$/;
// Requests served at once; more wait in the directory for the next scan.
const MAX_IN_FLIGHT = 32;
// Directory passes of one scan (each a readdir); the periodic rescan catches whatever is left.
const MAX_PASSES = 8;
// A temp file this old belongs to a writer that died before its rename.
const STALE_TEMP_MS = 60_000;
// Responses nobody picked up are removed after this long, at most this many per rescan.
const STALE_RESPONSE_MS = 10 * 60_000;
const MAX_STALE_PER_TICK = 256;
const MAX_REMEMBERED = 1024;
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

type Claimed = { id: string; text: string } | { id: string; problem: string };

/**
 * Serves control requests dropped into `<dir>/requests/` by other processes (the `bgexec`
 * command): a file watch wakes it at once, a periodic rescan backs the watch up. Each request
 * file is read (a regular file of this user, at most 64 KiB), deleted, checked, served and
 * answered by `<dir>/responses/<id>.json`. Nothing a request holds can throw out of it: a
 * malformed one gets an error response and is reported, and the owner goes on.
 */
export class ControlListener {
  readonly #o: Required<ControlListenerOptions>;
  readonly #requests: string;
  readonly #responses: string;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #kick: NodeJS.Immediate | undefined;
  #closed = false;
  #scanning = false;
  #again = false;
  #inFlight = 0;
  // Names already reported as junk that could not be removed, so they are reported once.
  readonly #reported = new Set<string>();

  private constructor(options: ControlListenerOptions) {
    this.#o = { rescanMs: 1000, ...options };
    const paths = controlPaths(options.dir);
    this.#requests = paths.requests;
    this.#responses = paths.responses;
  }

  /**
   * Creates the control directories (mode 0700; an existing one must belong to this user) and
   * starts listening. Rejects with `STORE_FAILED` when a directory is unusable.
   */
  static async open(options: ControlListenerOptions): Promise<ControlListener> {
    const listener = new ControlListener(options);
    await ownDir(listener.#requests);
    await ownDir(listener.#responses);
    listener.#start();
    return listener;
  }

  /** Stops listening. Requests being served still get their response. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#kick !== undefined) clearImmediate(this.#kick);
    this.#timer = undefined;
    this.#kick = undefined;
  }

  #start(): void {
    try {
      // Not persistent: a listener never keeps the owner's process alive by itself.
      this.#watcher = watch(this.#requests, { persistent: false }, () => this.#wake());
      this.#watcher.on('error', () => {
        // The rescan goes on without the watch (e.g. the directory was replaced).
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch {
      this.#watcher = undefined; // no inotify watches left: the rescan alone serves
    }
    this.#timer = setInterval(() => {
      this.#wake();
      void this.#dropStaleResponses();
    }, this.#o.rescanMs);
    this.#timer.unref();
    this.#wake();
  }

  // Several events of one tick make one scan.
  #wake(): void {
    if (this.#closed || this.#kick !== undefined) return;
    this.#kick = setImmediate(() => {
      this.#kick = undefined;
      void this.#scan();
    });
  }

  async #scan(): Promise<void> {
    if (this.#scanning) {
      this.#again = true;
      return;
    }
    this.#scanning = true;
    try {
      for (let pass = 0; pass < MAX_PASSES && !this.#closed; pass++) {
        this.#again = false;
        await this.#pass();
        if (!this.#again) break;
      }
    } catch (err) {
      this.#o.report(err);
    } finally {
      this.#scanning = false;
    }
  }

  async #pass(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#requests);
    } catch (err) {
      // Gone with the store directory itself (removed under a running executor): nothing to serve.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !this.#reported.has('')) {
        this.#o.report(new StoreError('STORE_FAILED', `cannot read control requests in ${this.#requests}: ${(err as Error).message}`, { cause: err }));
      }
      this.#remember('');
      return;
    }
    for (const name of names) {
      if (this.#closed || this.#inFlight >= MAX_IN_FLIGHT) return;
      if (name.startsWith('.')) {
        if (isTempName(name)) await this.#dropIfOld(join(this.#requests, name), STALE_TEMP_MS);
        continue;
      }
      const id = REQUEST_FILE.exec(name)?.[1];
      if (id === undefined) {
        await this.#junk(name);
        continue;
      }
      const claimed = await this.#claim(id);
      if (claimed === undefined) continue;
      this.#inFlight++;
      void this.#serve(claimed).finally(() => {
        this.#inFlight--;
        this.#wake();
      });
    }
  }

  // Reads and deletes a request file; undefined when it was gone (claimed or withdrawn).
  async #claim(id: string): Promise<Claimed | undefined> {
    const path = join(this.#requests, `${id}.json`);
    let claimed: Claimed = { id, problem: 'unreadable' };
    let fd: number;
    try {
      fd = openSync(path, OPEN_FLAGS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      claimed = { id, problem: `cannot open: ${code ?? String(err)}` };
      fd = -1;
    }
    if (fd >= 0) {
      try {
        const st = fstatSync(fd);
        if (!st.isFile()) claimed = { id, problem: 'not a regular file' };
        // Root could write anywhere anyway; anyone else must be the owner's own user.
        else if (typeof process.getuid === 'function' && st.uid !== process.getuid() && st.uid !== 0) claimed = { id, problem: `owned by uid ${st.uid}, not by this user` };
        else if (st.size > MAX_REQUEST_BYTES) claimed = { id, problem: `${st.size} bytes, larger than ${MAX_REQUEST_BYTES}` };
        else {
          const buf = Buffer.alloc(st.size);
          let length = 0;
          for (let n = -1; n !== 0 && length < buf.length; length += n) n = readSync(fd, buf, length, buf.length - length, null);
          claimed = { id, text: buf.subarray(0, length).toString('utf8') };
        }
      } catch (err) {
        claimed = { id, problem: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
      } finally {
        closeSync(fd);
      }
    }
    try {
      // A directory named like a request is answered too, once removed (if it is empty).
      await unlink(path).catch((err: NodeJS.ErrnoException) => (err.code === 'EISDIR' || err.code === 'EPERM' ? rmdir(path) : Promise.reject(err)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // withdrawn by its sender
      if (!this.#reported.has(path)) this.#o.report(new StoreError('STORE_FAILED', `cannot remove control request ${path}: ${(err as Error).message}`, { cause: err }));
      this.#remember(path);
      return undefined;
    }
    return claimed;
  }

  async #serve(claimed: Claimed): Promise<void> {
    const { id } = claimed;
    const base = { version: CONTROL_VERSION, id, pid: process.pid };
    let parsed: ReturnType<typeof parseControlRequest>;
    try {
      parsed = parseClaimed(claimed);
    } catch (err) {
      // A malformed request is its sender's bug (or an attack): the owner says so, and goes on.
      const info = toErrorInfo(err, 'INVALID_ARGUMENT');
      this.#o.report(new InvalidArgumentError('request', `control request ${id} refused: ${info.message}`, { cause: err }));
      await this.#respond(id, { ...base, at: Date.now(), ok: false, error: errorOf(info) });
      return;
    }
    let response: ControlResponse;
    try {
      const result = await serveControlRequest(this.#o.target, parsed.request, parsed.by);
      response = { ...base, at: Date.now(), ok: true, result };
    } catch (err) {
      // The executor's own answer (NOT_FOUND, INVALID_SPEC, …): the sender's business alone.
      response = { ...base, at: Date.now(), ok: false, error: errorOf(toErrorInfo(err, 'INVALID_ARGUMENT')) };
    }
    await this.#respond(id, response);
  }

  async #respond(id: string, response: ControlResponse): Promise<void> {
    let text: string;
    try {
      text = `${JSON.stringify(response)}\n`;
    } catch (err) {
      // A result that cannot be shown as JSON still gets an answer.
      text = `${JSON.stringify({ ...response, ok: false, error: { code: 'INVALID_ARGUMENT', message: `result not representable as JSON: ${(err as Error).message}` } })}\n`;
    }
    try {
      await writeFileAtomic(join(this.#responses, `${id}.json`), text, { fsync: false, mode: FILE_MODE });
    } catch (err) {
      this.#o.report(new StoreError('STORE_FAILED', `cannot answer control request ${id}: ${(err as Error).message}`, { cause: err }));
    }
  }

  async #junk(name: string): Promise<void> {
    const path = join(this.#requests, name);
    if (this.#reported.has(path)) return;
    this.#remember(path);
    this.#o.report(new InvalidArgumentError('request', `control request file name ${JSON.stringify(name)} is not <id>.json; removed`));
    await unlink(path).catch(() => undefined);
  }

  // Bounded: a flood of odd names costs repeated reports, never unbounded memory.
  #remember(key: string): void {
    if (this.#reported.size >= MAX_REMEMBERED) this.#reported.clear();
    this.#reported.add(key);
  }

  async #dropIfOld(path: string, ageMs: number): Promise<void> {
    try {
      const st = await lstat(path);
      if (Date.now() - st.mtimeMs > ageMs) await unlink(path);
    } catch {
      // gone meanwhile, or not ours to remove: nothing to do
    }
  }

  async #dropStaleResponses(): Promise<void> {
    if (this.#closed) return;
    try {
      const names = await readdir(this.#responses);
      let n = 0;
      for (const name of names) {
        if (n++ >= MAX_STALE_PER_TICK || this.#closed) return;
        await this.#dropIfOld(join(this.#responses, name), name.startsWith('.') ? STALE_TEMP_MS : STALE_RESPONSE_MS);
      }
    } catch {
      // the next tick tries again
    }
  }
}

function parseClaimed(claimed: Claimed): ReturnType<typeof parseControlRequest> {
  if ('problem' in claimed) throw new InvalidArgumentError('request', claimed.problem);
  let value: unknown;
  try {
    value = JSON.parse(claimed.text);
  } catch (err) {
    throw new InvalidArgumentError('request', `not valid JSON: ${(err as Error).message}`);
  }
  return parseControlRequest(value);
}

function errorOf(info: ErrorInfo): { code: string; message: string; field?: string } {
  return { code: info.code, message: info.message, ...(info.field !== undefined ? { field: info.field } : {}) };
}

// The directory must be this user's alone: whoever can write a request can run commands.
async function ownDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: DIR_MODE });
    const st = await lstat(path);
    if (!st.isDirectory()) throw new Error('not a directory');
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`owned by uid ${st.uid}, not by this user`);
    if ((st.mode & 0o077) !== 0) await chmod(path, DIR_MODE);
    if (((await stat(path)).mode & 0o077) !== 0) throw new Error('cannot make it private (mode 0700)');
  } catch (err) {
    throw new StoreError('STORE_FAILED', `control directory ${path} is unusable: ${(err as Error).message}`, { cause: err });
  }
}

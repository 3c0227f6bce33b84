import { Buffer } from 'node:buffer';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { BgexecError, InvalidArgumentError, SpawnError, StdinError, TransportError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import type {
  ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport, TransportCapabilities,
} from '../transports/types.js';
import { FakeStdin, type FakeInput, type FakeInputHandler, type FakeTask } from './fake-input.js';

export type { FakeInput, FakeInputHandler, FakeTask } from './fake-input.js';

/** How a fake attempt behaves. Every field is optional: `{}` exits 0 on the next macrotask. */
export interface FakeOutcome {
  /** Exit code; default 0. Ignored when `signal` is set. */
  exitCode?: number;
  /** Ends as if killed by this signal (`exitCode` null). */
  signal?: string;
  /** Output written when the attempt starts. */
  stdout?: string | Uint8Array;
  /** Error output written when the attempt starts. */
  stderr?: string | Uint8Array;
  /** Time on the clock until it ends; default 0 = ends on the next macrotask. */
  delayMs?: number;
  /** Runs until killed, or ended by hand with `complete()`/`lose()`. */
  hang?: boolean;
  /** `start()` rejects with `SPAWN_FAILED` (a string is the message). */
  spawnError?: string | true;
  /** Ends as state `lost` (no exit code) instead of exiting. */
  lost?: boolean;
  /** Survives the first signal of `kill()` and dies by SIGKILL after `graceMs` on the clock. */
  ignoreTerm?: boolean;
  /** What `poll()` reports as `awaitingInput` from the start (default false); see {@link FakeTask.awaitInput}. */
  awaitingInput?: boolean;
  /**
   * Called with each chunk of input, in order: every `writeStdin()` of a `stdin: 'pipe'` attempt,
   * or the input given up front (one chunk, on the next macrotask after the start). If it returns
   * a promise, the write resolves only once that settles (a task that reads slowly: the
   * executor's bytes in flight stay counted) and rejects if it rejects.
   */
  onInput?: FakeInputHandler;
  /**
   * Called with each complete line of input (without its `\n`), after `onInput`; at end-of-file
   * a last line without `\n` is passed too.
   */
  onLine?: (line: string, task: FakeTask) => void;
  /** Called once when the input reaches end-of-file (`closeStdin()`, or after input given up front). */
  onEof?: (task: FakeTask) => void;
}

/** Selects launches for {@link FakeTransport.script}: exact command or task id, a RegExp on the command, or a predicate. */
export type FakeMatcher = string | RegExp | ((request: LaunchRequest) => boolean);

/** Options of {@link FakeTransport}. */
export interface FakeTransportOptions {
  /** Clock for `delayMs`, kill grace periods, `startedAt`/`endedAt` and `calls[].at`; default the system clock. */
  clock?: Clock;
  /** Outcome of launches no script matches; default `{}` (exit 0 at once). */
  defaultOutcome?: FakeOutcome;
  /** Kind written into handles; default `fake`. */
  kind?: string;
  /**
   * What the fake declares it supports; default `{ stdin: true, tty: true }`. Turn a feature off
   * (`{ stdin: false }`) to test that submit refuses it (`INVALID_SPEC`).
   */
  capabilities?: TransportCapabilities;
}

/** Transport methods recorded in {@link FakeTransport.calls}. */
export type FakeMethod = 'start' | 'wait' | 'poll' | 'read' | 'kill' | 'cleanup' | 'probe' | 'close' | 'writeStdin' | 'closeStdin';

/** One recorded call. */
export interface FakeCall {
  /** The transport method called. */
  method: FakeMethod;
  /** The task concerned, for calls about one attempt. */
  taskId?: string;
  /** The attempt concerned, for calls about one attempt. */
  attempt?: number;
  /** Clock time of the call. */
  at: number;
}

interface Script {
  match: FakeMatcher;
  outcomes: FakeOutcome[];
  /** Outcomes used so far, per task id. */
  used: Map<string, number>;
}

// One attempt. Kept for the transport's life (handles stay valid, output stays readable until
// cleanup), so it holds only what it needs: input state, promise and timers are made on first use.
interface Attempt {
  request: LaunchRequest;
  startedAt: number;
  outcome: FakeOutcome;
  stdout: Buffer;
  stderr: Buffer;
  exit: ExitInfo | undefined;
  /** Made by the first wait() before the end. */
  ended: Promise<ExitInfo> | undefined;
  resolve: ((exit: ExitInfo) => void) | undefined;
  timers: TimerHandle[] | undefined;
  immediate: NodeJS.Immediate | undefined;
  cleaned: boolean;
  awaitingInput: boolean;
  stdinState: FakeStdin | undefined;
  /** The task's previous attempt (attempts are kept per task, newest first). */
  prev: Attempt | undefined;
}

type EndState = Omit<ExitInfo, 'endedAt'>;

const LOST: EndState = { state: 'lost', exitCode: null, signal: null, reason: 'no_exit_marker' };
const EMPTY = Buffer.alloc(0);
const keyOf = (taskId: string, attempt: number): string => `${taskId}#${attempt}`;
const toBuffer = (data: string | Uint8Array): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);

/**
 * A {@link Transport} that runs nothing: each attempt follows a scripted {@link FakeOutcome}
 * (or is driven by hand), with the same observable semantics as a real transport — one shared
 * `wait()` result per attempt, byte-exact `read()`, kill with a grace period on the clock,
 * `OUTPUT_GONE` after `cleanup()`, and no second start of a `(taskId, attempt)`.
 *
 * @example
 * ```ts
 * const fake = new FakeTransport({ clock });
 * fake.script('make test', { exitCode: 1, stderr: 'boom' }, { exitCode: 0 }); // fails once, then passes
 * const ex = new BackgroundExecutor({ transports: { local: fake } });
 * ```
 */
export class FakeTransport implements Transport {
  readonly kind: string;
  /** Every successful start, in order (copies of the requests, env included). */
  readonly started: LaunchRequest[] = [];
  readonly #log = new CallLog();
  readonly #clock: Clock;
  readonly #defaultOutcome: FakeOutcome;
  readonly #scripts: Script[] = [];
  /** Newest attempt of each task; older ones hang off `prev`. */
  readonly #attempts = new Map<string, Attempt>();
  /** Attempts not ended yet, in start order. */
  readonly #running = new Set<Attempt>();
  readonly #ghosts = new Map<string, ExitInfo>();
  #maxConcurrent = 0;
  /** Features declared to the executor (see {@link FakeTransportOptions.capabilities}). */
  readonly capabilities: TransportCapabilities;

  constructor(options: FakeTransportOptions = {}) {
    this.kind = options.kind ?? 'fake';
    this.#clock = options.clock ?? systemClock;
    this.#defaultOutcome = options.defaultOutcome ?? {};
    this.capabilities = { stdin: true, tty: true, ...options.capabilities };
  }

  /**
   * Every call made to this transport, in order. The same array every time, kept up to date:
   * a test may hold it and read it again later.
   */
  get calls(): FakeCall[] {
    return this.#log.calls();
  }

  /** Highest number of attempts seen running at the same time (since construction or `reset()`). */
  get maxConcurrent(): number {
    return this.#maxConcurrent;
  }

  /**
   * Scripts the launches `match` selects. Successive attempts of one task take successive
   * outcomes and the last repeats; the most recently added matching script wins.
   */
  script(match: FakeMatcher, ...outcomes: FakeOutcome[]): this {
    if (outcomes.length === 0) throw new InvalidArgumentError('outcomes', 'script() needs at least one outcome');
    this.#scripts.push({ match, outcomes, used: new Map() });
    return this;
  }

  /** Requests of the attempts running now, in start order. */
  running(): LaunchRequest[] {
    return [...this.#running].map((a) => a.request);
  }

  /** Ends the running attempt of `taskId` with an exit code (default 0) or a signal. Throws if none runs. */
  complete(taskId: string, result: { exitCode?: number; signal?: string } = {}): void {
    const a = this.#runningAttempt(taskId, 'complete');
    this.#end(a, result.signal !== undefined
      ? { state: 'exited', exitCode: null, signal: result.signal }
      : { state: 'exited', exitCode: result.exitCode ?? 0, signal: null });
  }

  /** Appends output to the running attempt of `taskId` (stderr to stdout on a `tty` attempt). Throws if none runs. */
  write(taskId: string, stream: OutputStream, data: string | Uint8Array): void {
    this.#append(this.#runningAttempt(taskId, 'write'), stream, data);
  }

  /**
   * Sets what `poll()` reports as `awaitingInput` for the running attempt of `taskId` (default
   * true). The executor marks the task `awaitingInput` after two such polls without new output.
   * Throws if none runs.
   */
  awaitInput(taskId: string, on = true): void {
    this.#runningAttempt(taskId, 'awaitInput').awaitingInput = on;
  }

  /**
   * What the latest attempt of `taskId` (or attempt `attempt`) was sent on its stdin so far;
   * undefined if no such attempt was started.
   */
  input(taskId: string, attempt?: number): FakeInput | undefined {
    const found = this.#attemptOf(taskId, attempt);
    if (found === undefined) return undefined;
    return this.#stdin(found).snapshot();
  }

  /** Ends the running attempt of `taskId` as `lost`. Throws if none runs. */
  lose(taskId: string): void {
    this.#end(this.#runningAttempt(taskId, 'lose'), LOST);
  }

  /**
   * Forgets scripts, `calls` and `started` (emptied in place) and restarts `maxConcurrent`
   * from the number running now. Attempts themselves are kept, so handles stay valid.
   */
  reset(): void {
    this.#scripts.length = 0;
    this.#log.clear();
    this.started.length = 0;
    this.#maxConcurrent = this.#running.size;
  }

  async start(request: LaunchRequest): Promise<TransportHandle> {
    const { taskId, attempt } = request;
    this.#record('start', taskId, attempt);
    const newest = this.#attempts.get(taskId);
    if (newest !== undefined && this.#attemptOf(taskId, attempt) !== undefined) {
      throw new SpawnError(`attempt ${attempt} of task ${taskId} was already started`, { taskId });
    }
    const outcome = this.#outcomeFor(request);
    if (outcome.spawnError !== undefined) {
      const message = outcome.spawnError === true ? `cannot start ${JSON.stringify(request.command)}` : outcome.spawnError;
      throw new SpawnError(message, { taskId });
    }
    const copy: LaunchRequest = { ...request };
    if (request.args !== undefined) copy.args = [...request.args];
    if (request.env !== undefined) copy.env = { ...request.env };
    if (request.stdin instanceof Uint8Array) copy.stdin = Buffer.from(request.stdin);
    if (request.tty !== undefined) copy.tty = { ...request.tty };
    const a: Attempt = {
      request: copy, startedAt: this.#clock.now(), outcome, stdout: EMPTY, stderr: EMPTY, exit: undefined,
      ended: undefined, resolve: undefined, timers: undefined, immediate: undefined, cleaned: false,
      awaitingInput: outcome.awaitingInput === true, stdinState: undefined, prev: undefined,
    };
    if (outcome.stdout !== undefined) this.#append(a, 'stdout', outcome.stdout);
    if (outcome.stderr !== undefined) this.#append(a, 'stderr', outcome.stderr);
    this.#insert(a, newest);
    this.started.push(copy);
    this.#running.add(a);
    this.#maxConcurrent = Math.max(this.#maxConcurrent, this.#running.size);

    // Input given up front reaches the hooks before a scripted end on the next macrotask
    // (immediates run in order), as a real task reads its input before it exits.
    if (copy.stdin instanceof Uint8Array) {
      const data = copy.stdin;
      setImmediate(() => {
        if (a.exit !== undefined) return;
        const stdin = this.#stdin(a);
        void stdin.deliver(Buffer.from(data)).then(() => stdin.eof(), () => stdin.eof());
      });
    }
    if (!outcome.hang) {
      const delay = outcome.delayMs ?? 0;
      if (delay > 0) (a.timers ??= []).push(this.#clock.setTimeout(() => this.#finish(a), delay));
      else a.immediate = setImmediate(this.#finish, a);
    }
    return this.#handleOf(a);
  }

  // Not `async`: an async function that returns a promise settles two microtask turns after it.
  wait(handle: TransportHandle): Promise<ExitInfo> {
    try {
      this.#record('wait', handle.taskId, handle.attempt);
      const a = this.#find(handle);
      if (a === undefined) return Promise.resolve(this.#ghost(handle));
      return this.#ended(a);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #ended(a: Attempt): Promise<ExitInfo> {
    if (a.exit !== undefined) return Promise.resolve(a.exit);
    a.ended ??= new Promise<ExitInfo>((resolve) => (a.resolve = resolve));
    return a.ended;
  }

  async poll(handle: TransportHandle): Promise<PollResult> {
    this.#record('poll', handle.taskId, handle.attempt);
    const a = this.#find(handle);
    if (a === undefined) return { state: 'lost', exit: this.#ghost(handle), stdoutBytes: 0, stderrBytes: 0 };
    const stdoutBytes = a.stdout.length;
    const stderrBytes = a.stderr.length;
    if (a.exit !== undefined) return { state: a.exit.state, exit: a.exit, stdoutBytes, stderrBytes };
    return a.awaitingInput ? { state: 'running', stdoutBytes, stderrBytes, awaitingInput: true } : { state: 'running', stdoutBytes, stderrBytes };
  }

  async read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    this.#record('read', handle.taskId, handle.attempt);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError('offset', 'must be an integer >= 0');
    if (!Number.isSafeInteger(length) || length < 0) throw new InvalidArgumentError('length', 'must be an integer >= 0');
    const a = this.#find(handle);
    if (a === undefined || a.cleaned) {
      throw new BgexecError('OUTPUT_GONE', `output of attempt ${handle.attempt} of task ${handle.taskId} is gone`, {
        taskId: handle.taskId,
      });
    }
    const buf = stream === 'stdout' ? a.stdout : a.stderr;
    // Copy, so a caller that mutates the bytes cannot change the attempt's output.
    return { data: Buffer.from(buf.subarray(offset, offset + length)), totalBytes: buf.length };
  }

  async kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    this.#record('kill', handle.taskId, handle.attempt);
    const a = this.#find(handle);
    if (a === undefined || a.exit !== undefined) return;
    const signal = options.signal ?? 'SIGTERM';
    if (!a.outcome.ignoreTerm || signal === 'SIGKILL') {
      this.#end(a, { state: 'exited', exitCode: null, signal });
      return;
    }
    (a.timers ??= []).push(this.#clock.setTimeout(
      () => this.#end(a, { state: 'exited', exitCode: null, signal: 'SIGKILL' }),
      options.graceMs,
    ));
    await this.#ended(a);
  }

  /**
   * Records the bytes as input of the attempt and hands them to its `onInput`/`onLine` hooks;
   * resolves once `onInput` has taken them. Rejects with `StdinError`: `TASK_NOT_RUNNING` for an
   * ended or unknown attempt, `STDIN_NOT_PIPED` for one not started with `stdin: 'pipe'`,
   * `STDIN_CLOSED` once its input was closed.
   */
  async writeStdin(handle: TransportHandle, data: Uint8Array): Promise<void> {
    this.#record('writeStdin', handle.taskId, handle.attempt);
    const a = this.#find(handle);
    const taskId = handle.taskId;
    if (a === undefined || a.exit !== undefined) throw new StdinError('TASK_NOT_RUNNING', `attempt ${handle.attempt} of task ${taskId} is not running`, { taskId });
    if (a.request.stdin !== 'pipe') throw new StdinError('STDIN_NOT_PIPED', `attempt ${handle.attempt} of task ${taskId} was not started with stdin 'pipe'`, { taskId });
    const stdin = this.#stdin(a);
    if (stdin.closed) throw new StdinError('STDIN_CLOSED', `the input of task ${taskId} was closed`, { taskId });
    await stdin.deliver(Buffer.from(data));
  }

  /** Closes the attempt's input (its `onEof` hook runs). Idempotent; a no-op for an ended or unknown attempt. */
  async closeStdin(handle: TransportHandle): Promise<void> {
    this.#record('closeStdin', handle.taskId, handle.attempt);
    const a = this.#find(handle);
    if (a === undefined || a.exit !== undefined || a.request.stdin !== 'pipe') return;
    this.#stdin(a).eof();
  }

  async cleanup(handle: TransportHandle): Promise<void> {
    this.#record('cleanup', handle.taskId, handle.attempt);
    const a = this.#find(handle);
    if (a !== undefined) a.cleaned = true;
  }

  async probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    this.#record('probe', taskId, attempt);
    const a = this.#attemptOf(taskId, attempt);
    return a === undefined ? undefined : this.#handleOf(a);
  }

  async close(): Promise<void> {
    this.#record('close');
  }

  // On a terminal there is one stream: what goes to stderr lands in stdout.
  #append(a: Attempt, stream: OutputStream, data: string | Uint8Array): void {
    if (a.request.tty !== undefined || stream === 'stdout') a.stdout = Buffer.concat([a.stdout, toBuffer(data)]);
    else a.stderr = Buffer.concat([a.stderr, toBuffer(data)]);
  }

  // The input side, made on first use: most attempts never get any.
  #stdin(a: Attempt): FakeStdin {
    a.stdinState ??= new FakeStdin(a.outcome, this.#control(a));
    return a.stdinState;
  }

  // Frozen, as a handle the executor may keep as it is rather than copy.
  #handleOf(a: Attempt): TransportHandle {
    const { taskId, attempt, detached } = a.request;
    return Object.freeze({ kind: this.kind, taskId, attempt, detached, startedAt: a.startedAt });
  }

  // Keeps a task's attempts newest first, whatever order they are started in.
  #insert(a: Attempt, newest: Attempt | undefined): void {
    const n = a.request.attempt;
    if (newest === undefined || newest.request.attempt < n) {
      a.prev = newest;
      this.#attempts.set(a.request.taskId, a);
      return;
    }
    let after = newest;
    while (after.prev !== undefined && after.prev.request.attempt > n) after = after.prev;
    a.prev = after.prev;
    after.prev = a;
  }

  // The attempt `attempt` of a task, or its newest one.
  #attemptOf(taskId: string, attempt?: number): Attempt | undefined {
    let a = this.#attempts.get(taskId);
    if (attempt === undefined) return a;
    while (a !== undefined && a.request.attempt > attempt) a = a.prev;
    return a !== undefined && a.request.attempt === attempt ? a : undefined;
  }

  #control(a: Attempt): FakeTask {
    const fake = this;
    return {
      taskId: a.request.taskId,
      attempt: a.request.attempt,
      get input() { return Buffer.concat(a.stdinState?.chunks ?? []); },
      get inputClosed() { return a.stdinState?.closed ?? false; },
      get ended() { return a.exit !== undefined; },
      write(stream, data) {
        if (a.exit === undefined) fake.#append(a, stream, data);
      },
      exit(code = 0) {
        fake.#end(a, { state: 'exited', exitCode: code, signal: null });
      },
      awaitInput(on = true) {
        a.awaitingInput = on;
      },
    };
  }

  #record(method: FakeMethod, taskId?: string, attempt?: number): void {
    this.#log.add(method, taskId, attempt, this.#clock.now());
  }

  #outcomeFor(request: LaunchRequest): FakeOutcome {
    for (let i = this.#scripts.length - 1; i >= 0; i--) {
      const script = this.#scripts[i]!;
      if (!matches(script.match, request)) continue;
      const used = script.used.get(request.taskId) ?? 0;
      script.used.set(request.taskId, used + 1);
      return script.outcomes[Math.min(used, script.outcomes.length - 1)]!;
    }
    return this.#defaultOutcome;
  }

  #find(handle: TransportHandle): Attempt | undefined {
    if (handle.kind !== this.kind) {
      throw new TransportError('TRANSPORT_FAILED', `handle of kind ${JSON.stringify(handle.kind)} given to a ${this.kind} transport`, {
        taskId: handle.taskId,
      });
    }
    return this.#attemptOf(handle.taskId, handle.attempt);
  }

  #runningAttempt(taskId: string, what: string): Attempt {
    let found = this.#attempts.get(taskId);
    while (found !== undefined && found.exit !== undefined) found = found.prev;
    if (found === undefined) throw new Error(`FakeTransport.${what}: no running attempt of task ${JSON.stringify(taskId)}`);
    return found;
  }

  // A handle this instance never started (e.g. from an earlier process): like a real
  // transport that finds neither a process nor an exit marker, it reports the attempt lost.
  #ghost(handle: TransportHandle): ExitInfo {
    const key = keyOf(handle.taskId, handle.attempt);
    let exit = this.#ghosts.get(key);
    if (exit === undefined) {
      exit = Object.freeze({ ...LOST, endedAt: this.#clock.now() });
      this.#ghosts.set(key, exit);
    }
    return exit;
  }

  // Ends an attempt as its outcome says. One function for every attempt, not a closure each.
  readonly #finish = (a: Attempt): void => {
    const { outcome } = a;
    this.#end(a, outcome.lost ? LOST : outcome.signal !== undefined
      ? { state: 'exited', exitCode: null, signal: outcome.signal }
      : { state: 'exited', exitCode: outcome.exitCode ?? 0, signal: null });
  };

  #end(a: Attempt, state: EndState): void {
    if (a.exit !== undefined) return;
    if (a.timers !== undefined) for (const timer of a.timers) this.#clock.clearTimeout(timer);
    if (a.immediate !== undefined) clearImmediate(a.immediate);
    const exit: ExitInfo = { state: state.state, exitCode: state.exitCode, signal: state.signal, endedAt: this.#clock.now() };
    if (state.reason !== undefined) exit.reason = state.reason;
    a.exit = Object.freeze(exit);
    this.#running.delete(a);
    const resolve = a.resolve;
    // An ended attempt is kept for good: drop what only its run needed (the pending immediate
    // holds the end's closure; later waits get the exit itself).
    a.immediate = undefined;
    a.timers = undefined;
    a.ended = undefined;
    a.resolve = undefined;
    resolve?.(a.exit);
  }
}

// Calls per chunk of the log: small enough that no chunk is a large object (a growing array of
// hundreds of thousands of slots leaves each outgrown copy to the next full collection).
const CHUNK = 1024;

/** One block of the call log: method, task id and attempt in one array, times unboxed. */
interface Chunk {
  fields: Array<string | number | undefined>;
  ats: Float64Array;
  length: number;
}

/**
 * The call log. A fake that runs many tasks makes several calls per attempt and keeps them all,
 * so until someone reads `calls` they are kept in fixed-size chunks (the method and the task id,
 * strings held anyway, the attempt, and the time as an unboxed double): 32 bytes a call instead
 * of an object and a boxed number (72), and no array that keeps growing. The first read turns
 * them into objects; from then on calls are added as objects to that same array.
 */
class CallLog {
  #objects: FakeCall[] | undefined;
  readonly #chunks: Chunk[] = [];

  add(method: FakeMethod, taskId: string | undefined, attempt: number | undefined, at: number): void {
    if (this.#objects !== undefined) {
      this.#objects.push(toCall(method, taskId, attempt, at));
      return;
    }
    let chunk = this.#chunks[this.#chunks.length - 1];
    if (chunk === undefined || chunk.length === CHUNK) {
      // Sized once: pushes would leave each outgrown backing store behind.
      chunk = { fields: new Array<string | number | undefined>(3 * CHUNK), ats: new Float64Array(CHUNK), length: 0 };
      this.#chunks.push(chunk);
    }
    const i = chunk.length++;
    chunk.fields[3 * i] = method;
    chunk.fields[3 * i + 1] = taskId;
    chunk.fields[3 * i + 2] = attempt;
    chunk.ats[i] = at;
  }

  calls(): FakeCall[] {
    if (this.#objects === undefined) {
      const objects: FakeCall[] = [];
      for (const { fields, ats, length } of this.#chunks) {
        for (let i = 0; i < length; i++) {
          objects.push(toCall(fields[3 * i] as FakeMethod, fields[3 * i + 1] as string | undefined, fields[3 * i + 2] as number | undefined, ats[i]!));
        }
      }
      this.#objects = objects;
      this.#chunks.length = 0;
    }
    return this.#objects;
  }

  clear(): void {
    if (this.#objects !== undefined) this.#objects.length = 0;
    this.#chunks.length = 0;
  }
}

// One literal per shape: fields added after creation would move to a separate property array.
function toCall(method: FakeMethod, taskId: string | undefined, attempt: number | undefined, at: number): FakeCall {
  return taskId === undefined ? { method, at } : ({ method, taskId, attempt, at } as FakeCall);
}

function matches(match: FakeMatcher, request: LaunchRequest): boolean {
  if (typeof match === 'string') return request.command === match || request.taskId === match;
  if (typeof match === 'function') return match(request);
  match.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
  return match.test(request.command);
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BgexecError, InvalidArgumentError, SpawnError, StdinError, TransportError } from '../../errors.js';
import type { TransportHandle } from '../../task.js';
import { findLaunchProblem } from '../job-protocol/quote.js';
import { checkReadRange } from '../job-protocol/run-dir.js';
import { formatReapSetting } from '../job-protocol/wrapper.js';
import { leftoverPolicy } from '../leftovers.js';
import { endedOrAfter } from '../round-poller.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport, TransportCapabilities } from '../types.js';
import { newAttempt, type Attempt } from './attempt.js';
import { ENV_NAME, leafOf, runDirOf } from './handles.js';
import { OutputMirror } from './mirror.js';
import { HostPoller } from './poller.js';
import { buildCleanupScript, buildCloseStdinScript, buildKillScript, buildStartScript, buildWriteScript } from './remote-scripts.js';
import { parseReply } from './reply.js';
import { SshClient, type SshClientHooks, type SshConnectionOptions } from './ssh-client.js';
import { SshDiscovery, type SshJob } from './discovery.js';

/** Options of {@link SshTransport}. */
export interface SshTransportOptions extends SshConnectionOptions {
  /**
   * Remote directory holding `jobs/<taskId>-<attempt>/`: absolute, or relative to the remote
   * home. Default `$HOME/.local/state/bgexec`, resolved once by the first call.
   */
  remoteRoot?: string;
  /** Shortest interval between two polls of the host (while output flows); default 100 ms. */
  pollIntervalMs?: number;
  /** Longest interval between two polls while nothing changes; default 1000 ms. */
  maxPollIntervalMs?: number;
  /** A host unreachable this long ends its attempts as `lost` (`unreachable_timeout`); default 10 min. */
  unreachableTimeoutMs?: number;
}

// Internal wiring for transports built on this one (Vagrant), passed under a symbol key of the
// options so that it stays out of the public constructor signature.
interface SshTransportInternals {
  kind?: string;
  hooks?: SshClientHooks;
  dir?: string;
}
/** @internal */
export const SSH_INTERNALS: unique symbol = Symbol('bgexec.sshInternals');
/** Builds an SshTransport with internal wiring (kind, config hooks, private directory). */
export function sshTransportWith(options: SshTransportOptions, internals: SshTransportInternals): SshTransport {
  return new SshTransport({ ...options, [SSH_INTERNALS]: internals } as SshTransportOptions);
}

const noop = (): void => {};

/**
 * Most input bytes one write call carries (as base64 in its script). A few pipe buffers' worth:
 * few round trips for bulk input, and a call that waits on a slow reader holds little.
 */
export const STDIN_CHUNK = 256 * 1024;
// A write waits while the task does not read; the connection's keepalive, not this, notices a
// dead host. Bounded all the same, so that no call is left pending for ever.
const STDIN_CALL_TIMEOUT_MS = 6 * 60 * 60 * 1000;
// Writes up to this size wait briefly on the host for the task's answer and bring it back.
const INTERACTIVE_WRITE = 4096;
// Output bytes per stream such a reply brings at most (the rest comes with the next poll).
const ANSWER_MAX = 64 * 1024;

/**
 * Runs attempts on a remote host over the system OpenSSH client, on the job protocol described
 * in docs/architecture.md: every call is the constant remote command `sh -s` with a script on stdin, all
 * calls share one multiplexed connection, and each attempt runs detached under the wrapper
 * (it survives the ssh connection and this process). One poll call per interval covers every
 * watched attempt of the host; output is mirrored into a private local directory.
 */
export class SshTransport implements Transport {
  readonly kind: string;
  /** Input (`stdin: 'pipe'` or given up front) and terminals, through the job-protocol wrapper. */
  readonly capabilities: TransportCapabilities = { stdin: true, tty: true };
  /** `user@host:port` as configured, for messages and handles. */
  readonly host: string;
  /** Private local directory (mode 0700) of this instance: the control socket and the output mirror. */
  readonly localDir: string;
  private readonly client: SshClient;
  private readonly mirror: OutputMirror;
  private readonly poller: HostPoller;
  private readonly discovery: SshDiscovery;
  private closed = false;

  constructor(options: SshTransportOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'must be an object');
    const internals = (options as { [SSH_INTERNALS]?: SshTransportInternals })[SSH_INTERNALS] ?? {};
    const root = options.remoteRoot;
    if (root !== undefined && (typeof root !== 'string' || root === '' || /[\0\n]/.test(root))) {
      throw new InvalidArgumentError('remoteRoot', 'must be a non-empty path without NUL or newline');
    }
    const min = options.pollIntervalMs ?? 100;
    const max = Math.max(min, options.maxPollIntervalMs ?? 1_000);
    const unreachableTimeoutMs = options.unreachableTimeoutMs ?? 600_000;
    if (!(min > 0) || !(unreachableTimeoutMs > 0)) throw new InvalidArgumentError('pollIntervalMs', 'intervals and timeouts must be > 0');
    this.kind = internals.kind ?? 'ssh';
    this.host = `${options.user === undefined ? '' : `${options.user}@`}${options.host}${options.port === undefined ? '' : `:${options.port}`}`;
    const dir = internals.dir ?? mkdtempSync(join(tmpdir(), 'bgexec-ssh-'));
    this.localDir = dir;
    try {
      this.client = new SshClient(options, dir, internals.hooks);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    this.mirror = new OutputMirror(join(dir, 'mirror'));
    const callTimeoutMs = (options.connectTimeoutMs ?? 10_000) + 30_000;
    this.poller = new HostPoller(this.client, this.mirror, { minMs: min, maxMs: max, unreachableTimeoutMs, callTimeoutMs }, () => this.resendKills());
    this.discovery = new SshDiscovery(this.client, this.kind, this.host, root);
  }

  async start(req: LaunchRequest): Promise<TransportHandle> {
    const { taskId, attempt } = req;
    if (this.closed) throw new SpawnError(`${this.kind} transport is closed`, { taskId });
    const problem = findLaunchProblem(req) ?? Object.keys(req.env ?? {}).find((k) => !ENV_NAME.test(k));
    if (problem !== undefined) {
      throw new SpawnError(req.env && problem in req.env ? `env name ${JSON.stringify(problem)} is not a shell identifier` : problem, { taskId });
    }
    const leaf = leafOf(taskId, attempt);
    const startedAt = Date.now();
    const script = buildStartScript({
      root: this.discovery.root, leaf, taskId, attempt, command: req.command, args: req.args, cwd: req.cwd, env: req.env ?? {}, startedAt,
      reap: formatReapSetting(leftoverPolicy(req)),
      maxOutputBytes: req.maxOutputBytes,
      stdin: req.stdin,
      tty: req.tty,
      detached: req.detached,
    });
    const items = parseReply(await this.client.run(script));
    let root: string | undefined;
    for (const item of items) {
      if (item.t === 'R') root = this.discovery.learnRoot(item.root);
      if (item.t === 'F') {
        const word = item.reason.split(' ')[0] ?? '';
        const why =
          item.reason === 'dup' ? `attempt ${leaf} was already started`
          : word === 'cwd_missing' ? `cwd_missing: working directory ${JSON.stringify(req.cwd ?? '')} does not exist`
          : item.reason;
        throw new SpawnError(`${why} (on ${this.host})`, { taskId, ...(word === 'cwd_missing' ? { reason: 'cwd_missing' } : {}) });
      }
      if (item.t === 'OK' && root !== undefined) {
        const handle: TransportHandle = {
          kind: this.kind, taskId, attempt, runDir: `${root}/jobs/${leaf}`, pid: item.pid, pgid: item.pgid,
          // Every remote attempt outlives this process; `detached` is what the task asked for.
          bootId: item.bootId, detached: req.detached, outlivesExecutor: true, startedAt, host: this.host,
          // What the poll needs to know after a restart too: whether to ask if it waits for input.
          ...(req.stdin === 'pipe' ? { stdin: 'pipe' } : {}),
          ...(req.tty ? { tty: true } : {}),
        };
        const a = this.track(handle);
        a.seen = true;
        return handle;
      }
    }
    throw new TransportError('TRANSPORT_FAILED', `start of ${leaf} on ${this.host}: no answer from the remote script`, { taskId });
  }

  wait(handle: TransportHandle): Promise<ExitInfo> {
    try {
      return this.poller.outcome(this.track(handle));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async poll(handle: TransportHandle): Promise<PollResult> {
    const a = await this.poller.seen(this.track(handle));
    return this.poller.pollResult(a, {
      stdoutBytes: a.out, stderrBytes: a.err, ...(a.limitReached === true ? { limitReached: true } : {}),
      // Two rounds in a row: one look at /proc can catch a busy process between two reads.
      ...(a.inputRounds === undefined || a.final || a.ended ? {} : { awaitingInput: a.inputRounds >= 2 }),
    });
  }

  async read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    checkReadRange(offset, length);
    const a = await this.poller.seen(this.track(handle));
    if (!a.seen && !a.final) throw this.unreachableError(handle);
    const isOut = stream === 'stdout';
    // Bytes the host has but the mirror lacks yet: fetch them before answering.
    for (let i = 0; i < 64 && !a.final && !a.gone; i++) {
      const have = isOut ? a.out : a.err;
      if (have >= Math.min(offset + length, isOut ? a.remoteOut : a.remoteErr)) break;
      await this.poller.nextRound();
      if ((isOut ? a.out : a.err) === have && this.poller.unreachable !== undefined) break;
    }
    if (a.gone) throw new BgexecError('OUTPUT_GONE', `output of ${a.leaf} was removed from ${this.host}`, { taskId: handle.taskId });
    return this.mirror.read(a.leaf, stream, offset, length);
  }

  async kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    const a = await this.poller.seen(this.track(handle));
    if (a.final || a.ended) return;
    const first = options.signal ?? 'SIGTERM';
    a.killing = true;
    try {
      if (!(await this.sendKill(a, first, first))) return;
      this.poller.kick();
      await endedOrAfter(a, options.graceMs);
      if (a.final || a.ended) return;
      await this.sendKill(a, 'SIGKILL', first);
      this.poller.kick();
    } catch (err) {
      // The host is away: the kill is sent again, whole, once it answers.
      if (err instanceof TransportError && err.code === 'TRANSPORT_UNREACHABLE') a.pendingKill = { signal: first, graceMs: options.graceMs };
      throw err;
    }
  }

  // False when the attempt had already ended (or its directory is gone).
  private async sendKill(a: Attempt, signal: string, first: string): Promise<boolean> {
    const script = buildKillScript(a.runDir, a.handle.taskId, a.handle.attempt, signal, first);
    const reply = parseReply(await this.client.run(script));
    return reply.some((i) => i.t === 'K' && i.what === 'sent');
  }

  private resendKills(): void {
    for (const a of this.poller.attempts.values()) {
      const pending = a.pendingKill;
      if (pending === undefined || a.final) continue;
      delete a.pendingKill;
      this.kill(a.handle, { signal: pending.signal as NodeJS.Signals, graceMs: pending.graceMs }).catch(noop);
    }
  }

  /**
   * Writes `data` into the attempt's input pipe on the host: one call over the shared connection
   * per 256 KiB (`STDIN_CHUNK`), each resolving once its bytes are in the pipe (a task that
   * does not read holds the call: at most half of `maxSessions` such calls run at once).
   * `STDIN_CLOSED` after {@link closeStdin}, `TASK_NOT_RUNNING` once the attempt has ended.
   * A `TRANSPORT_UNREACHABLE` failure leaves it unknown whether that chunk arrived.
   */
  async writeStdin(handle: TransportHandle, data: Uint8Array): Promise<void> {
    const { runDir, leaf } = runDirOf(handle, this.kind);
    const taskId = handle.taskId;
    const a = this.poller.attempts.get(leaf);
    let answered = false;
    for (let off = 0; off < data.byteLength; off += STDIN_CHUNK) {
      const end = Math.min(data.byteLength, off + STDIN_CHUNK);
      // A short write is a question to the task: its answer comes back with the write's reply.
      const ask = a !== undefined && a.final === undefined && end === data.byteLength && data.byteLength <= INTERACTIVE_WRITE;
      const frames = ask ? { runDir, leaf, outOffset: a.out, errOffset: a.err, maxBytes: ANSWER_MAX } : undefined;
      const reply = parseReply(await this.client.runMayWait(buildWriteScript(runDir, data.subarray(off, end), frames), STDIN_CALL_TIMEOUT_MS));
      const what = reply.find((i) => i.t === 'W')?.what;
      if (what === 'ok') {
        if (ask) answered = await this.poller.absorb(reply);
        continue;
      }
      if (what === 'closed') throw new StdinError('STDIN_CLOSED', `the input of task ${taskId} on ${this.host} was closed`, { taskId });
      if (what === 'ended' || what === 'gone') throw new StdinError('TASK_NOT_RUNNING', `task ${taskId} has ended on ${this.host}`, { taskId });
      if (what === 'nopipe') throw new StdinError('STDIN_NOT_PIPED', `task ${taskId} on ${this.host} has no input pipe`, { taskId });
      throw new TransportError('TRANSPORT_FAILED', `write to ${leafOf(taskId, handle.attempt)} on ${this.host}: no answer from the remote script`, { taskId });
    }
    // Input given: it no longer waits; look again soon for the reply (unless it came along).
    if (a?.inputRounds !== undefined) a.inputRounds = 0;
    if (!answered) this.poller.kick();
  }

  /** Ends the attempt's input (its holder on the host); a no-op once closed or ended. */
  async closeStdin(handle: TransportHandle): Promise<void> {
    const { runDir } = runDirOf(handle, this.kind);
    const reply = parseReply(await this.client.run(buildCloseStdinScript(runDir)));
    if (!reply.some((i) => i.t === 'X')) {
      throw new TransportError('TRANSPORT_FAILED', `closing the input of ${leafOf(handle.taskId, handle.attempt)} on ${this.host}: no answer from the remote script`, { taskId: handle.taskId });
    }
    this.poller.kick();
  }

  async cleanup(handle: TransportHandle): Promise<void> {
    const { runDir, leaf } = runDirOf(handle, this.kind);
    this.poller.drop(leaf);
    await this.mirror.remove(leaf);
    await this.client.run(buildCleanupScript(runDir));
  }

  probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    return this.discovery.probe(taskId, attempt);
  }

  /** Every attempt under the remote root, with its state and sizes, in one round trip. */
  list(): Promise<SshJob[]> {
    return this.discovery.list();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.poller.close(`${this.kind} transport closed`);
    await this.client.close();
  }

  private track(handle: TransportHandle): Attempt {
    const { runDir, leaf } = runDirOf(handle, this.kind);
    return this.poller.watch(leaf, () => {
      if (this.closed) throw new BgexecError('SHUTTING_DOWN', `${this.kind} transport is closed`);
      return newAttempt(handle, runDir, leaf);
    });
  }

  private unreachableError(handle: TransportHandle): TransportError {
    return new TransportError('TRANSPORT_UNREACHABLE', `${this.host}: ${this.poller.unreachable ?? 'no answer'}`, { taskId: handle.taskId });
  }
}

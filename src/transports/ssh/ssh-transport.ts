import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BgexecError, InvalidArgumentError, SpawnError, TransportError } from '../../errors.js';
import type { TransportHandle } from '../../task.js';
import { findLaunchProblem } from '../job-protocol/quote.js';
import { checkReadRange } from '../job-protocol/run-dir.js';
import { formatReapSetting } from '../job-protocol/wrapper.js';
import { leftoverPolicy } from '../leftovers.js';
import { endedOrAfter } from '../round-poller.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from '../types.js';
import { newAttempt, type Attempt } from './attempt.js';
import { ENV_NAME, leafOf, runDirOf } from './handles.js';
import { OutputMirror } from './mirror.js';
import { HostPoller } from './poller.js';
import { buildCleanupScript, buildKillScript, buildStartScript } from './remote-scripts.js';
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
 * Runs attempts on a remote host over the system OpenSSH client, on the job protocol described
 * in docs/architecture.md: every call is the constant remote command `sh -s` with a script on stdin, all
 * calls share one multiplexed connection, and each attempt runs detached under the wrapper
 * (it survives the ssh connection and this process). One poll call per interval covers every
 * watched attempt of the host; output is mirrored into a private local directory.
 */
export class SshTransport implements Transport {
  readonly kind: string;
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
    });
    const items = parseReply(await this.client.run(script));
    let root: string | undefined;
    for (const item of items) {
      if (item.t === 'R') root = this.discovery.learnRoot(item.root);
      if (item.t === 'F') {
        const why = item.reason === 'dup' ? `attempt ${leaf} was already started` : item.reason;
        throw new SpawnError(`${why} (on ${this.host})`, { taskId });
      }
      if (item.t === 'OK' && root !== undefined) {
        const handle: TransportHandle = {
          kind: this.kind, taskId, attempt, runDir: `${root}/jobs/${leaf}`, pid: item.pid, pgid: item.pgid,
          bootId: item.bootId, detached: true, startedAt, host: this.host,
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
    return this.poller.pollResult(a, { stdoutBytes: a.out, stderrBytes: a.err, ...(a.limitReached === true ? { limitReached: true } : {}) });
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

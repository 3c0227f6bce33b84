import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, TransportError } from '../../errors.js';

/** How to reach a host with the system OpenSSH client. */
export interface SshConnectionOptions {
  /** Host name, address or `Host` alias of the ssh config. Must not start with `-`. */
  host: string;
  /** Login user; default the ssh config's (or the local user name). */
  user?: string;
  /** Port of the host's sshd; default the ssh config's (or 22). */
  port?: number;
  /** Private key file (`ssh -i`). */
  identityFile?: string;
  /** An ssh config file used instead of `~/.ssh/config` (`ssh -F`). */
  sshConfigFile?: string;
  /**
   * Extra ssh arguments, e.g. `['-o', 'StrictHostKeyChecking=accept-new']`. They come before
   * bgexec's defaults (ssh takes the first value given), so they can override the defaults
   * but not the multiplexing and batch-mode settings bgexec depends on.
   */
  sshOptions?: readonly string[];
  /** TCP connect timeout; default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long the shared master connection outlives its last use; default 60 s. */
  controlPersistSec?: number;
  /** The ssh binary; default `ssh` from PATH. */
  sshBin?: string;
  /**
   * Most ssh sessions open at once over the shared connection; default 8. Keep it below the
   * server's `MaxSessions` (10 by default), which refuses the sessions past it.
   */
  maxSessions?: number;
}

/** Hooks of a layer that supplies the ssh config itself (the Vagrant transport). */
export interface SshClientHooks {
  /** Runs before every call (cheap once its answer is cached), e.g. to write the ssh config. */
  prepare?: () => Promise<void>;
  /** After a refused connection: refreshes the config; true when a retry may now succeed. */
  onRefused?: () => Promise<boolean>;
}

/** A failed ssh call: `TRANSPORT_UNREACHABLE` when ssh itself failed (exit 255). */
export class SshCallError extends TransportError {
  /** ssh could not even open a TCP connection (`Connection refused`): nothing ran remotely. */
  readonly refused: boolean;
  constructor(code: 'TRANSPORT_UNREACHABLE' | 'TRANSPORT_FAILED', message: string, refused: boolean, cause?: unknown) {
    super(code, message, cause === undefined ? {} : { cause });
    this.refused = refused;
  }
}

const REFUSED = /Connection refused|Could not resolve hostname|No route to host|Network is unreachable|Connection timed out during banner exchange|connect to host .* port \d+: /;
const MAX_STDERR = 16 * 1024;

function noNul(value: string, field: string): string {
  if (typeof value !== 'string' || value.includes('\0')) throw new InvalidArgumentError(field, 'must be a string without NUL bytes');
  return value;
}

/**
 * Runs scripts on one host through `ssh … <host> sh -s`, multiplexed over one master
 * connection per client (ControlMaster=auto, ControlPath in a private 0700 directory).
 */
export class SshClient {
  /** Private directory holding the control socket. */
  readonly dir: string;
  private readonly args: string[];
  private readonly bin: string;
  private readonly persistMs: number;
  private readonly maxSessions: number;
  private active = 0;
  private readonly queue: Array<() => void> = [];
  private waiting = 0;
  private readonly waitQueue: Array<() => void> = [];
  private masterUntil = 0;
  private connecting: Promise<unknown> | undefined;
  private closed = false;
  private readonly hooks: SshClientHooks;

  constructor(o: SshConnectionOptions, dir?: string, hooks: SshClientHooks = {}) {
    this.hooks = hooks;
    if (typeof o.host !== 'string' || o.host === '' || o.host.startsWith('-') || /[\s\0]/.test(o.host)) {
      throw new InvalidArgumentError('host', `must be a host name not starting with "-", got ${JSON.stringify(o.host)}`);
    }
    if (o.user !== undefined && (o.user === '' || o.user.startsWith('-') || /[\s\0@]/.test(o.user))) {
      throw new InvalidArgumentError('user', `invalid user ${JSON.stringify(o.user)}`);
    }
    if (o.port !== undefined && (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)) {
      throw new InvalidArgumentError('port', `must be 1..65535, got ${String(o.port)}`);
    }
    const connectSec = Math.max(1, Math.ceil((o.connectTimeoutMs ?? 10_000) / 1000));
    const persistSec = o.controlPersistSec ?? 60;
    if (!Number.isInteger(persistSec) || persistSec < 1) throw new InvalidArgumentError('controlPersistSec', 'must be an integer ≥ 1');
    this.persistMs = persistSec * 1000;
    this.maxSessions = o.maxSessions ?? 8;
    if (!Number.isInteger(this.maxSessions) || this.maxSessions < 1) throw new InvalidArgumentError('maxSessions', 'must be an integer ≥ 1');
    this.bin = noNul(o.sshBin ?? 'ssh', 'sshBin');
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'bgexec-ssh-'));
    const extra = (o.sshOptions ?? []).map((v, i) => noNul(v, `sshOptions[${i}]`));
    this.args = [
      '-T',
      ...(o.sshConfigFile === undefined ? [] : ['-F', noNul(o.sshConfigFile, 'sshConfigFile')]),
      '-o', 'BatchMode=yes',
      '-o', 'ControlMaster=auto',
      '-o', `ControlPath=${join(this.dir, '%C')}`,
      '-o', `ControlPersist=${persistSec}`,
      ...extra,
      ...(o.port === undefined ? [] : ['-p', String(o.port)]),
      ...(o.user === undefined ? [] : ['-l', o.user]),
      ...(o.identityFile === undefined ? [] : ['-i', noNul(o.identityFile, 'identityFile')]),
      '-o', 'ServerAliveInterval=5',
      '-o', 'ServerAliveCountMax=3',
      '-o', `ConnectTimeout=${connectSec}`,
      '-o', 'LogLevel=ERROR',
      '--', o.host,
      // The one remote command ever sent: the script always comes on stdin.
      'sh -s',
    ];
  }

  /** The full ssh argument list (for diagnostics and tests). */
  get argv(): readonly string[] {
    return this.args;
  }

  /**
   * Runs `script` remotely and resolves with its stdout. Rejects with {@link SshCallError}:
   * `TRANSPORT_UNREACHABLE` when ssh fails (exit 255, a timeout), `TRANSPORT_FAILED` when the
   * remote shell exits non-zero or ssh cannot be executed.
   */
  async run(script: string, timeoutMs = 60_000): Promise<Buffer> {
    if (this.closed) throw new SshCallError('TRANSPORT_FAILED', 'ssh client is closed', false);
    await this.hooks.prepare?.();
    try {
      return await this.shared(script, timeoutMs);
    } catch (err) {
      // A refused connection ran nothing remotely, so the call can safely be made again.
      if (!(err instanceof SshCallError && err.refused && this.hooks.onRefused && (await this.hooks.onRefused()))) throw err;
      return this.shared(script, timeoutMs);
    }
  }

  /**
   * Like {@link run}, for a call that may wait on the host for long (a write into the full input
   * pipe of a task that does not read): at most half of `maxSessions` (at least one) such calls
   * run at once, so that polls, starts and kills always find a session.
   */
  async runMayWait(script: string, timeoutMs: number): Promise<Buffer> {
    const lane = Math.max(1, Math.floor(this.maxSessions / 2));
    while (this.waiting >= lane) await new Promise<void>((r) => this.waitQueue.push(r));
    this.waiting++;
    try {
      return await this.run(script, timeoutMs);
    } finally {
      this.waiting--;
      this.waitQueue.shift()?.();
    }
  }

  private async shared(script: string, timeoutMs: number): Promise<Buffer> {
    // While no master is known to be up, one call connects and the others wait for it, so
    // that they share its connection instead of each opening (and racing for) their own.
    if (Date.now() >= this.masterUntil) {
      if (this.connecting) await this.connecting.catch(() => {});
      else {
        const first = this.limited(script, timeoutMs);
        this.connecting = first;
        try {
          return await first;
        } finally {
          this.connecting = undefined;
        }
      }
    }
    return this.limited(script, timeoutMs);
  }

  private async limited(script: string, timeoutMs: number): Promise<Buffer> {
    while (this.active >= this.maxSessions) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      const out = await this.exec(script, timeoutMs);
      this.masterUntil = Date.now() + this.persistMs - 1_000;
      return out;
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }

  private exec(script: string, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.bin, this.args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (c: string) => {
        if (err.length < MAX_STDERR) err += c;
      });
      child.stdin.on('error', () => {});
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SshCallError('TRANSPORT_FAILED', `cannot run ${this.bin}: ${e.code ?? e.message}`, false, e));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const why = err.trim().split('\n').filter(Boolean).pop() ?? '';
        if (timedOut) {
          this.masterUntil = 0;
          reject(new SshCallError('TRANSPORT_UNREACHABLE', `ssh call timed out after ${timeoutMs} ms`, false));
        } else if (code === 0) resolve(Buffer.concat(out));
        else if (code === 255 || signal !== null) {
          this.masterUntil = 0;
          reject(new SshCallError('TRANSPORT_UNREACHABLE', why.startsWith('ssh:') ? why : `ssh: ${why || `exit ${code ?? signal}`}`, REFUSED.test(err)));
        } else reject(new SshCallError('TRANSPORT_FAILED', `remote sh exited ${String(code)}: ${why}`, false));
      });
      child.stdin.end(script);
    });
  }

  /** Ends the master connection and removes the private directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      const argv = this.args.slice(0, -2);
      const host = this.args[this.args.length - 2] as string;
      const child = spawn(this.bin, ['-O', 'exit', ...argv.filter((a) => a !== '--' && a !== '-T'), host], { stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('error', () => resolve());
      child.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, TransportError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import type { SshJob } from './ssh/discovery.js';
import { sshTransportWith, type SshTransport, type SshTransportOptions } from './ssh/ssh-transport.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from './types.js';

/** Options of {@link VagrantTransport}: the machine, plus the SSH transport's tuning options. */
export interface VagrantTransportOptions extends Omit<SshTransportOptions, 'host' | 'user' | 'port' | 'identityFile' | 'sshConfigFile'> {
  /** Directory of the Vagrantfile (where `vagrant` runs). */
  cwd: string;
  /** Machine name in the Vagrantfile; default `default`. */
  machine?: string;
  /** The vagrant binary; default `vagrant` from PATH. */
  vagrantBin?: string;
  /** Extra environment of the vagrant processes (e.g. `VAGRANT_HOME`). */
  env?: Readonly<Record<string, string>>;
  /** Limit of one vagrant call; default 120 000 ms. */
  vagrantTimeoutMs?: number;
}

/**
 * A vagrant call failed. `reason` is `machine_not_running` (code `TRANSPORT_UNREACHABLE`: the
 * machine exists but is not up; `state` says what it is) or `vagrant_failed` (code
 * `TRANSPORT_FAILED`: vagrant itself failed, e.g. no Vagrantfile or an unknown machine).
 */
export class VagrantError extends TransportError {
  /** `machine_not_running` or `vagrant_failed` (see above). */
  readonly reason: 'machine_not_running' | 'vagrant_failed';
  /** The machine's state as vagrant reported it (`poweroff`, `saved`, `not_created`, …). */
  readonly state: string | undefined;
  constructor(reason: 'machine_not_running' | 'vagrant_failed', message: string, state?: string) {
    super(reason === 'machine_not_running' ? 'TRANSPORT_UNREACHABLE' : 'TRANSPORT_FAILED', message);
    this.reason = reason;
    this.state = state;
  }
}

// Refreshes after refused connections are at most this frequent (each one is seconds of vagrant).
const REFRESH_MIN_MS = 5_000;

/**
 * Runs attempts inside a Vagrant machine through its SSH connection. Vagrant is asked twice —
 * `vagrant status --machine-readable` and `vagrant ssh-config <machine>` — on first use; the
 * answer is cached as an ssh config file for an internal {@link SshTransport}, and asked again
 * only after a refused connection (forwarded ports move when a machine restarts). Never one
 * `vagrant ssh -c` (seconds each) per operation. Handles have kind `vagrant`.
 */
export class VagrantTransport implements Transport {
  readonly kind = 'vagrant';
  /** The machine name in the Vagrantfile (the `machine` option, default `default`). */
  readonly machine: string;
  private readonly ssh: SshTransport;
  private readonly options: VagrantTransportOptions;
  private readonly configFile: string;
  private config: Promise<void> | undefined;
  private lastAsked = 0;
  private lastConfig = '';
  /** Number of vagrant processes this transport has spawned. */
  vagrantCalls = 0;

  constructor(options: VagrantTransportOptions) {
    if (options === null || typeof options !== 'object' || typeof options.cwd !== 'string' || options.cwd === '') {
      throw new InvalidArgumentError('cwd', 'must be the directory of the Vagrantfile');
    }
    const machine = options.machine ?? 'default';
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(machine)) throw new InvalidArgumentError('machine', `invalid machine name ${JSON.stringify(machine)}`);
    this.machine = machine;
    this.options = options;
    const dir = mkdtempSync(join(tmpdir(), 'bgexec-vagrant-'));
    this.configFile = join(dir, 'ssh_config');
    const { cwd: _c, machine: _m, vagrantBin: _b, env: _e, vagrantTimeoutMs: _t, ...sshOptions } = options;
    this.ssh = sshTransportWith({ ...sshOptions, host: machine, sshConfigFile: this.configFile }, {
      kind: this.kind,
      dir,
      hooks: { prepare: () => this.prepare(), onRefused: () => this.refresh() },
    });
  }

  start(req: LaunchRequest): Promise<TransportHandle> {
    return this.ssh.start(req);
  }
  wait(handle: TransportHandle): Promise<ExitInfo> {
    return this.ssh.wait(handle);
  }
  poll(handle: TransportHandle): Promise<PollResult> {
    return this.ssh.poll(handle);
  }
  read(handle: TransportHandle, stream: OutputStream, offset: number, length: number): Promise<ReadResult> {
    return this.ssh.read(handle, stream, offset, length);
  }
  kill(handle: TransportHandle, options: KillOptions): Promise<void> {
    return this.ssh.kill(handle, options);
  }
  cleanup(handle: TransportHandle): Promise<void> {
    return this.ssh.cleanup(handle);
  }
  probe(taskId: string, attempt: number): Promise<TransportHandle | undefined> {
    return this.ssh.probe(taskId, attempt);
  }
  /** Every attempt in the machine, as {@link SshTransport.list}. */
  list(): Promise<SshJob[]> {
    return this.ssh.list();
  }
  close(): Promise<void> {
    return this.ssh.close();
  }

  // The cached answer. A failed one is kept for REFRESH_MIN_MS, so that a stopped machine does
  // not cost a vagrant process per operation either.
  private prepare(): Promise<void> {
    this.config ??= this.askCached();
    return this.config;
  }

  private askCached(): Promise<void> {
    const asking = this.ask();
    asking.catch(() => {
      setTimeout(() => {
        if (this.config === asking) this.config = undefined;
      }, REFRESH_MIN_MS).unref();
    });
    return asking;
  }

  // After a refused connection: ask again, unless asked very recently. True when the answer changed.
  private async refresh(): Promise<boolean> {
    if (Date.now() - this.lastAsked < REFRESH_MIN_MS) return false;
    const before = this.lastConfig;
    this.config = this.askCached();
    await this.config;
    return this.lastConfig !== before;
  }

  private async ask(): Promise<void> {
    this.lastAsked = Date.now();
    const status = await this.vagrant(['status', '--machine-readable']);
    const state = status.split('\n').map((l) => l.split(',')).find((f) => f[1] === this.machine && f[2] === 'state')?.[3]?.trim();
    if (state === undefined) throw new VagrantError('vagrant_failed', `vagrant status does not list machine ${JSON.stringify(this.machine)}`);
    if (state !== 'running') {
      throw new VagrantError('machine_not_running', `vagrant machine ${this.machine} is not running (state: ${state})`, state);
    }
    const config = await this.vagrant(['ssh-config', this.machine]);
    if (!/^\s*Host\s/m.test(config)) throw new VagrantError('vagrant_failed', `vagrant ssh-config ${this.machine} printed no Host entry`);
    writeFileSync(this.configFile, config, { mode: 0o600 });
    this.lastConfig = config;
  }

  private vagrant(args: string[]): Promise<string> {
    this.vagrantCalls++;
    const bin = this.options.vagrantBin ?? 'vagrant';
    return new Promise((resolve, reject) => {
      const child = spawn(bin, args, { cwd: this.options.cwd, env: { ...process.env, ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c.slice(0, 4096)));
      const timer = setTimeout(() => child.kill('SIGKILL'), this.options.vagrantTimeoutMs ?? 120_000);
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new VagrantError('vagrant_failed', `cannot run ${bin}: ${e.message}`));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new VagrantError('vagrant_failed', `vagrant ${args[0]} exited ${String(code)}: ${err.trim().split('\n').pop() ?? ''}`));
      });
    });
  }
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import type { SshJob } from './ssh/discovery.js';
import { sshTransportWith, type SshTransport, type SshTransportOptions } from './ssh/ssh-transport.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport, TransportCapabilities } from './types.js';
import { parseMachineReadable, runVagrant, VagrantError } from './vagrant-cli.js';

export { VagrantError, type VagrantFailureReason } from './vagrant-cli.js';

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

// Refreshes after refused connections are at most this frequent (each one is seconds of vagrant).
const REFRESH_MIN_MS = 5_000;
const DOWN_MAX_MS = 20_000;
// While a machine is known down, its old ssh port answering again is a reason to ask vagrant at
// once, but not more often than this (a port that answers while vagrant still says "down" is
// not the machine's).
const BACK_REASK_MS = 5_000;
const PORT_PROBE_MS = 1_000;
// Tries of one vagrant call while the machine is locked by another vagrant process (~6 s in
// all); after that the start is refused as `machine_locked` and the executor tries it again later.
const LOCKED_TRIES = 6;

/** Where the ssh config sends the connection, when it is a plain TCP address (no proxy). */
interface SshAddress {
  host: string;
  port: number;
}

/** The `HostName`/`Port` of an ssh config from `vagrant ssh-config`; undefined when it uses a proxy or names no host. */
export function sshAddressOf(config: string): SshAddress | undefined {
  const value = (key: string) => new RegExp(`^\\s*${key}\\s+(\\S+)`, 'mi').exec(config)?.[1];
  if (value('ProxyCommand') !== undefined || value('ProxyJump') !== undefined) return undefined;
  const host = value('HostName');
  const port = Number(value('Port') ?? '22');
  if (host === undefined || !Number.isInteger(port) || port <= 0 || port > 65_535) return undefined;
  return { host, port };
}

// Whether something accepts TCP connections at the address: milliseconds, no vagrant process.
function portOpen(address: SshAddress): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(PORT_PROBE_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Runs attempts inside a Vagrant machine through its SSH connection. Vagrant is asked twice —
 * `vagrant status <machine> --machine-readable` and `vagrant ssh-config <machine>` — on first use; the
 * answer is cached as an ssh config file for an internal {@link SshTransport}, and asked again
 * only after a refused connection (forwarded ports move when a machine restarts), or, while the
 * machine is known down, as soon as its old ssh port accepts a TCP connection again. Never one
 * `vagrant ssh -c` (seconds each) per operation. Handles have kind `vagrant`. Failures of vagrant
 * are {@link VagrantError}s whose `reason` says what happened; a start refused because the
 * machine is down or locked by another vagrant process is made again by the executor.
 */
export class VagrantTransport implements Transport {
  readonly kind = 'vagrant';
  /** Input and terminals, as {@link SshTransport}'s. */
  readonly capabilities: TransportCapabilities = { stdin: true, tty: true };
  /** The machine name in the Vagrantfile (the `machine` option, default `default`). */
  readonly machine: string;
  private readonly ssh: SshTransport;
  private readonly options: VagrantTransportOptions;
  private readonly configFile: string;
  private config: Promise<void> | undefined;
  private lastAsked = 0;
  private lastBackAsk = 0;
  private downDelay = REFRESH_MIN_MS;
  private lastConfig = '';
  private address: SshAddress | undefined;
  // The cached answer while it says the machine is down (not running, not created).
  private down: Promise<void> | undefined;
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
  writeStdin(handle: TransportHandle, data: Uint8Array): Promise<void> {
    return this.ssh.writeStdin(handle, data);
  }
  closeStdin(handle: TransportHandle): Promise<void> {
    return this.ssh.closeStdin(handle);
  }
  /** Every attempt in the machine, as {@link SshTransport.list}. */
  list(): Promise<SshJob[]> {
    return this.ssh.list();
  }
  close(): Promise<void> {
    return this.ssh.close();
  }

  // The cached answer. A failed one is kept for a while, so that a stopped machine does not
  // cost a vagrant process per operation either: REFRESH_MIN_MS, doubling up to DOWN_MAX_MS
  // while the machine stays down. Every `vagrant status` briefly locks the machine's entry in
  // vagrant's index, and a `vagrant up` run by hand at that moment fails with "locked", so a
  // machine that is down is asked about rarely. But a machine seen up before comes back on its
  // old ssh port (its forward is part of the machine's configuration): while the answer says
  // "down", each operation first tries a TCP connection there, and one that is accepted means
  // a `vagrant up` has happened, so vagrant is asked at once instead of when the backoff ends.
  private prepare(): Promise<void> {
    const down = this.down;
    if (down !== undefined && this.config === down && this.address !== undefined) return this.downOrBack(down, this.address);
    this.config ??= this.askCached();
    return this.config;
  }

  private async downOrBack(down: Promise<void>, address: SshAddress): Promise<void> {
    if (Date.now() - this.lastBackAsk >= BACK_REASK_MS && (await portOpen(address)) && this.config === down) {
      this.lastBackAsk = Date.now();
      this.config = this.askCached();
    }
    this.config ??= this.askCached();
    return this.config;
  }

  private askCached(): Promise<void> {
    const asking = this.ask();
    asking.then(
      () => {
        this.downDelay = REFRESH_MIN_MS;
        this.down = undefined;
      },
      (err: unknown) => {
        const delay = this.downDelay;
        const isDown = err instanceof VagrantError && (err.reason === 'machine_not_running' || err.reason === 'machine_not_created');
        if (isDown) this.downDelay = Math.min(delay * 2, DOWN_MAX_MS);
        this.down = isDown ? asking : undefined;
        setTimeout(() => {
          if (this.config === asking) this.config = undefined;
        }, delay).unref();
      },
    );
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
    // Only this machine: vagrant then names an unknown one itself (MachineNotFound), and a
    // provider is asked about one machine instead of all.
    const status = parseMachineReadable(await this.vagrant(['status', this.machine, '--machine-readable']));
    const state = status.find((r) => r.target === this.machine && r.type === 'state')?.data[0]?.trim();
    if (state === undefined) throw new VagrantError('vagrant_failed', `vagrant status ${this.machine} did not report the machine's state`);
    if (state === 'not_created') {
      throw new VagrantError('machine_not_created', `vagrant machine ${this.machine} is not created (run \`vagrant up ${this.machine}\`)`, { state });
    }
    if (state !== 'running') {
      throw new VagrantError('machine_not_running', `vagrant machine ${this.machine} is not running (state: ${state})`, { state });
    }
    // Machine-readable, so that a failure names its error class (a lock, SSHNotReady).
    const out = await this.vagrant(['ssh-config', this.machine, '--machine-readable']);
    const record = parseMachineReadable(out).find((r) => r.target === this.machine && r.type === 'ssh-config')?.data.join(',');
    // A vagrant that prints no `ssh-config` record prints the config itself, after its records.
    const config = record ?? out.split('\n').filter((l) => !/^\d+,/.test(l)).join('\n');
    if (!/^\s*Host\s/m.test(config)) throw new VagrantError('vagrant_failed', `vagrant ssh-config ${this.machine} printed no Host entry`);
    writeFileSync(this.configFile, config, { mode: 0o600 });
    this.lastConfig = config;
    this.address = sshAddressOf(config);
  }

  // Vagrant refuses a second process on a machine another one is using (`MachineLocked`: a
  // `vagrant up`, or another transport's `status`): that is a short wait here, and past it a
  // refused start (`machine_locked`) that the executor makes again later, not a failure.
  private async vagrant(args: string[]): Promise<string> {
    const o = this.options;
    const call = { bin: o.vagrantBin ?? 'vagrant', cwd: o.cwd, env: o.env, timeoutMs: o.vagrantTimeoutMs ?? 120_000 };
    for (let i = 1; ; i++) {
      this.vagrantCalls++;
      try {
        return await runVagrant(call, args);
      } catch (err) {
        if (!(err instanceof VagrantError && err.reason === 'machine_locked') || i >= LOCKED_TRIES) throw err;
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (i - 1), 2_000)));
      }
    }
  }
}

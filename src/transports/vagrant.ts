import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import type { TransportHandle } from '../task.js';
import type { SshJob } from './ssh/discovery.js';
import { sshTransportWith, type SshTransport, type SshTransportOptions } from './ssh/ssh-transport.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from './types.js';
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
// Tries of one vagrant call while the machine is locked by another vagrant process (~1 min in all).
const LOCKED_TRIES = 32;

/**
 * Runs attempts inside a Vagrant machine through its SSH connection. Vagrant is asked twice —
 * `vagrant status <machine> --machine-readable` and `vagrant ssh-config <machine>` — on first use; the
 * answer is cached as an ssh config file for an internal {@link SshTransport}, and asked again
 * only after a refused connection (forwarded ports move when a machine restarts). Never one
 * `vagrant ssh -c` (seconds each) per operation. Handles have kind `vagrant`. Failures of vagrant
 * are {@link VagrantError}s whose `reason` says what happened.
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
  private downDelay = REFRESH_MIN_MS;
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

  // The cached answer. A failed one is kept for a while, so that a stopped machine does not
  // cost a vagrant process per operation either: REFRESH_MIN_MS, doubling up to DOWN_MAX_MS
  // while the machine stays down. Every `vagrant status` briefly locks the machine's entry in
  // vagrant's index, and a `vagrant up` run by hand at that moment fails with "locked", so a
  // machine that is down is asked about rarely.
  private prepare(): Promise<void> {
    this.config ??= this.askCached();
    return this.config;
  }

  private askCached(): Promise<void> {
    const asking = this.ask();
    asking.then(
      () => (this.downDelay = REFRESH_MIN_MS),
      (err: unknown) => {
        const delay = this.downDelay;
        if (err instanceof VagrantError && err.refused) this.downDelay = Math.min(delay * 2, DOWN_MAX_MS);
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
    const config = await this.vagrant(['ssh-config', this.machine]);
    if (!/^\s*Host\s/m.test(config)) throw new VagrantError('vagrant_failed', `vagrant ssh-config ${this.machine} printed no Host entry`);
    writeFileSync(this.configFile, config, { mode: 0o600 });
    this.lastConfig = config;
  }

  // Vagrant refuses a second process on a machine another one is using (`MachineLocked`: a
  // `vagrant up`, or another transport's `status`): that is a wait, not a failure.
  private async vagrant(args: string[]): Promise<string> {
    const o = this.options;
    const call = { bin: o.vagrantBin ?? 'vagrant', cwd: o.cwd, env: o.env, timeoutMs: o.vagrantTimeoutMs ?? 120_000 };
    for (let i = 1; ; i++) {
      this.vagrantCalls++;
      try {
        return await runVagrant(call, args);
      } catch (err) {
        if (!(err instanceof VagrantError && err.vagrantErrorType === 'Vagrant::Errors::MachineLocked') || i >= LOCKED_TRIES) throw err;
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (i - 1), 2_000)));
      }
    }
  }
}

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { TransportError } from '../errors.js';

/**
 * Why a vagrant call failed, for programs to branch on:
 * - `vagrant_not_installed`: the vagrant binary cannot be executed (not on PATH, not executable);
 * - `cwd_missing`: the `cwd` option is not an existing directory;
 * - `no_vagrantfile`: vagrant found no Vagrantfile in `cwd` or above it;
 * - `unknown_machine`: the Vagrantfile defines no machine of that name;
 * - `machine_not_created`: the machine is defined but does not exist (never brought up, or destroyed);
 * - `machine_not_running`: the machine exists but is not up (`poweroff`, `stopped`, `saved`, …);
 * - `machine_locked`: another vagrant process holds the machine (a `vagrant up`, `halt` or
 *   `reload` in progress, or another transport asking about it) for longer than the transport
 *   waits (a few seconds);
 * - `vagrant_failed`: anything else vagrant reported (its own message is in the error's message).
 */
export type VagrantFailureReason =
  | 'vagrant_not_installed'
  | 'cwd_missing'
  | 'no_vagrantfile'
  | 'unknown_machine'
  | 'machine_not_created'
  | 'machine_not_running'
  | 'machine_locked'
  | 'vagrant_failed';

// Reasons after which nothing ran and a later call may succeed: the executor gives the start back.
const REFUSED_REASONS: ReadonlySet<VagrantFailureReason> = new Set(['machine_not_running', 'machine_not_created', 'machine_locked']);

/**
 * A vagrant call failed; `reason` says why (see {@link VagrantFailureReason}). The code is
 * `TRANSPORT_UNREACHABLE` for `machine_not_created`, `machine_not_running` and `machine_locked`
 * (the machine may come up or be free later; nothing ran, so `refused` is true and the executor
 * gives a start back and tries again) and `TRANSPORT_FAILED` for the others (the setup itself is
 * wrong). The message carries what vagrant said (its `ui,error` text). In a task record
 * (`record.error`, the attempt's history entry) the error keeps `reason`, and `details` holds
 * `vagrantErrorType` and `state` when known.
 */
export class VagrantError extends TransportError {
  /** Why the call failed; branch on this. */
  readonly reason: VagrantFailureReason;
  /** The machine's state as vagrant reported it (`poweroff`, `stopped`, `not_created`, …), when known. */
  readonly state: string | undefined;
  /** Vagrant's own error class from its `error-exit` line (e.g. `Vagrant::Errors::MachineNotFound`), when it printed one. */
  readonly vagrantErrorType: string | undefined;
  /** True when nothing ran in the machine because it is not up (the call may succeed once it is). */
  readonly refused: boolean;
  /**
   * `machine_destroyed` when the machine does not exist (`machine_not_created`): attempts watched
   * in it end at once as `lost` with that reason, since no machine will ever report them again.
   */
  readonly hostGone: 'machine_destroyed' | undefined;
  constructor(reason: VagrantFailureReason, message: string, details: { state?: string; vagrantErrorType?: string; cause?: unknown } = {}) {
    const down = REFUSED_REASONS.has(reason);
    super(down ? 'TRANSPORT_UNREACHABLE' : 'TRANSPORT_FAILED', message, details.cause === undefined ? {} : { cause: details.cause });
    this.reason = reason;
    this.state = details.state;
    this.vagrantErrorType = details.vagrantErrorType;
    this.refused = down;
    this.hostGone = reason === 'machine_not_created' ? 'machine_destroyed' : undefined;
  }

  /** The record form: `reason`, and `details` with vagrant's error class and the machine's state when known. */
  override toJSON(): ReturnType<TransportError['toJSON']> & {
    /** Why, as {@link VagrantError.reason} says. */
    reason: VagrantFailureReason;
    /** Vagrant's error class (`vagrantErrorType`) and the machine's state, when known. */
    details?: Readonly<Record<string, string>>;
  } {
    const details: Record<string, string> = {};
    if (this.vagrantErrorType !== undefined) details['vagrantErrorType'] = this.vagrantErrorType;
    if (this.state !== undefined) details['state'] = this.state;
    const info = { ...super.toJSON(), reason: this.reason };
    return Object.keys(details).length === 0 ? info : { ...info, details };
  }
}

/** One record of `vagrant --machine-readable` output: `timestamp,target,type,data…`. */
export interface MachineReadableLine {
  target: string;
  type: string;
  data: string[];
}

// Vagrant escapes commas as `%!(VAGRANT_COMMA)` and newlines as `\n` inside a field.
function unescapeField(s: string): string {
  return s.replaceAll('%!(VAGRANT_COMMA)', ',').replaceAll('\\n', '\n').replaceAll('\\r', '\r');
}

/** Parses `--machine-readable` output; lines that are not records (plugin warnings) are skipped. */
export function parseMachineReadable(text: string): MachineReadableLine[] {
  const lines: MachineReadableLine[] = [];
  for (const raw of text.split('\n')) {
    const f = raw.replace(/\r$/, '').split(',');
    if (f.length < 3 || !/^\d+$/.test(f[0] ?? '')) continue;
    lines.push({ target: f[1] ?? '', type: f[2] ?? '', data: f.slice(3).map(unescapeField) });
  }
  return lines;
}

const BY_ERROR_TYPE: Readonly<Record<string, VagrantFailureReason>> = {
  'Vagrant::Errors::NoEnvironmentError': 'no_vagrantfile',
  'Vagrant::Errors::VagrantfileNotFound': 'no_vagrantfile',
  'Vagrant::Errors::MachineNotFound': 'unknown_machine',
  // Between `status` and `ssh-config` the machine went down.
  'Vagrant::Errors::SSHNotReady': 'machine_not_running',
  // Another vagrant process holds the machine's index entry (any command), its action lock
  // (`up`, `halt`, `reload`, …) or a named lock of the environment.
  'Vagrant::Errors::MachineLocked': 'machine_locked',
  'Vagrant::Errors::MachineActionLockedError': 'machine_locked',
  'Vagrant::Errors::EnvironmentLockedError': 'machine_locked',
};

// Vagrant's own texts for the same errors, for output that is not machine-readable (a vagrant
// that printed no `error-exit` line): the error class is inferred from them.
const BY_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/because it is locked!/, 'Vagrant::Errors::MachineLocked'],
  [/another process is already executing an action on the machine/, 'Vagrant::Errors::MachineActionLockedError'],
  [/lock is being held by another instance of Vagrant/, 'Vagrant::Errors::EnvironmentLockedError'],
  [/is reporting that it\s+is not yet ready for SSH/, 'Vagrant::Errors::SSHNotReady'],
];

/** What a failed vagrant process said: its `error-exit` class and text, else its `ui,error` lines, else stderr. */
export function vagrantFailure(command: string, exit: string, stdout: string, stderr: string): VagrantError {
  const records = parseMachineReadable(stdout);
  const exitLine = records.find((r) => r.type === 'error-exit');
  const uiErrors = records.filter((r) => r.type === 'ui' && r.data[0] === 'error').map((r) => r.data.slice(1).join(','));
  const said = (exitLine?.data.slice(1).join(',') ?? uiErrors.join('\n')).trim() || stderr.trim();
  const type = exitLine?.data[0] ?? BY_TEXT.find(([re]) => re.test(said))?.[1];
  const reason = (type === undefined ? undefined : BY_ERROR_TYPE[type]) ?? 'vagrant_failed';
  // One line: vagrant wraps its text at ~70 columns.
  const text = said.replace(/\s*\n\s*/g, ' ').slice(0, 2000);
  return new VagrantError(reason, `vagrant ${command} ${exit}: ${text || '(vagrant printed no message)'}`, type === undefined ? {} : { vagrantErrorType: type });
}

/** How to run vagrant. */
export interface VagrantCall {
  bin: string;
  cwd: string;
  env: Readonly<Record<string, string>> | undefined;
  timeoutMs: number;
}

/**
 * Runs `vagrant <args>` and resolves with its stdout; rejects with a {@link VagrantError} whose
 * reason tells a missing cwd from a missing vagrant (both are ENOENT to spawn) and carries
 * what vagrant printed.
 */
export function runVagrant(call: VagrantCall, args: readonly string[]): Promise<string> {
  const command = args.filter((a) => !a.startsWith('--')).join(' ');
  if (!isDirectory(call.cwd)) {
    return Promise.reject(new VagrantError('cwd_missing', `vagrant ${command}: cwd ${JSON.stringify(call.cwd)} is not an existing directory`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn(call.bin, args, { cwd: call.cwd, env: { ...process.env, ...call.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (out.length < 1 << 20) out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (err.length < 16_384) err += c;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, call.timeoutMs);
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // The cwd was checked above, so ENOENT here is the binary.
      if (e.code === 'ENOENT' || e.code === 'EACCES') {
        reject(new VagrantError('vagrant_not_installed', `cannot run ${call.bin}: ${e.code === 'ENOENT' ? 'not found (is vagrant installed and on PATH?)' : 'permission denied'}`, { cause: e }));
      } else reject(new VagrantError('vagrant_failed', `cannot run ${call.bin}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new VagrantError('vagrant_failed', `vagrant ${command} timed out after ${call.timeoutMs} ms`));
      else if (code === 0) resolve(out);
      else reject(vagrantFailure(command, code === null ? `killed by ${String(signal)}` : `exited ${code}`, out, err));
    });
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

// A real OpenSSH server for the SSH and Vagrant transport tests: sshd on 127.0.0.1 at a free
// port, with its own host key, config, pid file and authorized keys, and a dedicated test user
// whose login shell is /bin/sh. Each user key selects the shell that `sh` names on the remote
// PATH (dash, bash or BusyBox), so one server covers the remote-shell matrix.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import type { SshTransportOptions } from '../../src/transports/ssh/ssh-transport.js';
import { descendantsNamed, killGroupsMentioning, killPids } from './procs.js';
import { sayWhySkipped } from './skip.js';

/** The remote shells the harness can put behind `sh`. */
export type RemoteShell = 'dash' | 'bash' | 'busybox';
const SHELLS: Record<RemoteShell, string> = { dash: '/bin/dash', bash: '/bin/bash', busybox: '/bin/busybox' };

export const TEST_USER = 'bgx_test';

/** Path of an executable found in PATH (or among `extra`), or undefined. */
export function which(name: string, extra: readonly string[] = []): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), ...extra]) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Why the SSH tests cannot run here (a binary is missing), or undefined when they can. */
export function sshUnavailable(): string | undefined {
  const missing = ['ssh', 'sshd', 'ssh-keygen'].filter((b) => which(b, ['/usr/sbin', '/usr/local/sbin']) === undefined);
  if (missing.length === 0) return undefined;
  return sayWhySkipped(`skipped: ${missing.join(', ')} not installed (apt-get install openssh-server openssh-client)`);
}

/**
 * Why `sh` cannot be `shell` on the test server (its binary is missing), or undefined when it
 * can. dash and bash are part of every Debian-like system; BusyBox is installed by `.ci/run`.
 */
export function shellUnavailable(shell: RemoteShell): string | undefined {
  if (existsSync(SHELLS[shell])) return undefined;
  return sayWhySkipped(`skipped: ${SHELLS[shell]} not installed, so the ${shell} remote-shell test cannot run (apt-get install ${shell})`);
}

/** A running test sshd. */
export interface Sshd {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The test user's home directory. */
  readonly home: string;
  readonly dir: string;
  /** Private key whose sessions see `sh` as `shell`. */
  identity(shell?: RemoteShell): string;
  /** Options for an SshTransport against this server (known host pinned, no user ssh config). */
  options(extra?: Partial<SshTransportOptions> & { shell?: RemoteShell }): SshTransportOptions;
  /** The server's OpenSSH client config lines (Host alias `name`), as `vagrant ssh-config` prints them. */
  sshConfig(name: string, shell?: RemoteShell): string;
  /** Simulates an outage: kills the listener and every connection's sshd process. */
  stop(): Promise<void>;
  /** Ends the outage: starts the listener again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  close(): Promise<void>;
}

function ensureUser(): { user: string; home: string } {
  if (process.getuid?.() !== 0) return { user: userInfo().username, home: userInfo().homedir };
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('id', ['-u', TEST_USER], { stdio: 'ignore' });
      break;
    } catch {
      try {
        execFileSync('useradd', ['-m', '-s', '/bin/sh', TEST_USER], { stdio: 'ignore' });
      } catch {
        // Another test file created it meanwhile, or /etc/passwd is locked: look again.
        execFileSync('sleep', ['0.1']);
      }
    }
  }
  // A locked password ('!') makes sshd refuse the account when PAM is off; '*' only disables passwords.
  execFileSync('usermod', ['-p', '*', TEST_USER], { stdio: 'ignore' });
  const home = execFileSync('getent', ['passwd', TEST_USER]).toString().split(':')[5] ?? `/home/${TEST_USER}`;
  return { user: TEST_USER, home };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForBanner(port: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
      s.setTimeout(1000, () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not come up on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a test sshd. Call {@link sshUnavailable} first. */
export async function startSshd(): Promise<Sshd> {
  const { user, home } = ensureUser();
  const dir = mkdtempSync(join(tmpdir(), 'bgexec-sshd-'));
  // The test user reads its authorized keys and runs the shims from here.
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bgexec-test', '-f', file], { stdio: 'ignore' });
  keygen(join(dir, 'host_key'));
  const keys: string[] = [];
  // Only shells that exist get a key: a shim linked to a missing binary would leave `sh` to the
  // system's default shell, and a test of that shell would silently test another one.
  const shells = (Object.keys(SHELLS) as RemoteShell[]).filter((shell) => existsSync(SHELLS[shell]));
  for (const shell of shells) {
    keygen(join(dir, `id_${shell}`));
    const shim = join(dir, `shim-${shell}`);
    mkdirSync(shim, { mode: 0o755 });
    symlinkSync(SHELLS[shell], join(shim, 'sh'));
    const pub = readFileSync(join(dir, `id_${shell}.pub`), 'utf8').trim();
    keys.push(`environment="PATH=${shim}:/usr/local/bin:/usr/bin:/bin" ${pub}`);
  }
  writeFileSync(join(dir, 'authorized_keys'), `${keys.join('\n')}\n`, { mode: 0o644 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PubkeyAuthentication yes', 'PasswordAuthentication no',
    'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitUserEnvironment yes', `AllowUsers ${user}`,
    'MaxStartups 100:30:200', 'LogLevel ERROR', '',
  ].join('\n'));
  const hostPub = readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  const sshd = which('sshd', ['/usr/sbin', '/usr/local/sbin']) ?? '/usr/sbin/sshd';
  let child: ChildProcess | undefined;

  // A test worker that dies without its afterAll must not leave the server running.
  const onExit = (): void => {
    if (child?.pid !== undefined) killPids([child.pid, ...descendantsNamed(child.pid, 'sshd')], 'SIGKILL');
  };
  process.once('exit', onExit);
  const start = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null) return;
    const log = openSync(join(dir, 'sshd.log'), 'a');
    child = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', log] });
    closeSync(log);
    await waitForBanner(port);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c?.pid === undefined || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    const pids = [c.pid, ...descendantsNamed(c.pid, 'sshd')];
    killPids(pids, 'SIGKILL');
    await exited;
  };
  await start();
  const identity = (shell: RemoteShell = 'dash') => {
    if (!shells.includes(shell)) throw new Error(`no key for remote shell ${shell}: ${SHELLS[shell]} is not installed (see shellUnavailable)`);
    return join(dir, `id_${shell}`);
  };
  const remoteRoot = join(home, '.local', 'state', `bgexec-test-${port}`);
  const sshOptions = ['-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes'];
  return {
    host: '127.0.0.1', port, user, home, dir, identity, start, stop,
    // A root of its own per server, so that parallel test files do not see each other's jobs.
    options: ({ shell, ...extra } = {}) => ({
      host: '127.0.0.1', port, user, identityFile: identity(shell), sshConfigFile: '/dev/null', sshOptions, remoteRoot, ...extra,
    }),
    sshConfig: (name, shell) => [
      `Host ${name}`, '  HostName 127.0.0.1', `  User ${user}`, `  Port ${port}`, `  IdentityFile ${identity(shell)}`, '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${join(dir, 'known_hosts')}`, '  StrictHostKeyChecking yes', '',
    ].join('\n'),
    close: async () => {
      process.removeListener('exit', onExit);
      await stop();
      // Attempts a failed test did not kill would run on with their run directories gone.
      killGroupsMentioning(remoteRoot);
      rmSync(dir, { recursive: true, force: true });
      rmSync(remoteRoot, { recursive: true, force: true });
    },
  };
}

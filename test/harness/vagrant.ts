// The inline Vagrant fixture: the real `vagrant` binary over test/harness/vagrant/Vagrantfile (an
// inline provider whose machine is the test sshd), in a private copy of that directory with its
// own VAGRANT_HOME, and a logging wrapper as `vagrantBin` that counts vagrant processes. It is
// for fast tests of the plumbing (what vagrant is asked, when, and what its answers become);
// a real machine (boot, halt, reload, destroy) is test/harness/vagrant-docker.ts.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VagrantTransportOptions } from '../../src/transports/vagrant.js';
import { sayWhySkipped } from './skip.js';
import { which, type RemoteShell, type Sshd } from './sshd.js';

const VAGRANTFILE = fileURLToPath(new URL('./vagrant/Vagrantfile', import.meta.url));

/** Why the Vagrant tests cannot run here, or undefined when they can. */
export function vagrantUnavailable(): string | undefined {
  return which('vagrant') === undefined ? sayWhySkipped('skipped: vagrant not installed (apt-get install vagrant)') : undefined;
}

/** What the fixture machine is: its state and where its sshd listens. */
export interface FixtureMachine {
  state: 'running' | 'poweroff' | 'saved' | 'not_created';
  port: number;
  user: string;
  key: string;
}

export interface VagrantFixture {
  /** Directory of the (copied) Vagrantfile. */
  cwd: string;
  /** Options for a VagrantTransport on machine `build`. */
  options(extra?: Partial<VagrantTransportOptions>): VagrantTransportOptions;
  /** Changes the machine vagrant reports from now on. */
  setMachine(m: Partial<FixtureMachine>): void;
  /** The vagrant invocations so far (one line of arguments each). */
  calls(): string[];
  close(): void;
}

/** A fixture whose machine `build` is `sshd` (remote shell `shell`). */
export function vagrantFixture(sshd: Sshd, shell: RemoteShell = 'dash'): VagrantFixture {
  const dir = mkdtempSync(join(tmpdir(), 'bgexec-vagrant-fixture-'));
  const cwd = join(dir, 'project');
  mkdirSync(cwd);
  copyFileSync(VAGRANTFILE, join(cwd, 'Vagrantfile'));
  const machineFile = join(dir, 'machine.json');
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  let machine: FixtureMachine = { state: 'running', port: sshd.port, user: sshd.user, key: sshd.identity(shell) };
  const write = () => writeFileSync(machineFile, JSON.stringify(machine));
  write();
  // Run directories of its own on the (shared) test account, removed by close().
  const remoteRoot = join(sshd.home, '.local', 'state', `bgexec-test-${basename(dir)}`);
  const bin = join(dir, 'vagrant-logged');
  writeFileSync(bin, `#!/bin/sh\nprintf '%s\\n' "$*" >>'${log}'\nexec '${which('vagrant')}' "$@"\n`, { mode: 0o755 });
  const env = {
    VAGRANT_HOME: join(dir, 'vagrant-home'),
    VAGRANT_DEFAULT_PROVIDER: 'bgexec_fixture',
    VAGRANT_CHECKPOINT_DISABLE: '1',
    VAGRANT_NO_COLOR: '1',
    BGEXEC_FIXTURE_MACHINE: machineFile,
  };
  return {
    cwd,
    options: (extra = {}) => ({ cwd, machine: 'build', vagrantBin: bin, env, pollIntervalMs: 25, maxPollIntervalMs: 200, remoteRoot, ...extra }),
    setMachine: (m) => {
      machine = { ...machine, ...m };
      write();
    },
    calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean),
    close: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(remoteRoot, { recursive: true, force: true });
    },
  };
}

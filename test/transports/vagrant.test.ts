// VagrantTransport beyond the contract, through the inline fixture (fast; no real machine): a
// machine that is not running is a clear error and costs one vagrant process, not one per
// operation; a refused connection (the machine came back on another forwarded port) makes it
// ask vagrant again, and the running task is collected; and every way vagrant can fail has a
// reason of its own and says what vagrant said.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toErrorInfo } from '../../src/errors.js';
import { VagrantError, VagrantTransport } from '../../src/transports/vagrant.js';
import { vagrantFailure } from '../../src/transports/vagrant-cli.js';
import { startSshd } from '../harness/sshd.js';
import { killPids, pidsOfTask } from '../harness/procs.js';
import { vagrantFixture, vagrantUnavailable } from '../harness/vagrant.js';
import { contractTaskId } from './_contract.js';
import { q } from './_shell.js';
import { describeSkipped, skipReason, sshd } from './_ssh-fixture.js';

const why = skipReason ?? vagrantUnavailable();

if (why !== undefined) describeSkipped(`VagrantTransport (${why})`);
else {
  // Each vagrant process takes 1–9 s (a Ruby program, slow on a loaded machine); a test runs up to four.
  describe('VagrantTransport', { timeout: 120_000 }, () => {
    it('a machine that is not running: VagrantError machine_not_running, asked once for several operations', async () => {
      const fx = vagrantFixture(await sshd());
      fx.setMachine({ state: 'poweroff' });
      const t = new VagrantTransport(fx.options());
      try {
        const req = { taskId: contractTaskId(), attempt: 1, command: 'true', detached: false };
        const err = await t.start(req).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(VagrantError);
        expect(err).toMatchObject({ code: 'TRANSPORT_UNREACHABLE', reason: 'machine_not_running', state: 'poweroff' });
        await expect(t.start({ ...req, attempt: 2 })).rejects.toMatchObject({ reason: 'machine_not_running' });
        await expect(t.probe(req.taskId, 1)).rejects.toMatchObject({ reason: 'machine_not_running' });
        expect(fx.calls()).toEqual(['status build --machine-readable']);
      } finally {
        await t.close();
        fx.close();
      }
    });

    it('asks vagrant again after a refused connection and collects the task on the new port', async () => {
      const first = await sshd();
      const second = await startSshd();
      const fx = vagrantFixture(first);
      const t = new VagrantTransport(fx.options());
      const taskId = contractTaskId();
      try {
        const h = await t.start({ taskId, attempt: 1, command: 'echo before; sleep 3; echo after; exit 9', detached: false });
        expect(h.kind).toBe('vagrant');
        // The machine restarts behind another forwarded port: the old one refuses connections.
        fx.setMachine({ port: second.port, key: second.identity() });
        await first.stop();
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 9 });
        expect((await t.read(h, 'stdout', 0, 100)).data.toString()).toBe('before\nafter\n');
        expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build --machine-readable', 'status build --machine-readable', 'ssh-config build --machine-readable']);
        await t.cleanup(h);
      } finally {
        killPids(pidsOfTask(taskId), 'SIGKILL');
        await first.start();
        await t.close();
        await second.close();
        fx.close();
      }
    });

    it('a machine seen down that answers on its old ssh port again is asked about at once, not after the down backoff', async () => {
      const own = await startSshd();
      const fx = vagrantFixture(own);
      const t = new VagrantTransport(fx.options());
      const req = () => ({ taskId: contractTaskId(), attempt: 1, command: 'echo back', detached: false });
      try {
        expect(await t.probe(contractTaskId(), 1)).toBeUndefined();
        // Halted: its port refuses connections and vagrant says so; the answer is kept for 5 s or more.
        fx.setMachine({ state: 'poweroff' });
        await own.stop();
        // Within 5 s of the last answer a refused connection is reported as such (ssh's own error);
        // after that vagrant is asked, and says the machine is not running.
        let err: unknown;
        for (let i = 0; i < 40 && !(err instanceof VagrantError); i++) {
          err = await t.start(req()).catch((e: unknown) => e);
          if (!(err instanceof VagrantError)) await new Promise((r) => setTimeout(r, 500));
        }
        expect(err).toMatchObject({ reason: 'machine_not_running', refused: true });
        await expect(t.start(req())).rejects.toMatchObject({ reason: 'machine_not_running' });
        const asked = fx.calls().length;
        // Up again on the same port (a `vagrant up`): the next start does not wait for the kept answer to expire.
        fx.setMachine({ state: 'running' });
        await own.start();
        const h = await t.start(req());
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        expect(fx.calls().slice(asked)).toEqual(['status build --machine-readable', 'ssh-config build --machine-readable']);
        await t.cleanup(h);
      } finally {
        await t.close();
        await own.close();
        fx.close();
      }
    });

    it('a machine destroyed under a running attempt ends it at once as lost (machine_destroyed)', async () => {
      const own = await startSshd();
      const fx = vagrantFixture(own);
      const t = new VagrantTransport(fx.options({ unreachableTimeoutMs: 600_000 }));
      const taskId = contractTaskId();
      try {
        const h = await t.start({ taskId, attempt: 1, command: 'echo up; sleep 300', detached: false });
        fx.setMachine({ state: 'not_created' });
        await own.stop();
        // Not after unreachableTimeoutMs (10 min): vagrant says the machine is gone.
        expect(await t.wait(h)).toMatchObject({ state: 'lost', reason: 'machine_destroyed' });
        expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build --machine-readable', 'status build --machine-readable']);
      } finally {
        killPids(pidsOfTask(taskId), 'SIGKILL');
        await t.close();
        await own.close();
        fx.close();
      }
    });

    describe('errors that say what happened', () => {
      const req = () => ({ taskId: contractTaskId(), attempt: 1, command: 'true', detached: false });
      async function failure(t: VagrantTransport): Promise<VagrantError> {
        try {
          const err = await t.start(req()).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(VagrantError);
          return err as VagrantError;
        } finally {
          await t.close();
        }
      }

      it('vagrant not installed: vagrant_not_installed, not a missing cwd', async () => {
        const fx = vagrantFixture(await sshd());
        try {
          const err = await failure(new VagrantTransport(fx.options({ vagrantBin: '/nonexistent/bin/vagrant' })));
          expect(err).toMatchObject({ code: 'TRANSPORT_FAILED', reason: 'vagrant_not_installed', refused: false });
          expect(err.message).toMatch(/\/nonexistent\/bin\/vagrant.*not found/);
        } finally {
          fx.close();
        }
      });

      it('a cwd that does not exist: cwd_missing naming it (vagrant is installed)', async () => {
        const fx = vagrantFixture(await sshd());
        try {
          const err = await failure(new VagrantTransport(fx.options({ cwd: '/nonexistent/bgexec/project' })));
          expect(err).toMatchObject({ code: 'TRANSPORT_FAILED', reason: 'cwd_missing' });
          expect(err.message).toContain('/nonexistent/bgexec/project');
          expect(fx.calls()).toEqual([]);
        } finally {
          fx.close();
        }
      });

      it("no Vagrantfile: no_vagrantfile, with vagrant's own text in the message", async () => {
        const fx = vagrantFixture(await sshd());
        const empty = mkdtempSync(join(tmpdir(), 'bgexec-no-vagrantfile-'));
        // VAGRANT_CWD would point vagrant elsewhere; the empty directory has nothing above it either.
        const cwd = join(empty, 'project');
        mkdirSync(cwd);
        try {
          const err = await failure(new VagrantTransport(fx.options({ cwd })));
          expect(err).toMatchObject({ code: 'TRANSPORT_FAILED', reason: 'no_vagrantfile', vagrantErrorType: 'Vagrant::Errors::NoEnvironmentError' });
          // The ui,error text vagrant prints on stdout in machine-readable mode, unescaped, on one line.
          expect(err.message).toMatch(/^vagrant status build exited 1: A Vagrant environment or target machine is required to run this command\. .*Or, get an ID/);
          expect(err.message).not.toContain('%!(VAGRANT_COMMA)');
          expect(err.message).not.toContain('\\n');
        } finally {
          rmSync(empty, { recursive: true, force: true });
          fx.close();
        }
      });

      it('an unknown machine name: unknown_machine, naming it', async () => {
        const fx = vagrantFixture(await sshd());
        try {
          const err = await failure(new VagrantTransport(fx.options({ machine: 'nope' })));
          expect(err).toMatchObject({ code: 'TRANSPORT_FAILED', reason: 'unknown_machine', vagrantErrorType: 'Vagrant::Errors::MachineNotFound' });
          expect(err.message).toContain("The machine with the name 'nope' was not found");
        } finally {
          fx.close();
        }
      });

      it('a machine not created: machine_not_created (refused: the executor may start it later), not machine_not_running', async () => {
        const fx = vagrantFixture(await sshd());
        fx.setMachine({ state: 'not_created' });
        try {
          const err = await failure(new VagrantTransport(fx.options()));
          expect(err).toMatchObject({ code: 'TRANSPORT_UNREACHABLE', reason: 'machine_not_created', state: 'not_created', refused: true, hostGone: 'machine_destroyed' });
          expect(err.message).toContain('vagrant up build');
        } finally {
          fx.close();
        }
      });

      it('a machine locked by another vagrant process is waited for, not reported', async () => {
        const fx = vagrantFixture(await sshd());
        const dir = mkdtempSync(join(tmpdir(), 'bgexec-vagrant-locked-'));
        // Answers the first two calls as vagrant does while another process holds the machine.
        const bin = join(dir, 'vagrant-locked');
        const locked = "1,,error-exit,Vagrant::Errors::MachineLocked,Vagrant can't use the requested machine because it is locked!";
        writeFileSync(bin, `#!/bin/sh\necho x >>'${dir}/n'\n[ "$(wc -l <'${dir}/n')" -gt 2 ] || { echo ${q(locked)}; exit 1; }\nexec ${q(fx.options().vagrantBin ?? 'vagrant')} "$@"\n`, { mode: 0o755 });
        const t = new VagrantTransport(fx.options({ vagrantBin: bin }));
        try {
          expect(await t.probe(contractTaskId(), 1)).toBeUndefined();
          expect(t.vagrantCalls).toBe(4);
          expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build --machine-readable']);
        } finally {
          await t.close();
          rmSync(dir, { recursive: true, force: true });
          fx.close();
        }
      });

      it('vagrant\'s lock and not-ready texts without an error-exit line (ssh-config) still have their reasons', () => {
        const locked = vagrantFailure('ssh-config build', 'exited 1', '', "Vagrant can't use the requested machine because it is locked! This\nmeans that another Vagrant process is currently reading or modifying\n");
        expect(locked).toMatchObject({ code: 'TRANSPORT_UNREACHABLE', reason: 'machine_locked', refused: true, vagrantErrorType: 'Vagrant::Errors::MachineLocked' });
        const action = vagrantFailure('up', 'exited 1', "1,,error-exit,Vagrant::Errors::MachineActionLockedError,An action 'up' was attempted on the machine 'default'%!(VAGRANT_COMMA)\\nbut another process is already executing an action on the machine.", '');
        expect(action).toMatchObject({ reason: 'machine_locked', refused: true });
        expect(action.message).toMatch(/^vagrant up exited 1: An action 'up' was attempted on the machine 'default', but another process/);
        const notReady = vagrantFailure('ssh-config build', 'exited 1', '', 'The provider for this Vagrant-managed machine is reporting that it\nis not yet ready for SSH.');
        expect(notReady).toMatchObject({ reason: 'machine_not_running', refused: true });
      });

      it('in a task record the error keeps its reason, and vagrant\'s error class and the state as details', () => {
        const err = new VagrantError('machine_not_running', 'vagrant machine default is not running (state: poweroff)', { state: 'poweroff' });
        expect(toErrorInfo(err)).toEqual({
          name: 'VagrantError', code: 'TRANSPORT_UNREACHABLE', message: 'vagrant machine default is not running (state: poweroff)', reason: 'machine_not_running', details: { state: 'poweroff' },
        });
        const unknown = new VagrantError('unknown_machine', 'x', { vagrantErrorType: 'Vagrant::Errors::MachineNotFound' });
        expect(toErrorInfo(unknown)).toMatchObject({ reason: 'unknown_machine', details: { vagrantErrorType: 'Vagrant::Errors::MachineNotFound' } });
      });

      it('a machine not running: machine_not_running with its state, refused', async () => {
        const fx = vagrantFixture(await sshd());
        fx.setMachine({ state: 'saved' });
        try {
          const err = await failure(new VagrantTransport(fx.options()));
          expect(err).toMatchObject({ code: 'TRANSPORT_UNREACHABLE', reason: 'machine_not_running', state: 'saved', refused: true, hostGone: undefined });
        } finally {
          fx.close();
        }
      });
    });
  });
}

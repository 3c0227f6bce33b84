// VagrantTransport beyond the contract, through the inline fixture (fast; no real machine): a
// machine that is not running is a clear error and costs one vagrant process, not one per
// operation; a refused connection (the machine came back on another forwarded port) makes it
// ask vagrant again, and the running task is collected; and every way vagrant can fail has a
// reason of its own and says what vagrant said.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VagrantError, VagrantTransport } from '../../src/transports/vagrant.js';
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
        expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build', 'status build --machine-readable', 'ssh-config build']);
        await t.cleanup(h);
      } finally {
        killPids(pidsOfTask(taskId), 'SIGKILL');
        await first.start();
        await t.close();
        await second.close();
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
        expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build', 'status build --machine-readable']);
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
          expect(fx.calls()).toEqual(['status build --machine-readable', 'ssh-config build']);
        } finally {
          await t.close();
          rmSync(dir, { recursive: true, force: true });
          fx.close();
        }
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

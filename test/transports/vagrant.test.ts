// VagrantTransport beyond the contract: a machine that is not running is a clear error and costs
// one vagrant process, not one per operation; a refused connection (the machine came back on
// another forwarded port) makes it ask vagrant again, and the running task is collected.
import { describe, expect, it } from 'vitest';
import { VagrantError, VagrantTransport } from '../../src/transports/vagrant.js';
import { startSshd } from '../harness/sshd.js';
import { killPids, pidsOfTask } from '../harness/procs.js';
import { vagrantFixture, vagrantUnavailable } from '../harness/vagrant.js';
import { contractTaskId } from './_contract.js';
import { describeSkipped, skipReason, sshd } from './_ssh-fixture.js';

const why = skipReason ?? vagrantUnavailable();

if (why !== undefined) describeSkipped(`VagrantTransport (${why})`);
else {
  describe('VagrantTransport', () => {
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
        expect(fx.calls()).toEqual(['status --machine-readable']);
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
        expect(fx.calls()).toEqual(['status --machine-readable', 'ssh-config build', 'status --machine-readable', 'ssh-config build']);
        await t.cleanup(h);
      } finally {
        killPids(pidsOfTask(taskId), 'SIGKILL');
        await first.start();
        await t.close();
        await second.close();
        fx.close();
      }
    });
  });
}

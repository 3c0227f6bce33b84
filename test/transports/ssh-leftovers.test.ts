// Over SSH the remote wrapper reaps what a command left behind before it writes the exit
// marker, so a remote attempt's end is final too: nothing of it runs on, nothing writes after.
// The test sshd runs on this machine, so the remote processes are visible in /proc here.
import { describe, expect, it } from 'vitest';
import { contractTaskId } from './_contract.js';
import { pidsOfTask } from './_local-fixture.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (skipReason !== undefined) describeSkipped('SshTransport leftovers');
else {
  describe('SshTransport leftovers', () => {
    it('a background child and a setsid escape are reaped before the end; output is final', async () => {
      const t = sshTransport(await sshd());
      const taskId = contractTaskId();
      try {
        const h = await t.start({ taskId, attempt: 1, command: '(sleep 1; echo late) & setsid sleep 300 & echo first', detached: false, graceMs: 300 });
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        expect(pidsOfTask(taskId)).toEqual([]);
        expect((await t.read(h, 'stdout', 0, 1000)).data.toString()).toBe('first\n');
        await sleep(1500);
        const again = await t.poll(h);
        expect(again.stdoutBytes).toBe(6);
        await t.cleanup(h);
      } finally {
        for (const pid of pidsOfTask(taskId)) process.kill(pid, 'SIGKILL');
        await t.close();
      }
    });

    it("orphans: 'keep' leaves them running", async () => {
      const t = sshTransport(await sshd());
      const taskId = contractTaskId();
      try {
        const h = await t.start({ taskId, attempt: 1, command: 'sleep 300 >/dev/null 2>&1 & exit 0', detached: false, orphans: 'keep' });
        expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: 0 });
        expect(pidsOfTask(taskId).length).toBe(1);
      } finally {
        for (const pid of pidsOfTask(taskId)) process.kill(pid, 'SIGKILL');
        await t.close();
      }
    });
  });
}

// The remote side works whichever POSIX shell `sh` is on the host: dash, bash or BusyBox (the
// harness puts each behind `sh` on the remote PATH, selected by the key). Also: kill reaches a
// grandchild that left the process group with setsid. A shell that is not installed (BusyBox,
// which `.ci/run` installs) is skipped with the reason printed, never replaced by another one.
import { readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import type { SshTransport } from '../../src/transports/ssh/ssh-transport.js';
import { shellUnavailable, type RemoteShell } from '../harness/sshd.js';
import { alive, killPids, pidsOfTask } from '../harness/procs.js';
import { contractTaskId } from './_contract.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function text(t: SshTransport, h: TransportHandle, stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  return (await t.read(h, stream, 0, 1 << 20)).data.toString('utf8');
}

const EXE: Record<RemoteShell, string> = { dash: 'dash', bash: 'bash', busybox: 'busybox' };

if (skipReason !== undefined) describeSkipped('SshTransport remote shells');
else {
  describe('SshTransport on dash, bash and BusyBox sh', () => {
    for (const shell of ['dash', 'bash', 'busybox'] as const) {
      const missing = shellUnavailable(shell);
      const title = `${shell}: start, poll, read, list, probe, kill (setsid grandchild included), cleanup`;
      (missing === undefined ? it : it.skip)(missing === undefined ? title : `${title} (${missing})`, async () => {
        const t = sshTransport(await sshd(), { shell });
        const ids = [contractTaskId(), contractTaskId()];
        try {
          const done = await t.start({ taskId: ids[0]!, attempt: 1, command: `printf 'out ✓\\n'; printf 'err\\n' >&2; exit 4`, detached: false });
          const hang = await t.start({
            taskId: ids[1]!, attempt: 1, detached: false,
            command: 'setsid sleep 300 & echo $!; sleep 300',
          });
          // The wrapper (the handle's pid) runs under the shell that `sh` names remotely.
          expect(basename(readlinkSync(`/proc/${hang.pid}/exe`))).toBe(EXE[shell]);

          expect(await t.wait(done)).toMatchObject({ state: 'exited', exitCode: 4, signal: null });
          expect(await text(t, done)).toBe('out ✓\n');
          expect(await text(t, done, 'stderr')).toBe('err\n');

          const grandchild = await until('the grandchild pid', async () => {
            const s = await text(t, hang);
            return s.endsWith('\n') ? Number(s.trim()) : undefined;
          });
          expect(alive(grandchild)).toBe(true);
          expect((await t.poll(hang)).state).toBe('running');

          const listed = await t.list();
          const byTask = new Map(listed.map((j) => [j.handle.taskId, j]));
          expect(byTask.get(ids[0]!)).toMatchObject({ state: 'exited', exit: { exitCode: 4 }, stdoutBytes: Buffer.byteLength('out ✓\n'), stderrBytes: 4 });
          expect(byTask.get(ids[1]!)).toMatchObject({ state: 'running' });
          expect(await t.probe(ids[0]!, 1)).toMatchObject({ kind: 'ssh', taskId: ids[0], attempt: 1, runDir: done.runDir, pid: done.pid });

          await t.kill(hang, { graceMs: 2_000 });
          expect(await t.wait(hang)).toMatchObject({ state: 'exited', signal: 'SIGTERM' });
          await until('the setsid grandchild to die', async () => (alive(grandchild) ? undefined : true));
          expect(pidsOfTask(ids[1]!)).toEqual([]);

          await t.cleanup(done);
          await t.cleanup(hang);
          expect(await t.probe(ids[0]!, 1)).toBeUndefined();
        } finally {
          for (const id of ids) killPids(pidsOfTask(id), 'SIGKILL');
          await t.close();
        }
      });
    }

    it('keeps run directories private (0700) under $HOME/.local/state/bgexec by default', async () => {
      const s = await sshd();
      const t = sshTransport(s, { remoteRoot: undefined });
      try {
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'stat -c %a "$HOME/.local/state/bgexec/jobs" "$HOME/.local/state/bgexec/jobs/$BGEXEC_TASK_ID-1"', detached: false });
        expect(h.runDir).toBe(`${s.home}/.local/state/bgexec/jobs/${h.taskId}-1`);
        await t.wait(h);
        expect(await text(t, h)).toBe('700\n700\n');
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });
  });
}

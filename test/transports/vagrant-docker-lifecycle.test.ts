// A real Vagrant machine's life under a running task (docker provider, project `life`, machine
// `default`, kept apart from the machines other test files use): `vagrant halt` mid-task, `vagrant
// up` again, `vagrant reload` and `vagrant destroy` mid-task. A container shares the host's boot
// id, so a restart is recognised by the machine's pid 1 start time (the second half of the
// handle's boot token). What each step does to the task is the table in docs/transports.md.
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import type { TaskRecord } from '../../src/task.js';
import { VagrantError, VagrantTransport } from '../../src/transports/vagrant.js';
import { contractTaskId } from './_contract.js';
import { unclosed } from './_contract-fixture.js';
import { describeDockerSkipped, dockerSkipReason, eventually, useVagrantDocker } from './_vagrant-docker-fixture.js';

// Each step runs several vagrant processes (seconds each on a loaded machine).
const STEP_MS = 300_000;

if (dockerSkipReason !== undefined) describeDockerSkipped(`VagrantTransport machine lifecycle, docker provider (${dockerSkipReason})`);
else {
  const machines = useVagrantDocker('life');
  let shared: VagrantTransport | undefined;
  const transport = (): VagrantTransport => (shared ??= new VagrantTransport(machines().options('default', { unreachableTimeoutMs: 600_000 })));
  let ex: BackgroundExecutor | undefined;
  const executor = (): BackgroundExecutor => (ex ??= new BackgroundExecutor({ transports: { life: unclosed(transport()) }, defaultTransport: 'life' }));
  afterAll(async () => {
    await ex?.shutdown({ mode: 'kill', graceMs: 500 });
    await shared?.close();
  });

  const record = (id: string): TaskRecord => {
    const r = executor().get(id);
    if (r === undefined) throw new Error(`no task ${id}`);
    return r;
  };
  // A task that prints a line and then runs for ten minutes, once it has printed.
  async function runningTask(): Promise<string> {
    const t = await executor().submit({ command: 'echo started; exec sleep 600' });
    await eventually('the task to print', () => (record(t.id).stdoutBytes >= 8 ? true : undefined), 120_000);
    return t.id;
  }
  async function completes(command: string): Promise<string> {
    const done = await executor().wait((await executor().submit({ command })).id, { timeoutMs: 120_000 });
    expect(done.status).toBe('completed');
    return (await executor().readOutput(done.id)).text;
  }

  describe('VagrantTransport machine lifecycle (docker provider)', () => {
    it('vagrant halt mid-task: the task stays running with an unreachable note, never completed; after vagrant up it is lost (machine_restarted)', async () => {
      const id = await runningTask();
      const before = record(id);
      // A container shares the host's boot id: only the part after `@` (pid 1's start time) changes.
      const hostBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      expect(before.handle?.bootId).toMatch(new RegExp(`^${hostBoot}@\\d+$`));
      await machines().vagrant(['halt', 'default']);
      const noted = await eventually('an unreachable note', () => (record(id).note !== undefined ? record(id) : undefined), 120_000);
      expect(noted.status).toBe('running');
      expect(noted.note).toMatch(/not running \(state: stopped\)|ssh: /);
      // Still running (not completed, not failed) while the machine is down.
      expect(record(id).status).toBe('running');

      await machines().vagrant(['up', 'default']);
      const done = await executor().wait(id, { timeoutMs: 180_000 });
      expect(done).toMatchObject({ status: 'lost', reason: 'machine_restarted', exitCode: null });
      expect(done.note).toBeUndefined();
      // Its output up to the halt is kept; new work runs on the machine that came back.
      expect((await executor().readOutput(id)).text).toBe('started\n');
      expect(await completes('echo back')).toBe('back\n');
    }, STEP_MS);

    it('vagrant reload mid-task: lost with machine_restarted, although the boot id is the same', async () => {
      // Each step starts from a running machine, whatever the step before left.
      await machines().vagrant(['up', 'default']);
      const id = await runningTask();
      const before = record(id).handle?.bootId;
      await machines().vagrant(['reload', 'default']);
      const done = await executor().wait(id, { timeoutMs: 180_000 });
      expect(done).toMatchObject({ status: 'lost', reason: 'machine_restarted' });
      const after = await completes('cut -d" " -f22 /proc/1/stat');
      expect(before?.split('@')[1]).not.toBe(after.trim());
    }, STEP_MS);

    it('vagrant destroy mid-task: lost with machine_destroyed at once; new starts are refused as machine_not_created', async () => {
      await machines().vagrant(['up', 'default']);
      const id = await runningTask();
      await machines().vagrant(['destroy', '-f', 'default']);
      const done = await executor().wait(id, { timeoutMs: 180_000 });
      expect(done).toMatchObject({ status: 'lost', reason: 'machine_destroyed' });
      const err = await transport().start({ taskId: contractTaskId(), attempt: 1, command: 'true', detached: false }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VagrantError);
      expect(err).toMatchObject({ code: 'TRANSPORT_UNREACHABLE', reason: 'machine_not_created', refused: true });
    }, STEP_MS);
  });
}

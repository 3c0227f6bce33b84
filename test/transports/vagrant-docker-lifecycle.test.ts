// A real Vagrant machine's life under a running task (docker provider, project `life`, machine
// `default`, kept apart from the machines other test files use): `vagrant halt` mid-task, `vagrant
// up` again, `vagrant reload` and `vagrant destroy` mid-task. A container shares the host's boot
// id, so a restart is recognised by the machine's pid 1 start time (the second half of the
// handle's boot token). What each step does to the task is the table in docs/transports.md.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

    it('a task submitted while the machine is halted waits (not started), then fails with machine_not_running in its record; after vagrant up a new task starts without a refused start', async () => {
      await machines().vagrant(['up', 'default']);
      // A transport and executor of their own: their vagrant answers are this test's.
      const t = new VagrantTransport(machines().options('default'));
      const own = new BackgroundExecutor({ transports: { life: t }, defaultTransport: 'life' });
      try {
        await t.probe(contractTaskId(), 1);
        await machines().vagrant(['halt', 'default']);
        const refused = new Promise<void>((resolve) => own.once('task:retrying', () => resolve()));
        const waiting = await own.submit({ command: 'echo never' });
        await refused;
        const w = own.get(waiting.id)!;
        expect(w).toMatchObject({ status: 'waiting', attempt: 0, history: [] });
        // It never started, so it has no start time.
        expect(w.startedAt).toBeUndefined();
        expect(w.note).toMatch(/^start refused: /);
        // Five refused starts (1 + 2 + 4 + 8 + 16 s), then the attempt fails, saying why in the record.
        const failed = await own.wait(waiting.id, { timeoutMs: 180_000 });
        expect(failed).toMatchObject({ status: 'failed', attempt: 1, exitCode: null, reason: 'machine_not_running' });
        expect(failed.error).toEqual({
          name: 'VagrantError', code: 'TRANSPORT_UNREACHABLE', message: 'vagrant machine default is not running (state: stopped)',
          reason: 'machine_not_running', details: { state: 'stopped' },
        });
        expect(failed.history).toHaveLength(1);
        expect(failed.history[0]).toMatchObject({ reason: 'machine_not_running', error: { reason: 'machine_not_running', details: { state: 'stopped' } } });

        // The transport keeps "down" for up to 20 s after it last asked. Let it ask once more now
        // (its answer is then fresh for the whole `vagrant up`), then bring the machine back.
        const calls = t.vagrantCalls;
        await eventually('the transport to ask vagrant again', async () => {
          await t.probe(contractTaskId(), 1).catch(() => undefined);
          return t.vagrantCalls > calls ? true : undefined;
        }, 60_000);
        await machines().vagrant(['up', 'default']);
        const upAt = Date.now();
        const events: Array<[string, string]> = [];
        for (const name of ['task:retrying', 'task:started'] as const) own.on(name, (e) => void events.push([name, e.taskId]));
        const back = await own.submit({ command: 'echo back' });
        const done = await own.wait(back.id, { timeoutMs: 120_000 });
        expect(done).toMatchObject({ status: 'completed', attempt: 1 });
        // Started on its first try: the machine's ssh port answering again made the transport ask vagrant at once.
        expect(events.filter(([, id]) => id === back.id).map(([name]) => name)).toEqual(['task:started']);
        console.log(`vagrant-docker: a task submitted after \`vagrant up\` ended ${Date.now() - upAt} ms later (${t.vagrantCalls - calls} vagrant processes)`);
      } finally {
        await own.shutdown({ mode: 'kill', graceMs: 500 });
      }
    }, STEP_MS);

    it('a machine locked by another vagrant process: the start is refused as machine_locked and made again, and the task runs once the lock is gone', async () => {
      await machines().vagrant(['up', 'default']);
      // Hold the machine's entry in vagrant's index, as a running `vagrant up` does.
      const uuid = readFileSync(join(machines().cwd, '.vagrant/machines/default/docker/index_uuid'), 'utf8').trim();
      const lockFile = join(machines().env['VAGRANT_HOME']!, 'data/machine-index', `${uuid}.lock`);
      const holder = spawn('flock', ['-x', lockFile, 'sh', '-c', 'echo held; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const release = () => holder.stdin.end();
      const t = new VagrantTransport(machines().options('default'));
      const own = new BackgroundExecutor({ transports: { life: t }, defaultTransport: 'life' });
      try {
        await new Promise<void>((resolve, reject) => {
          holder.stdout.once('data', () => resolve());
          holder.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
        });
        const refused = new Promise<{ reason?: string }>((resolve) => own.once('task:retrying', (e) => resolve(e)));
        const task = await own.submit({ command: 'echo through' });
        expect(await refused).toMatchObject({ reason: 'start_refused' });
        const w = own.get(task.id)!;
        expect(w).toMatchObject({ status: 'waiting', attempt: 0 });
        expect(w.note).toMatch(/^start refused: vagrant status default exited 1: Vagrant can't use the requested machine because it is locked!/);
        release();
        const done = await own.wait(task.id, { timeoutMs: 120_000 });
        expect(done).toMatchObject({ status: 'completed', attempt: 1 });
        expect(done.history).toHaveLength(1);
        expect((await own.readOutput(task.id)).text).toBe('through\n');
      } finally {
        release();
        await own.shutdown({ mode: 'kill', graceMs: 500 });
      }
    }, STEP_MS);

    it('a machine name the Vagrantfile does not define: the task fails at once with unknown_machine and vagrant\'s error class in its record', async () => {
      const own = new BackgroundExecutor({ transports: { nosuch: new VagrantTransport(machines().options('nosuch')) }, defaultTransport: 'nosuch' });
      try {
        const done = await own.wait((await own.submit({ command: 'true' })).id, { timeoutMs: 120_000 });
        expect(done).toMatchObject({ status: 'failed', reason: 'unknown_machine', error: { code: 'TRANSPORT_FAILED', reason: 'unknown_machine', details: { vagrantErrorType: 'Vagrant::Errors::MachineNotFound' } } });
        expect(done.error?.message).toMatch(/The machine with the name 'nosuch' was not found configured for this Vagrant environment/);
        expect(done.history[0]).toMatchObject({ reason: 'unknown_machine', error: { reason: 'unknown_machine' } });
      } finally {
        await own.shutdown();
      }
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

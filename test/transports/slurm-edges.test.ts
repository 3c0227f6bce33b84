// The Slurm transport's edges on the real test cluster: the pending note carries Slurm's own
// reason and follows it, a cancel that comes after the command ended by itself leaves the
// command's end standing, a missing Slurm client is named with where it was looked for, and the
// wrapper's reap writes nothing into Slurm's slurm.err when a process vanishes under it.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { SlurmError } from '../../src/slurm.js';
import { describeSkipped, sharedRoot, skipReason, slurmTransport } from '../harness/slurm-fixture.js';
import { SLURM_ENV, ensureSlurm, slurmCmd } from '../harness/slurm.js';
import { until } from '../proc.js';

const noop = (): void => {};

if (skipReason !== undefined) describeSkipped('SlurmTransport edges');
else {
  describe('SlurmTransport edges on a real cluster', () => {
    let ex: BackgroundExecutor | undefined;
    const executor = (extra: Parameters<typeof slurmTransport>[0] = {}): BackgroundExecutor => {
      ex = new BackgroundExecutor({ transports: { cluster: slurmTransport(extra) }, defaultTransport: 'cluster', scheduler: new PriorityScheduler({ concurrency: 16 }) });
      return ex;
    };

    beforeAll(async () => {
      await ensureSlurm();
    }, 300_000);
    afterEach(async () => {
      await ex?.shutdown({ mode: 'kill', graceMs: 200 }).catch(noop);
      ex = undefined;
    });

    it("the pending note says why Slurm keeps the job waiting (its %r reason), and follows it when it changes", async () => {
      const e = executor();
      // A job of someone else that stays held: the task's job depends on it, so it waits after its own release too.
      const blocker = (await slurmCmd('sbatch', ['--parsable', '--hold', '-o', '/dev/null', '--wrap', 'true'])).trim();
      try {
        const t = await e.submit({ command: 'echo never', resources: { extraArgs: ['--hold', `--dependency=afterany:${blocker}`] } });
        const held = await until('held note', () => (e.get(t.id)?.note?.includes('(reason: JobHeldUser)') ? e.get(t.id) : undefined));
        const jobId = String(held.handle?.['jobId']);
        expect(held.note).toBe(`pending: Slurm job ${jobId} waits in the queue (reason: JobHeldUser)`);
        await slurmCmd('scontrol', ['release', jobId]);
        const waiting = await until('dependency note', () => (e.get(t.id)?.note?.includes('(reason: Dependency)') ? e.get(t.id) : undefined));
        expect(waiting).toMatchObject({ status: 'running', note: `pending: Slurm job ${jobId} waits in the queue (reason: Dependency)` });
        expect(await e.cancel(t.id)).toMatchObject({ status: 'cancelled', reason: 'cancelled_before_start' });
      } finally {
        await slurmCmd('scancel', [blocker]).catch(noop);
      }
    });

    it('a cancel that comes after the command ended by itself records the command\'s own end (and still stops retries)', async () => {
      // No poll round for ten minutes: the exit markers are there before the executor has looked.
      const e = executor({ pollMs: 600_000 });
      const ok = await e.submit({ command: 'echo done' });
      const bad = await e.submit({ command: 'echo failed; exit 3', retry: { attempts: 3 } });
      for (const t of [ok, bad]) {
        await until(`exit marker of ${t.id}`, () => existsSync(join(sharedRoot(), 'jobs', `${t.id}-1`, 'exit')) || undefined, 30_000);
        expect(e.get(t.id)?.status).toBe('running');
      }
      const done = await e.cancel(ok.id);
      expect(done).toMatchObject({ status: 'completed', exitCode: 0, signal: null });
      expect(done.reason).toBeUndefined();
      expect(done.history[0]).toMatchObject({ status: 'completed', exitCode: 0, signal: null });
      expect(done.history[0]!.reason).toBeUndefined();
      expect((await e.readOutput(ok.id)).text).toBe('done\n');
      // The command failed by itself: that is what is recorded, and the cancel still means no further attempt.
      const failed = await e.cancel(bad.id);
      expect(failed).toMatchObject({ status: 'failed', exitCode: 3, signal: null, attempt: 1 });
      expect(failed.reason).toBeUndefined();
    }, 60_000);

    it('a command that ended by itself after its output was cut at maxOutputBytes still fails with output_limit', async () => {
      // No output poll: the end comes from the transport's round, with no kill of the executor's before it.
      const tr = slurmTransport();
      ex = new BackgroundExecutor({ transports: { cluster: tr }, defaultTransport: 'cluster', outputPollMs: 600_000 });
      const t = await ex.submit({ command: "printf '%0500d' 0; exit 0", maxOutputBytes: 100 });
      const done = await ex.wait(t.id);
      expect(done).toMatchObject({ status: 'failed', reason: 'output_limit', stdoutBytes: 100 });
    });

    it('a missing sbatch is named, with the binDir or PATH searched, and a reason to branch on', async () => {
      const empty = mkdtempSync(join(sharedRoot(), 'nobin-'));
      const byDir = executor({ binDir: empty });
      const t = await byDir.submit({ command: 'true' });
      const done = await byDir.wait(t.id);
      expect(done).toMatchObject({ status: 'failed', reason: 'slurm_not_installed', error: { name: 'SlurmError', code: 'TRANSPORT_FAILED', reason: 'slurm_not_installed' } });
      expect(done.error?.message).toBe(`sbatch: not found in binDir ${empty} (${join(empty, 'sbatch')}); check the SlurmTransport option binDir`);
      await byDir.shutdown();

      const tr = slurmTransport({ env: { ...SLURM_ENV, PATH: '/nonexistent/slurm/bin:/nonexistent/more' } });
      try {
        const err = await tr.start({ taskId: `nopath${Date.now()}`, attempt: 1, command: 'true', detached: true }).then(() => undefined, (x: unknown) => x);
        expect(err).toBeInstanceOf(SlurmError);
        expect(err).toMatchObject({ code: 'TRANSPORT_FAILED', reason: 'slurm_not_installed', program: 'sbatch', searched: ['/nonexistent/slurm/bin', '/nonexistent/more'] });
        expect((err as Error).message).toContain('sbatch: not found on PATH (/nonexistent/slurm/bin:/nonexistent/more)');
      } finally {
        await tr.close();
      }
    });

    it('a job id that Slurm gave to another job (after losing its state) is not taken for the attempt\'s job', async () => {
      const tr = slurmTransport();
      const other = (await slurmCmd('sbatch', ['--parsable', '--hold', '-J', 'someone-else', '-o', '/dev/null', '--wrap', 'true'])).trim();
      const taskId = `reused${Date.now()}`;
      try {
        const handle = await tr.start({ taskId, attempt: 1, command: 'echo mine', detached: true, resources: { extraArgs: ['--hold'] } });
        await slurmCmd('scancel', [String(handle['jobId'])]);
        // As after slurmctld forgot the attempt's job and handed its id out again.
        writeFileSync(join(String(handle.runDir), 'jobid'), `${other}\n`);
        const fresh = slurmTransport();
        try {
          const exit = await fresh.wait({ ...handle, jobId: other });
          expect(exit).toMatchObject({ state: 'lost', reason: 'slurm_unknown_before_start', exitCode: null, signal: null });
        } finally {
          await fresh.close();
        }
      } finally {
        await tr.close();
        await slurmCmd('scancel', [other]).catch(noop);
      }
    });

    it('while Slurm does not answer (squeue hangs, as with slurmctld away), the task stays running with a note, and its end is seen from its files', async () => {
      // Slurm's commands behind shims; squeue hangs while the file `block` exists (bounded).
      const bin = mkdtempSync(join(sharedRoot(), 'hang-'));
      const block = join(bin, 'block');
      for (const cmd of ['sbatch', 'squeue', 'scancel', 'sacct']) {
        const real = (await slurmCmd('sh', ['-c', `command -v ${cmd}`])).trim();
        const wait = cmd === 'squeue' ? `i=0; while [ -e ${block} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done\n` : '';
        writeFileSync(join(bin, cmd), `#!/bin/sh\n${wait}exec ${real} "$@"\n`, { mode: 0o755 });
      }
      const gate = join(bin, 'gate');
      const e = executor({ binDir: bin });
      try {
        const t = await e.submit({ command: `echo before; while [ ! -e ${gate} ]; do sleep 0.05; done; echo after; exit 4` });
        await until('started', () => (e.get(t.id)?.handle?.['pending'] === false ? true : undefined), 30_000);
        writeFileSync(block, '');
        const noted = await until('not answering', () => (e.get(t.id)?.note?.startsWith('Slurm controller not answering') ? e.get(t.id) : undefined), 30_000);
        expect(noted.status).toBe('running');
        writeFileSync(gate, '');
        const done = await e.wait(t.id);
        // Seen while squeue still hangs: the exit marker alone tells the end.
        expect(existsSync(block)).toBe(true);
        expect(done).toMatchObject({ status: 'failed', exitCode: 4, signal: null });
        expect(done.note).toBeUndefined();
        expect((await e.readOutput(t.id)).text).toBe('before\nafter\n');
      } finally {
        rmSync(block, { force: true });
      }
    }, 60_000);

    it("the wrapper's reap writes nothing into slurm.err when a process it listed is gone before it reads it", async () => {
      // A grep that lists a /proc entry of a process that has already ended, as happens when one
      // ends between the reap's grep and its read; logged, to show the wrapper really used it.
      const bin = mkdtempSync(join(sharedRoot(), 'shim-'));
      const used = join(bin, 'used');
      writeFileSync(join(bin, 'grep'), [
        '#!/bin/sh',
        `case " $* " in *" -lsz "*) echo x >>${used}; echo /proc/999999999/stat; exit 0 ;; esac`,
        'PATH=/usr/bin:/bin exec grep "$@"',
        '',
      ].join('\n'), { mode: 0o755 });
      const e = executor();
      const t = await e.submit({ command: 'echo quiet', env: { PATH: `${bin}:/usr/bin:/bin` } });
      const done = await e.wait(t.id);
      expect(done).toMatchObject({ status: 'completed', exitCode: 0 });
      expect((await e.readOutput(t.id)).text).toBe('quiet\n');
      expect(existsSync(used)).toBe(true);
      expect(readFileSync(join(sharedRoot(), 'jobs', `${t.id}-1`, 'slurm.err'), 'utf8')).toBe('');
    });
  });
}

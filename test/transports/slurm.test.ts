import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { LocalTransport } from '../../src/transports/local.js';
import { SlurmTransport } from '../../src/transports/slurm/slurm-transport.js';
import { describeSkipped, sharedRoot, skipReason, slurmTransport } from '../harness/slurm-fixture.js';
import { SLURM_ENV, ensureSlurm, slurmCmd } from '../harness/slurm.js';
import { alive, until } from '../proc.js';

const ROOT = join(import.meta.dirname, '..', '..');
const noop = (): void => {};

async function jobState(jobId: string): Promise<string> {
  return (await slurmCmd('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'])).trim();
}

if (skipReason !== undefined) describeSkipped('SlurmTransport');
else {
  describe('SlurmTransport on a real cluster', () => {
    let ex: BackgroundExecutor;
    let transport: SlurmTransport;
    const newExecutor = (): BackgroundExecutor => {
      transport = slurmTransport();
      ex = new BackgroundExecutor({ transports: { cluster: transport }, defaultTransport: 'cluster', scheduler: new PriorityScheduler({ concurrency: 64 }) });
      return ex;
    };

    beforeAll(async () => {
      const up = await ensureSlurm();
      console.info(`slurm harness: ${up.output} (script ${up.ms} ms)`);
    }, 300_000);
    afterEach(async () => {
      await ex?.shutdown({ mode: 'kill', graceMs: 200 }).catch(noop);
    });

    it('exit codes and signal deaths come from the wrapper, as a local detached task reports them', async () => {
      newExecutor();
      const local = new BackgroundExecutor({ transports: { local: new LocalTransport() } });
      try {
        const commands = ['exit 7', 'exit 0', 'kill -KILL $$', 'kill -TERM $$', 'kill -SEGV $$'];
        const pairs = await Promise.all(commands.map((command) => Promise.all([
          ex.submit({ command }).then((t) => ex.wait(t.id)),
          local.submit({ command, detached: true }).then((t) => local.wait(t.id)),
        ])));
        const view = (r: { status: string; exitCode?: number | null; signal?: string | null }) => ({ status: r.status, exitCode: r.exitCode, signal: r.signal });
        expect(pairs.map(([s]) => view(s))).toEqual(pairs.map(([, l]) => view(l)));
        expect(view(pairs[0]![0])).toEqual({ status: 'failed', exitCode: 7, signal: null });
      } finally {
        await local.shutdown();
      }
    });

    it("an attempt's times are the wrapper's own: it starts when its pid file was written, and never ends before it starts", async () => {
      newExecutor();
      const unchecked = new SlurmTransport({ sharedRoot: sharedRoot(), env: SLURM_ENV, pollMs: 100, checkCwd: false });
      const ex2 = new BackgroundExecutor({ transports: { cluster: unchecked }, defaultTransport: 'cluster' });
      try {
        // Commands that end within one poll interval of their start: bgexec notices the start
        // and the end in the same round, after both happened.
        const specs = [
          ...['true', 'kill -KILL $$', 'true', 'exit 3', 'true', 'kill -KILL $$'].map((command) => ({ e: ex, command, cwd: undefined })),
          { e: ex2, command: 'true', cwd: '/nonexistent/bgexec/times' },
        ];
        const done = await Promise.all(specs.map(async ({ e, command, cwd }) => {
          const submitted = Date.now();
          const t = await e.submit({ command, ...(cwd === undefined ? {} : { cwd }) });
          return { rec: await e.wait(t.id), submitted };
        }));
        for (const { rec, submitted } of done) {
          const h = rec.history[0]!;
          expect(h.endedAt, `${rec.spec.command}: ended before it started`).toBeGreaterThanOrEqual(h.startedAt);
          expect(h.startedAt).toBeGreaterThanOrEqual(submitted - 1);
          // The start is the wrapper's: its pid file's mtime (the run directory is kept until cleanup).
          const pidFile = join(String(rec.handle?.runDir), 'pid');
          expect(h.startedAt, rec.spec.command).toBe(Math.floor(statSync(pidFile).mtimeMs));
          expect(rec.startedAt).toBe(h.startedAt);
          expect(rec.endedAt! - rec.startedAt!).toBeGreaterThanOrEqual(0);
        }
        expect(done.at(-1)!.rec).toMatchObject({ status: 'failed', reason: 'cwd_missing' });
      } finally {
        await ex2.shutdown();
      }
    });

    it('a cwd missing on the node ends the attempt with reason cwd_missing (and is refused at start when checked here)', async () => {
      newExecutor();
      const unchecked = new SlurmTransport({ sharedRoot: sharedRoot(), env: SLURM_ENV, pollMs: 100, checkCwd: false });
      const ex2 = new BackgroundExecutor({ transports: { cluster: unchecked }, defaultTransport: 'cluster' });
      try {
        const t = await ex2.submit({ command: 'echo never', cwd: '/nonexistent/bgexec/on-node' });
        const done = await ex2.wait(t.id);
        expect(done).toMatchObject({ status: 'failed', reason: 'cwd_missing', exitCode: null });
        expect((await ex2.readOutput(t.id)).text).toBe('');
      } finally {
        await ex2.shutdown();
      }
      const refused = await ex.wait((await ex.submit({ command: 'true', cwd: '/nonexistent/bgexec/here' })).id);
      expect(refused).toMatchObject({ status: 'failed', error: { code: 'SPAWN_FAILED' } });
      expect(refused.error?.message).toContain('cwd_missing');
    });

    it('pending → running → exited: a held job is visible as pending, its timeout does not count the wait', async () => {
      newExecutor();
      const events: string[] = [];
      for (const n of ['task:pending', 'task:started', 'task:completed', 'task:timed_out'] as const) ex.on(n, (e) => events.push(`${n} ${e.taskId}`));
      // The timeout leaves the run itself seconds (the wrapper's reap scans /proc, slow on a loaded machine).
      const t = await ex.submit({ command: 'echo ran', timeoutMs: 3_000, resources: { extraArgs: ['--hold'] } });
      const pending = await until('pending', () => (events.includes(`task:pending ${t.id}`) ? ex.get(t.id) : undefined));
      expect(pending.status).toBe('running');
      const jobId = String(pending.handle?.['jobId']);
      expect(pending.note).toContain(jobId);
      expect(await jobState(jobId)).toBe('PENDING');
      // Held well past its timeout: the bound is the point of this test.
      await new Promise((r) => setTimeout(r, 3_500));
      expect(ex.get(t.id)).toMatchObject({ status: 'running', note: `pending: Slurm job ${jobId} waits in the queue (reason: JobHeldUser)` });
      expect(events).not.toContain(`task:started ${t.id}`);
      await slurmCmd('scontrol', ['release', jobId]);
      const done = await ex.wait(t.id);
      expect(done).toMatchObject({ status: 'completed', exitCode: 0 });
      expect(done.note).toBeUndefined();
      expect((await ex.readOutput(t.id)).text).toBe('ran\n');
      expect(events.filter((e) => e.endsWith(t.id))).toEqual([`task:pending ${t.id}`, `task:started ${t.id}`, `task:completed ${t.id}`]);

      // Counted from submission on request: the wait in the queue times it out.
      const s = await ex.submit({ command: 'echo never', timeoutMs: 500, timeoutFrom: 'submit', resources: { extraArgs: ['--hold'] } });
      const out = await ex.wait(s.id);
      expect(out).toMatchObject({ status: 'timed_out', reason: 'timeout' });
      expect(events).not.toContain(`task:started ${s.id}`);
      expect(await jobState(String(out.handle?.['jobId']))).toBe('CANCELLED');
    });

    it('cancel of a pending job removes it from the queue; it never runs, and the record says so', async () => {
      newExecutor();
      const started: string[] = [];
      const ends: Array<{ reason?: string; signal: string | null }> = [];
      ex.on('task:started', (e) => started.push(e.taskId));
      ex.on('task:cancelled', (e) => ends.push({ ...(e.reason === undefined ? {} : { reason: e.reason }), signal: e.signal }));
      const t = await ex.submit({ command: `touch ${join(sharedRoot(), 'ran')}`, resources: { extraArgs: ['--hold'] } });
      const rec = await until('pending', () => ex.get(t.id)?.handle?.['jobId'] !== undefined ? ex.get(t.id) : undefined);
      const t0 = Date.now();
      await ex.cancel(t.id);
      const done = await ex.wait(t.id);
      const gone = Date.now() - t0;
      // It never ran: the documented reason, no signal (none reached a process), no start time.
      expect(done).toMatchObject({ status: 'cancelled', reason: 'cancelled_before_start', exitCode: null, signal: null });
      expect(done.startedAt).toBeUndefined();
      expect(done.history).toHaveLength(1);
      expect(done.history[0]).toMatchObject({ status: 'cancelled', reason: 'cancelled_before_start', exitCode: null, signal: null });
      expect(done.history[0]!.startedAt).toBe(done.history[0]!.endedAt);
      expect(ends).toEqual([{ reason: 'cancelled_before_start', signal: null }]);
      expect(await jobState(String(rec.handle?.['jobId']))).toBe('CANCELLED');
      expect(started).toEqual([]);
      expect(existsSync(join(sharedRoot(), 'ran'))).toBe(false);
      console.info(`slurm latency: cancel of a pending job → settled in ${gone} ms`);
    });

    it('cancel kills the whole tree: setsid and double-forked children too (proctrack/cgroup)', async () => {
      newExecutor();
      const dir = mkdtempSync(join(sharedRoot(), 'tree-'));
      const command = [
        `setsid sh -c 'echo $$ > ${dir}/a; exec sleep 300' &`,
        `(sh -c 'echo $$ > ${dir}/b; exec sleep 300' &) &`,
        `echo $$ > ${dir}/main`,
        'sleep 300',
      ].join('\n');
      const t = await ex.submit({ command, graceMs: 500 });
      const pids = await until('children', () => {
        const files = ['a', 'b', 'main'].map((f) => join(dir, f));
        if (!files.every((f) => existsSync(f) && readFileSync(f, 'utf8').endsWith('\n'))) return undefined;
        return files.map((f) => Number(readFileSync(f, 'utf8')));
      });
      expect(pids.every(alive)).toBe(true);
      const t0 = Date.now();
      await ex.cancel(t.id);
      const done = await ex.wait(t.id);
      console.info(`slurm latency: cancel of a running job → settled in ${Date.now() - t0} ms`);
      expect(done).toMatchObject({ status: 'cancelled' });
      await until('tree gone', () => !pids.some(alive) || undefined, 15_000);
      expect(await jobState(String(done.handle?.['jobId']))).toMatch(/^(CANCELLED|FAILED|COMPLETED|COMPLETING)$/);
    });

    it('50 tasks in a burst all complete with their own output, one squeue per round', async () => {
      // Slurm's commands behind logging shims, to count the squeue calls and the jobs each asks about.
      const bin = mkdtempSync(join(sharedRoot(), 'bin-'));
      const log = join(bin, 'calls.log');
      for (const cmd of ['sbatch', 'squeue', 'scancel', 'sacct']) {
        const real = execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
        writeFileSync(join(bin, cmd), `#!/bin/sh\nprintf '%s %s\\n' ${cmd} "$*" >>${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
      }
      transport = slurmTransport({ binDir: bin });
      ex = new BackgroundExecutor({ transports: { cluster: transport }, defaultTransport: 'cluster', scheduler: new PriorityScheduler({ concurrency: 64 }) });
      const pending = new Set<string>();
      ex.on('task:pending', (e) => pending.add(e.taskId));
      const t0 = Date.now();
      // Held, so that all 50 are open at once: then one squeue call must ask about all of them.
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => ex.submit({ command: `echo task-${i}`, resources: { extraArgs: ['--hold'] } }).then((t) => t.id)));
      await until('all pending', () => (ids.every((id) => pending.has(id)) ? true : undefined), 60_000);
      const jobIds = ids.map((id) => String(ex.get(id)?.handle?.['jobId']));
      const all = jobIds.join(',');
      const asksAll = (l: string): boolean => {
        const asked = new Set((/ -j (\S+)/.exec(l)?.[1] ?? '').split(','));
        return l.startsWith('squeue ') && jobIds.every((j) => asked.has(j));
      };
      await until('one squeue for all 50', () => (readFileSync(log, 'utf8').split('\n').some(asksAll) ? true : undefined));
      await slurmCmd('scontrol', ['release', all]);
      const records = await Promise.all(ids.map((id) => ex.wait(id)));
      const wall = Date.now() - t0;
      expect(records.map((r) => r.status)).toEqual(Array(50).fill('completed'));
      const texts = await Promise.all(ids.map((id) => ex.readOutput(id).then((o) => o.text)));
      expect(texts).toEqual(Array.from({ length: 50 }, (_, i) => `task-${i}\n`));
      const squeues = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('squeue '));
      const widest = Math.max(...squeues.map((l) => (/ -j (\S+)/.exec(l)?.[1] ?? '').split(',').length));
      // One call per round (pollMs 100) for every open job, not one per job.
      expect(squeues.length).toBeLessThanOrEqual(Math.ceil(wall / 100) + 5);
      expect(widest).toBe(50);
      console.info(`slurm latency: 50 tasks submitted at once → all settled in ${wall} ms; ${squeues.length} squeue calls, up to ${widest} jobs in one`);
    }, 120_000);

    it('refuses secretEnv at submit with a coded error (the values would land in Slurm\'s records); nothing is accepted', async () => {
      newExecutor();
      const before = ex.list().length;
      const err = await ex.submit({ command: 'true', secretEnv: { TOKEN: 'hunter2' } }).then(() => undefined, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_SPEC', field: 'secretEnv' });
      expect(String((err as Error).message)).toContain('TOKEN');
      expect(String((err as Error).message)).not.toContain('hunter2');
      expect(ex.list()).toHaveLength(before);
      // The same spec on a transport that can carry secrets is accepted: the refusal is the transport's.
      const local = new BackgroundExecutor({ transports: { local: new LocalTransport() } });
      try {
        const ok = await local.submit({ command: 'test "$TOKEN" = hunter2', secretEnv: { TOKEN: 'hunter2' } });
        expect(await local.wait(ok.id)).toMatchObject({ status: 'completed' });
      } finally {
        await local.shutdown();
      }
    });

    it('passes resources to sbatch and validates them with coded errors', async () => {
      newExecutor();
      await expect(ex.submit({ command: 'true', resources: { cpus: 0 } })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'resources.cpus' });
      await expect(ex.submit({ command: 'true', resources: { extraArgs: ['--output=/tmp/x'] } })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'resources.extraArgs[0]' });
      await expect(ex.submit({ command: 'true', resources: { extraArgs: ['nodash'] } })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
      await expect(ex.submit({ command: 'true', resources: { ram: 1 } as never })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'resources.ram' });
      await expect(ex.submit({ command: 'true', timeoutFrom: 'later' as never })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'timeoutFrom' });
      const t = await ex.submit({ command: 'echo ok', resources: { cpus: 1, memoryMb: 32, timeLimitMinutes: 7, extraArgs: ['--comment=bgexec-test'] } });
      const done = await ex.wait(t.id);
      expect(done.status).toBe('completed');
      const line = (await slurmCmd('squeue', ['-h', '-t', 'all', '-j', String(done.handle?.['jobId']), '-o', '%C|%m|%l|%k|%j'])).trim();
      expect(line).toBe(`1|32M|7:00|bgexec-test|bgx-${t.id}-1`);
    });

    it('an impossible request that sbatch refuses (after Slurm made a FAILED job of it) leaves nothing behind, and a retry is a fresh attempt', async () => {
      newExecutor();
      const t = await ex.submit({ command: 'echo never', resources: { memoryMb: 1_000_000_000 }, retry: { attempts: 2 } });
      const done = await ex.wait(t.id);
      expect(done).toMatchObject({ status: 'failed', attempt: 2, exitCode: null, error: { code: 'SPAWN_FAILED' } });
      expect(done.error?.message).toMatch(/sbatch refused the job: .*Memory specification/);
      expect(done.history.map((h) => [h.attempt, h.status, h.reason])).toEqual([[1, 'failed', 'spawn_failed'], [2, 'failed', 'spawn_failed']]);
      for (const attempt of [1, 2]) {
        expect(existsSync(join(sharedRoot(), 'jobs', `${t.id}-${attempt}`)), `run directory of attempt ${attempt}`).toBe(false);
        // Slurm keeps a record of the job it made (FAILED, BadConstraints); none of it is active.
        const states = (await slurmCmd('squeue', ['-h', '-t', 'all', '-n', `bgx-${t.id}-${attempt}`, '-o', '%T'])).trim().split('\n').filter(Boolean);
        expect(states.every((st) => /^(FAILED|CANCELLED)$/.test(st)), states.join(',')).toBe(true);
      }
    });

    it('a job that asks for more than the partition can ever give fails with Slurm\'s reason instead of pending forever', async () => {
      newExecutor();
      const pending: string[] = [];
      ex.on('task:pending', (e) => pending.push(e.record.note ?? ''));
      // The test node has nproc CPUs; 4096 it never has.
      const t = await ex.submit({ command: 'echo never', resources: { cpus: 4096 } });
      const done = await ex.wait(t.id, { timeoutMs: 30_000 });
      expect(done).toMatchObject({ status: 'failed', reason: 'slurm_partitionconfig', exitCode: null, signal: null, attempt: 1 });
      expect(done.startedAt).toBeUndefined();
      expect(pending).toHaveLength(1);
      expect(await jobState(String(done.handle?.['jobId']))).toBe('CANCELLED');
      expect((await ex.readOutput(t.id)).text).toBe('');
    });

    it('an inherited SBATCH_ARRAY_INX or SBATCH_EXPORT does not reach sbatch: one attempt is one job, with the task\'s environment', async () => {
      const saved = { array: process.env['SBATCH_ARRAY_INX'], exp: process.env['SBATCH_EXPORT'] };
      // As when bgexec itself runs where these are set; the transport reads its environment when built.
      process.env['SBATCH_ARRAY_INX'] = '1-3';
      process.env['SBATCH_EXPORT'] = 'NONE';
      try {
        newExecutor();
      } finally {
        for (const [k, v] of [['SBATCH_ARRAY_INX', saved.array], ['SBATCH_EXPORT', saved.exp]] as const) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      const t = await ex.submit({ command: 'echo "one $BGX_PROBE"', env: { BGX_PROBE: 'env' } });
      const done = await ex.wait(t.id);
      expect(done).toMatchObject({ status: 'completed', exitCode: 0 });
      expect((await ex.readOutput(t.id)).text).toBe('one env\n');
      const jobs = (await slurmCmd('squeue', ['-h', '-t', 'all', '-n', `bgx-${t.id}-1`, '-o', '%i'])).trim().split('\n');
      expect(jobs).toEqual([String(done.handle?.['jobId'])]);
      // HOME reached the job: the environment was exported (SBATCH_EXPORT=NONE would have dropped it).
      const t2 = await ex.submit({ command: 'printf %s "$HOME"' });
      expect((await ex.wait(t2.id)).status).toBe('completed');
      expect((await ex.readOutput(t2.id)).text).toBe(process.env['HOME'] ?? '');
    });

    it('finds a job by its name when its id was never recorded (a crash between submit and record)', async () => {
      const tr = slurmTransport();
      const taskId = `byname${Date.now()}`;
      const handle = await tr.start({ taskId, attempt: 1, command: 'echo found', detached: true });
      await tr.close();
      unlinkSync(join(String(handle.runDir), 'jobid'));
      const fresh = slurmTransport();
      try {
        const probed = await fresh.probe(taskId, 1);
        expect(probed).toBeDefined();
        expect(probed?.['jobId']).toBeUndefined();
        const exit = await fresh.wait(probed!);
        expect(exit).toMatchObject({ state: 'exited', exitCode: 0 });
        expect(readFileSync(join(String(handle.runDir), 'jobid'), 'utf8')).toBe(`${String(handle['jobId'])}\n`);
        expect((await fresh.read(probed!, 'stdout', 0, 100)).data.toString()).toBe('found\n');
      } finally {
        await fresh.close();
      }
    });

    it('measures submit → started, poll round trip and cancel → gone', async () => {
      newExecutor();
      const starts: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const t = await ex.submit({ command: 'sleep 30' });
        await until('started', () => (ex.get(t.id)?.note === undefined && ex.get(t.id)?.handle?.['pending'] === false ? true : undefined));
        starts.push(Date.now() - t0);
        const c0 = Date.now();
        await ex.cancel(t.id);
        await ex.wait(t.id);
        starts.push(-(Date.now() - c0));
      }
      const rtts: number[] = [];
      for (let i = 0; i < 10; i++) {
        const t0 = process.hrtime.bigint();
        await slurmCmd('squeue', ['-h', '-t', 'all', '-j', '1,2,3', '-o', '%i|%T|%r|%j']);
        rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
      const up = starts.filter((x) => x >= 0);
      const down = starts.filter((x) => x < 0).map((x) => -x);
      console.info(`slurm latency: submit → started median ${med(up)} ms (${up.join(', ')}); squeue round trip median ${med(rtts).toFixed(1)} ms; cancel → settled median ${med(down)} ms (${down.join(', ')})`);
      expect(up.every((x) => x < 15_000)).toBe(true);
    }, 120_000);
  });

  describe('SlurmTransport recovery', () => {
    beforeAll(async () => {
      await ensureSlurm();
    }, 300_000);

    it('an executor SIGKILLed with a pending and a running job re-attaches on restart; nothing is submitted twice', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bgexec-slurm-store-'));
      const gate = join(sharedRoot(), `gate-${Date.now()}`);
      const options = { sharedRoot: sharedRoot(), env: SLURM_ENV, pollMs: 100 };
      const specs = [
        { command: 'echo held; exit 3', resources: { extraArgs: ['--hold'] } },
        { command: `echo running; while [ ! -e ${gate} ]; do sleep 0.05; done; echo after; exit 5` },
        // Released while no executor runs: it has begun when the new one re-attaches to it.
        { command: `echo early; while [ ! -e ${gate} ]; do sleep 0.05; done; exit 6`, resources: { extraArgs: ['--hold'] } },
      ];
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/harness/slurm-executor-child.ts'), dir, JSON.stringify(options), JSON.stringify(specs)], {
        cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
      });
      let ex2: BackgroundExecutor | undefined;
      try {
        const lines: string[] = [];
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (c: string) => lines.push(...c.split('\n').filter(Boolean)));
        const seen = await until('child states', () => {
          const pending = lines.filter((l) => l.startsWith('pending '));
          const started = lines.filter((l) => l.startsWith('started '));
          return pending.length === 3 && started.length === 1 ? { pending, started } : undefined;
        }, 30_000);
        const runningId = seen.started[0]!.split(' ')[1]!;
        // Which pending line is which: the batch script in the run directory holds the command.
        const parked = seen.pending.filter((l) => !l.includes(runningId)).map((l) => l.split(' ') as [string, string, string]);
        const isEarly = ([, id]: readonly string[]): boolean => readFileSync(join(sharedRoot(), 'jobs', `${id!}-1`, 'job.sh'), 'utf8').includes('echo early');
        const [, heldId, heldJob] = parked.find((p) => !isEarly(p))!;
        const [, earlyId, earlyJob] = parked.find(isEarly)!;
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await slurmCmd('scontrol', ['release', earlyJob!]);
        const earlyPid = join(sharedRoot(), 'jobs', `${earlyId!}-1`, 'pid');
        await until('early job runs', () => (existsSync(earlyPid) && readFileSync(earlyPid, 'utf8') !== '' ? true : undefined), 30_000);

        const store = new JsonDirStore({ dir });
        ex2 = new BackgroundExecutor({ store, transports: { cluster: slurmTransport() }, scheduler: new PriorityScheduler({ concurrency: 8 }) });
        const started: string[] = [];
        ex2.on('task:started', (e) => started.push(e.taskId));
        await ex2.start();
        // Stored as pending, found running: running from its real start, not announced again.
        expect(ex2.get(earlyId!)).toMatchObject({ status: 'running', attempt: 1, startedAt: Math.floor(statSync(earlyPid).mtimeMs) });
        expect(ex2.get(earlyId!)?.note).toBeUndefined();
        expect(ex2.get(earlyId!)?.handle?.['pending']).toBe(false);
        expect(ex2.get(heldId!)).toMatchObject({ status: 'running', attempt: 1 });
        expect(ex2.get(heldId!)?.note).toContain('pending');
        expect(ex2.get(runningId)).toMatchObject({ status: 'running', attempt: 1 });
        await slurmCmd('scontrol', ['release', heldJob!]);
        writeFileSync(gate, '');
        const [held, running, early] = await Promise.all([ex2.wait(heldId!), ex2.wait(runningId), ex2.wait(earlyId!)]);
        expect(early).toMatchObject({ status: 'failed', exitCode: 6, attempt: 1 });
        // The job that began after the restart is announced; those that ran before are not.
        expect(started).toEqual([heldId]);
        expect(held).toMatchObject({ status: 'failed', exitCode: 3, attempt: 1 });
        expect(running).toMatchObject({ status: 'failed', exitCode: 5, attempt: 1 });
        expect((await ex2.readOutput(heldId!)).text).toBe('held\n');
        expect((await ex2.readOutput(runningId)).text).toBe('running\nafter\n');
        for (const id of [heldId!, runningId, earlyId!]) {
          const jobs = (await slurmCmd('squeue', ['-h', '-t', 'all', '-n', `bgx-${id}-1`, '-o', '%i'])).trim().split('\n');
          expect(jobs).toHaveLength(1);
          expect(await slurmCmd('squeue', ['-h', '-t', 'all', '-n', `bgx-${id}-2`, '-o', '%i'])).toBe('');
        }
      } finally {
        child.kill('SIGKILL');
        await ex2?.shutdown().catch(noop);
        rmSync(dir, { recursive: true, force: true });
      }
    }, 90_000);
  });
}

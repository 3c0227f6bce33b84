// What the Slurm transport adds that runs without a cluster: the pending state in the runner (on
// a queueing stand-in around FakeTransport), spec validation of `resources` and `timeoutFrom`,
// the transport's option checks, and the batch script and sbatch argv it builds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import type { StoredSpec, TransportHandle } from '../../src/task.js';
import { InvalidSpecError } from '../../src/errors.js';
import { recordProblem } from '../../src/stores/record-validate.js';
import { FakeTransport } from '../../src/testing/fake-transport.js';
import { SlurmTransport } from '../../src/transports/slurm/slurm-transport.js';
import type { SlurmCli } from '../../src/transports/slurm/cli.js';
import { buildJobScript, sbatchArgv } from '../../src/transports/slurm/job-script.js';
import { REFUSED_LONG, REFUSED_SHORT } from '../../src/transports/slurm/refused-options.js';
import { isEnded, isQueued, queryJobs } from '../../src/transports/slurm/states.js';
import type { ExitInfo, KillOptions, LaunchRequest, OutputStream, PollResult, ReadResult, Transport } from '../../src/transports/types.js';

// A FakeTransport whose attempts first wait in a queue until the test lets them run.
class QueueingFake implements Transport {
  readonly kind = 'fake';
  readonly fake = new FakeTransport();
  private readonly gates = new Map<string, { promise: Promise<boolean>; resolve: (ran: boolean) => void }>();
  private gate(taskId: string) {
    let g = this.gates.get(taskId);
    if (!g) {
      let resolve!: (ran: boolean) => void;
      const promise = new Promise<boolean>((r) => (resolve = r));
      g = { promise, resolve };
      this.gates.set(taskId, g);
    }
    return g;
  }
  release(taskId: string): void {
    this.gate(taskId).resolve(true);
  }
  async start(req: LaunchRequest): Promise<TransportHandle> {
    const h = await this.fake.start(req);
    return { ...h, pending: true, pendingNote: `pending: ${req.taskId} waits in the test queue` };
  }
  whenRunning(h: TransportHandle): Promise<boolean> {
    return this.gate(h.taskId).promise;
  }
  wait(h: TransportHandle): Promise<ExitInfo> {
    return this.fake.wait(h);
  }
  poll(h: TransportHandle): Promise<PollResult> {
    return this.fake.poll(h);
  }
  read(h: TransportHandle, s: OutputStream, o: number, l: number): Promise<ReadResult> {
    return this.fake.read(h, s, o, l);
  }
  async kill(h: TransportHandle, o: KillOptions): Promise<void> {
    this.gate(h.taskId).resolve(false);
    await this.fake.kill(h, o);
  }
  cleanup(h: TransportHandle): Promise<void> {
    return this.fake.cleanup(h);
  }
  close(): Promise<void> {
    return this.fake.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pending attempts in the runner', () => {
  it('a queued attempt is running with a note and task:pending; its timeout starts when it runs', async () => {
    const q = new QueueingFake();
    q.fake.script(/./, { hang: true });
    const ex = new BackgroundExecutor({ transports: { q }, defaultTransport: 'q', outputPollMs: 10 });
    const events: string[] = [];
    for (const n of ['task:pending', 'task:started', 'task:completed', 'task:timed_out'] as const) ex.on(n, () => events.push(n));
    try {
      const t = await ex.submit({ command: 'x', timeoutMs: 150 });
      // Pending three times longer than the timeout (the bound is the point), through many output polls.
      await sleep(450);
      expect(ex.get(t.id)).toMatchObject({ status: 'running', note: `pending: ${t.id} waits in the test queue` });
      expect(events).toEqual(['task:pending']);
      q.release(t.id);
      for (let i = 0; i < 200 && !events.includes('task:started'); i++) await sleep(5);
      expect(ex.get(t.id)?.note).toBeUndefined();
      expect(ex.get(t.id)?.handle?.['pending']).toBe(false);
      q.fake.complete(t.id, { exitCode: 0 });
      expect(await ex.wait(t.id)).toMatchObject({ status: 'completed' });
      expect(events).toEqual(['task:pending', 'task:started', 'task:completed']);
    } finally {
      await ex.shutdown();
    }
  });

  it('an attempt never ends before it starts: an end the transport dates earlier than the noticed start moves the start back', async () => {
    // The end comes from the wrapper (another host's clock, or a start noticed a poll round late).
    class Skewed extends QueueingFake {
      override wait(h: TransportHandle): Promise<ExitInfo> {
        return super.wait(h).then((e) => ({ ...e, endedAt: e.endedAt - 60_000 }));
      }
    }
    const q = new Skewed();
    q.fake.script(/./, { hang: true });
    const ex = new BackgroundExecutor({ transports: { q }, defaultTransport: 'q' });
    try {
      const t = await ex.submit({ command: 'x' });
      q.release(t.id);
      for (let i = 0; i < 200 && ex.get(t.id)?.handle?.['pending'] !== false; i++) await sleep(5);
      q.fake.complete(t.id, { exitCode: 0 });
      const done = await ex.wait(t.id);
      expect(done.status).toBe('completed');
      expect(done.history[0]!.endedAt).toBeGreaterThanOrEqual(done.history[0]!.startedAt);
      expect(done.endedAt! - done.startedAt!).toBeGreaterThanOrEqual(0);
    } finally {
      await ex.shutdown();
    }
  });

  it("timeoutFrom: 'submit' counts the time pending: it times out in the queue without ever starting", async () => {
    const q = new QueueingFake();
    q.fake.script(/./, { hang: true });
    const ex = new BackgroundExecutor({ transports: { q }, defaultTransport: 'q' });
    const events: string[] = [];
    for (const n of ['task:pending', 'task:started', 'task:timed_out'] as const) ex.on(n, () => events.push(n));
    try {
      const t = await ex.submit({ command: 'x', timeoutMs: 100, timeoutFrom: 'submit', graceMs: 10 });
      expect(await ex.wait(t.id)).toMatchObject({ status: 'timed_out', reason: 'timeout' });
      expect(events).toEqual(['task:pending', 'task:timed_out']);
    } finally {
      await ex.shutdown();
    }
  });
});

describe('Slurm spec fields and options', () => {
  const ex = () => new BackgroundExecutor({ transports: { f: new FakeTransport() }, defaultTransport: 'f' });

  it('validates resources and timeoutFrom with INVALID_SPEC naming the field', async () => {
    const e = ex();
    try {
      const bad: Array<[object, string]> = [
        [{ resources: { cpus: 0 } }, 'resources.cpus'],
        [{ resources: { memoryMb: 1.5 } }, 'resources.memoryMb'],
        [{ resources: { gpus: '1' } }, 'resources.gpus'],
        [{ resources: { timeLimitMinutes: -1 } }, 'resources.timeLimitMinutes'],
        [{ resources: { extraArgs: ['--job-name=x'] } }, 'resources.extraArgs[0]'],
        [{ resources: { extraArgs: ['-o', 'x'] } }, 'resources.extraArgs[0]'],
        [{ resources: { extraArgs: ['--comment=a\nb'] } }, 'resources.extraArgs[0]'],
        [{ resources: { extraArgs: 'x' } }, 'resources.extraArgs'],
        [{ resources: { disk: 1 } }, 'resources.disk'],
        [{ resources: [] }, 'resources'],
        [{ timeoutFrom: 'queue' }, 'timeoutFrom'],
      ];
      for (const [fields, field] of bad) {
        await expect(e.submit({ command: 'true', ...fields } as never)).rejects.toMatchObject({ code: 'INVALID_SPEC', field });
      }
      const ok = await e.submit({ command: 'true', timeoutFrom: 'start', resources: { cpus: 2, memoryMb: 100, gpus: 1, timeLimitMinutes: 5, extraArgs: ['--constraint=x', '--exclusive'] } });
      expect(ok.spec.resources).toEqual({ cpus: 2, memoryMb: 100, gpus: 1, timeLimitMinutes: 5, extraArgs: ['--constraint=x', '--exclusive'] });
    } finally {
      await e.shutdown();
    }
  });

  it('refuses managed sbatch options however getopt_long would read them: abbreviations, short forms, clusters, detached values', async () => {
    const e = ex();
    try {
      const refused = [
        '--job-n=x', '--requ', '--out=/tmp/o-%j', '--chd=/', '-a1-3', '-i/etc/passwd', '-o', '-e', '-J', '-Jx', '-D/', '-HJx',
        '--exp=NONE', '--export-f=x', '--wr=true', '--sig=B:USR1@60', '--get-u', '--open=append', '--parsa', '--no-req', '--wait',
        '-W', '-M', '-Mother', '--clusters=other', '--test-o', '--uid=0', '--', '--comment', '-p', '-Hp', '--mem',
      ];
      for (const arg of refused) {
        await expect(e.submit({ command: 'true', resources: { extraArgs: ['--hold', arg] } }), arg).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'resources.extraArgs[1]' });
        expect(() => new SlurmTransport({ sharedRoot: '/s', sbatchArgs: [arg] }), arg).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'sbatchArgs' }));
      }
      await expect(e.submit({ command: 'true', resources: { extraArgs: ['--job-n=x'] } })).rejects.toThrow(/abbreviates --job-name/);
      // Options that only look alike stay allowed: a value attached to a harmless letter, full names, flags.
      const allowed = ['-pdebug-o', '-Hv', '--ho', '--hold', '--wait-all-nodes=1', '--kill-on-invalid-dep=yes', '--comment=-o x', '--mem=5', '--nice', '--exclusive', '-t5', '--constraint=a100'];
      const ok = await e.submit({ command: 'true', resources: { extraArgs: allowed } });
      expect(ok.spec.resources?.extraArgs).toEqual(allowed);
      expect(() => new SlurmTransport({ sharedRoot: '/s', sbatchArgs: allowed })).not.toThrow();
    } finally {
      await e.shutdown();
    }
  });

  it.skipIf(!existsSync('/usr/bin/sbatch'))("knows every short letter that sbatch --help gives a refused long option", () => {
    // sbatch wants a configuration even for --help; a two-line one needs no cluster.
    const dir = mkdtempSync(join(tmpdir(), 'bgx-sbatch-help-'));
    writeFileSync(join(dir, 'slurm.conf'), 'ClusterName=help\nSlurmctldHost=localhost\n');
    let help: string;
    try {
      help = execFileSync('/usr/bin/sbatch', ['--help'], { encoding: 'utf8', env: { ...process.env, SLURM_CONF: join(dir, 'slurm.conf') } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const pairs = [...help.matchAll(/^\s+-([A-Za-z]), --([a-z-]+)/gm)].map((m) => [m[1]!, m[2]!] as const);
    expect(pairs.length).toBeGreaterThan(20);
    for (const [letter, long] of pairs) {
      if (REFUSED_LONG[long] !== undefined) expect(REFUSED_SHORT[letter], `-${letter} (--${long})`).toBe(long);
      else expect(REFUSED_SHORT[letter], `-${letter} (--${long})`).toBeUndefined();
    }
  });

  it("asks the task's own transport to validate the spec at submit: a refusal rejects submit and nothing is stored", async () => {
    const asked: string[] = [];
    class Picky extends FakeTransport {
      validate(spec: Readonly<StoredSpec>): void {
        asked.push(spec.command);
        if (spec.command === 'refused') throw new InvalidSpecError('command', 'is refused by this transport');
        if (spec.command === 'broken') throw new Error('a validate() with a bug');
      }
    }
    const e = new BackgroundExecutor({ transports: { picky: new Picky(), plain: new FakeTransport() }, defaultTransport: 'picky' });
    try {
      await expect(e.submit({ command: 'refused' })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'command' });
      // A validate() that throws something else is still a refused spec, not a crash of submit.
      await expect(e.submit({ command: 'broken' })).rejects.toMatchObject({ code: 'INVALID_SPEC' });
      expect(e.list()).toEqual([]);
      const other = await e.submit({ command: 'refused', transport: 'plain' });
      expect(await e.wait(other.id)).toMatchObject({ status: 'completed' });
      expect(asked).toEqual(['refused', 'broken']);
      // Slurm's own hook: secretEnv is refused before anything exists.
      const slurm = new SlurmTransport({ sharedRoot: '/nonexistent/bgexec-shared' });
      expect(() => slurm.validate({ command: 'x', secretEnvKeys: ['TOKEN'] })).toThrow(expect.objectContaining({ code: 'INVALID_SPEC', field: 'secretEnv' }));
      expect(() => slurm.validate({ command: 'x' })).not.toThrow();
      await slurm.close();
    } finally {
      await e.shutdown();
    }
  });

  it('refuses bad transport options with INVALID_ARGUMENT', () => {
    expect(() => new SlurmTransport({ sharedRoot: 'relative' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'sharedRoot' }));
    expect(() => new SlurmTransport({ sharedRoot: '/shared/50%' })).toThrow(expect.objectContaining({ field: 'sharedRoot' }));
    expect(() => new SlurmTransport({ sharedRoot: '/s', sbatchArgs: ['--output=x'] })).toThrow(expect.objectContaining({ field: 'sbatchArgs' }));
    expect(() => new SlurmTransport({ sharedRoot: '/s', partition: 'a b' })).toThrow(expect.objectContaining({ field: 'partition' }));
    expect(() => new SlurmTransport({ sharedRoot: '/s', ssh: {} } as never)).toThrow(expect.objectContaining({ field: 'ssh' }));
    expect(() => new SlurmTransport({ sharedRoot: '/s', pollMs: 0 })).toThrow(expect.objectContaining({ field: 'pollMs' }));
    // sbatch would read a refused option from these.
    expect(() => new SlurmTransport({ sharedRoot: '/s', env: { SBATCH_ARRAY_INX: '1-3' } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'env.SBATCH_ARRAY_INX' }));
    expect(() => new SlurmTransport({ sharedRoot: '/s', env: { SBATCH_EXPORT: 'NONE' } })).toThrow(expect.objectContaining({ field: 'env.SBATCH_EXPORT' }));
  });

  it('builds an sbatch argv that pins the run directory, names the job and never requeues', () => {
    const argv = sbatchArgv('/s/jobs/T1-2', 'T1', 2, ['--partition=p'], { cpus: 4, memoryMb: 512, gpus: 1, timeLimitMinutes: 9, extraArgs: ['--hold'] });
    expect(argv).toEqual([
      '--parsable', '--job-name=bgx-T1-2', '--chdir=/s/jobs/T1-2', '--output=/s/jobs/T1-2/slurm.out', '--error=/s/jobs/T1-2/slurm.err',
      '--no-requeue', '--partition=p', '--cpus-per-task=4', '--mem=512M', '--gpus=1', '--time=9', '--hold', '/s/jobs/T1-2/job.sh',
    ]);
    const script = buildJobScript({ runDir: '/s/jobs/T1-2', taskId: 'T1', attempt: 2, command: "echo 'hi'", env: { A: "it's" }, reap: '0:5000', maxOutputBytes: 10 });
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`export A='it'\\''s'`);
    expect(script).toContain('export BGEXEC_TASK_ID=T1 BGEXEC_ATTEMPT=2 BGEXEC_REAP=');
    expect(script).toContain('export BGEXEC_MAX_OUTPUT=10');
    expect(script).toMatch(/\nexec \/bin\/sh -c '.*' bgexec-wrap '\/s\/jobs\/T1-2' '' 'sh' 'echo '\\''hi'\\'''\n$/s);
  });
});

describe('Slurm job states', () => {
  // A stand-in for the Slurm client that answers from a table and records the calls.
  const fakeCli = (answers: Record<string, { code: number; stdout?: string; stderr?: string }>) => {
    const calls: string[] = [];
    const cli = {
      run: async (cmd: string, args: readonly string[]) => {
        const key = `${cmd} ${args.join(' ')}`;
        calls.push(key);
        const hit = Object.entries(answers).find(([k]) => key.startsWith(k))?.[1] ?? { code: 1, stderr: 'no' };
        return { code: hit.code, stdout: hit.stdout ?? '', stderr: hit.stderr ?? '', timedOut: false };
      },
    };
    return { cli: cli as unknown as SlurmCli, calls };
  };

  const named = (...ids: string[]): Map<string, string> => new Map(ids.map((id) => [id, `bgx-t${id}-1`]));

  it('asks squeue about all jobs at once, and sacct (then sacct -c) about those squeue no longer shows', async () => {
    const { cli, calls } = fakeCli({
      "squeue -h -t all -j 1,2,3,4 -o %i|%T|%r|%j": { code: 0, stdout: '1|PENDING|Priority|bgx-t1-1\n2|RUNNING|None|bgx-t2-1\n' },
      'sacct -n': { code: 1, stderr: 'Slurm accounting storage is disabled' },
      'sacct -c -n -X -P -j 3,4 -o JobID,State,Reason,JobName': { code: 0, stdout: '3|CANCELLED by 0|None|bgx-t3-1\n' },
    });
    const states = await queryJobs(cli, named('1', '2', '3', '4'));
    expect([...states]).toEqual([
      ['1', { state: 'PENDING', reason: 'Priority' }],
      ['2', { state: 'RUNNING', reason: 'None' }],
      ['3', { state: 'CANCELLED', reason: 'None' }],
    ]);
    expect(calls.filter((c) => c.startsWith('squeue'))).toHaveLength(1);
    expect(isQueued(states.get('1')!)).toBe(true);
    expect(isEnded(states.get('2')!)).toBe(false);
    expect(isEnded(states.get('3')!)).toBe(true);
  });

  it('counts a job only under its own name: an id Slurm handed out again, or an older job of it in the completion log, is not ours', async () => {
    const { cli } = fakeCli({
      // slurmctld lost its state and gave job 5 to someone else; the completion log has two earlier jobs 6.
      'squeue': { code: 0, stdout: '5|RUNNING|None|other-job\n' },
      'sacct -n': { code: 1, stderr: 'Slurm accounting storage is disabled' },
      'sacct -c': { code: 0, stdout: '5|COMPLETED||bgx-old-1\n6|CANCELLED||bgx-older-1\n6|COMPLETED||bgx-t6-1\n6|FAILED||bgx-newer-2\n' },
    });
    const states = await queryJobs(cli, named('5', '6'));
    expect([...states]).toEqual([['6', { state: 'COMPLETED', reason: '' }]]);
  });

  it('treats "Invalid job id" as unknown jobs, and any other squeue failure as the controller being away', async () => {
    const gone = fakeCli({ 'squeue': { code: 1, stderr: 'slurm_load_jobs error: Invalid job id specified' }, 'sacct': { code: 0, stdout: '' } });
    expect((await queryJobs(gone.cli, named('9'))).size).toBe(0);
    const away = fakeCli({ 'squeue': { code: 1, stderr: 'Unable to contact slurm controller (connect failure)' } });
    await expect(queryJobs(away.cli, named('9'))).rejects.toThrow(/Slurm controller unreachable: .*Unable to contact/);
  });
});

describe('stored records', () => {
  it('a record whose resources or timeoutFrom submit would refuse is not loaded (it would reach sbatch)', async () => {
    const e = new BackgroundExecutor({ transports: { f: new FakeTransport() }, defaultTransport: 'f' });
    try {
      const good = JSON.parse(JSON.stringify(await e.submit({ command: 'true', resources: { cpus: 1 }, timeoutFrom: 'submit' }))) as Record<string, unknown>;
      expect(recordProblem(good)).toBeUndefined();
      const spec = good['spec'] as Record<string, unknown>;
      expect(recordProblem({ ...good, spec: { ...spec, resources: { extraArgs: ['--output=/etc/motd'] } } })).toContain('spec.resources');
      expect(recordProblem({ ...good, spec: { ...spec, resources: { cpus: -1 } } })).toContain('spec.resources');
      expect(recordProblem({ ...good, spec: { ...spec, timeoutFrom: 'never' } })).toContain('spec.timeoutFrom');
    } finally {
      await e.shutdown();
    }
  });
});

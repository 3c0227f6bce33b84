// VagrantTransport against real Vagrant machines (docker provider, project `shared`: machines
// `one` and `two`): what the contract does not cover — exit codes and output end to end, hostile
// quoting, a tree kill that reaches a setsid grandchild, two machines of one Vagrantfile in one
// executor — and the latency of each operation next to `vagrant ssh -c`.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import type { TransportHandle } from '../../src/task.js';
import { VagrantTransport } from '../../src/transports/vagrant.js';
import { contractTaskId } from './_contract.js';
import { unclosed } from './_contract-fixture.js';
import { q } from './_shell.js';
import { describeDockerSkipped, dockerSkipReason, eventually, useVagrantDocker } from './_vagrant-docker-fixture.js';

const HOSTILE = [`it's`, `"double"`, '$HOME', '`id`', '$(id)', 'a b\tc', 'new\nline', 'ü ✓ 𝄞', '\\', '*', '-n', '', '; rm -rf /', "'", '%s%%'];

if (dockerSkipReason !== undefined) describeDockerSkipped(`VagrantTransport on a real machine, docker provider (${dockerSkipReason})`);
else {
  const machines = useVagrantDocker('shared');
  const open = new Map<string, VagrantTransport>();
  // One transport per machine for the file (a vagrant process costs seconds); `fresh` for a new one.
  const transport = (machine = 'one', fresh = false): VagrantTransport => {
    const key = fresh ? `${machine}#${open.size}` : machine;
    let t = open.get(key);
    if (t === undefined) open.set(key, (t = new VagrantTransport(machines().options(machine))));
    return t;
  };
  // The executors of these tests must not close the shared transports (`unclosed`): closing is left to afterAll.
  // vagrant's answers for both machines (seconds each on a loaded machine) are asked here.
  beforeAll(async () => {
    await Promise.all([transport('one').probe('warm-up', 1), transport('two').probe('warm-up', 1)]);
  }, 300_000);
  afterAll(async () => {
    for (const t of open.values()) await t.close();
    open.clear();
  });

  // Processes in the machine whose environment carries the task's marker, counted inside the
  // machine (by another task, whose own marker differs).
  async function markedInMachine(t: VagrantTransport, taskId: string): Promise<number> {
    const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: `grep -lsz -x ${q(`BGEXEC_TASK_ID=${taskId}`)} /proc/[0-9]*/environ | wc -l`, detached: false });
    await t.wait(h);
    const n = Number((await t.read(h, 'stdout', 0, 100)).data.toString().trim());
    await t.cleanup(h);
    return n;
  }

  describe('VagrantTransport on a real machine (docker provider)', () => {
    it('runs as the machine\'s own user in its own filesystem; exit code and output end to end', async () => {
      const ex = new BackgroundExecutor({ transports: { one: unclosed(transport()) }, defaultTransport: 'one' });
      try {
        const who = await ex.wait((await ex.submit({ command: 'id -un; cat /etc/debian_version >/dev/null && echo debian; echo oops >&2; exit 3' })).id);
        expect(who).toMatchObject({ status: 'failed', exitCode: 3 });
        expect((await ex.readOutput(who.id)).text).toBe('vagrant\ndebian\n');
        expect((await ex.readOutput(who.id, { stream: 'stderr' })).text).toBe('oops\n');
        const big = await ex.wait((await ex.submit({ command: 'seq 1 200000' })).id);
        expect(big).toMatchObject({ status: 'completed', exitCode: 0, stdoutBytes: 1_288_895 });
        expect((await ex.readOutput(big.id, { tail: 1 })).text).toBe('200000\n');
      } finally {
        await ex.shutdown();
      }
    }, 120_000);

    it('hostile quoting: command, args, env and cwd reach the machine byte for byte', async () => {
      const ex = new BackgroundExecutor({ transports: { one: unclosed(transport()) }, defaultTransport: 'one' });
      try {
        const args = await ex.wait((await ex.submit({ command: 'printf', args: ['[%s]\\n', ...HOSTILE] })).id);
        expect(args.status).toBe('completed');
        expect((await ex.readOutput(args.id)).text).toBe(HOSTILE.map((v) => `[${v}]\n`).join(''));
        const env = Object.fromEntries(HOSTILE.map((v, i) => [`V${i}`, v]));
        const viaEnv = await ex.wait((await ex.submit({ command: HOSTILE.map((_, i) => `printf '[%s]\\n' "$V${i}"`).join('; '), env })).id);
        expect((await ex.readOutput(viaEnv.id)).text).toBe(HOSTILE.map((v) => `[${v}]\n`).join(''));
        // A directory whose name needs quoting, made in the machine, then used as cwd.
        const dir = `/tmp/bgx dir 'q' $x \`y\` ü`;
        expect((await ex.wait((await ex.submit({ command: 'mkdir -p "$D"', env: { D: dir } })).id)).status).toBe('completed');
        const inDir = await ex.wait((await ex.submit({ command: 'pwd', cwd: dir })).id);
        expect((await ex.readOutput(inDir.id)).text).toBe(`${dir}\n`);
      } finally {
        await ex.shutdown();
      }
    }, 120_000);

    it('a kill reaches the whole tree in the machine, a setsid grandchild included', async () => {
      const t = transport();
      const taskId = contractTaskId();
      const h = await t.start({
        taskId, attempt: 1, detached: false,
        command: 'sleep 300 & setsid sh -c "sleep 301 & sleep 302" & (trap "" TERM; sleep 303) & echo ready; wait',
      });
      await eventually('the tree to start', async () => ((await t.poll(h)).stdoutBytes >= 6 ? true : undefined));
      expect(await eventually('all five processes', async () => {
        const n = await markedInMachine(t, taskId);
        return n >= 6 ? n : undefined;
      }, 30_000)).toBeGreaterThanOrEqual(6);
      await t.kill(h, { graceMs: 500 });
      expect(await t.wait(h)).toMatchObject({ state: 'exited', exitCode: null });
      expect(await markedInMachine(t, taskId)).toBe(0);
      await t.cleanup(h);
    }, 120_000);

    it('a handle\'s detached is what the task asked for (also when found by a probe); every handle outlives the executor', async () => {
      const t = transport();
      for (const detached of [false, true]) {
        const taskId = contractTaskId();
        const h = await t.start({ taskId, attempt: 1, command: 'true', detached });
        expect(h).toMatchObject({ kind: 'vagrant', detached, outlivesExecutor: true });
        expect(await t.probe(taskId, 1)).toMatchObject({ detached, outlivesExecutor: true });
        await t.wait(h);
        await t.cleanup(h);
      }
      const ex = new BackgroundExecutor({ transports: { one: unclosed(t) }, defaultTransport: 'one' });
      try {
        const done = await ex.wait((await ex.submit({ command: 'true' })).id);
        expect(done.handle).toMatchObject({ detached: false, outlivesExecutor: true });
      } finally {
        await ex.shutdown();
      }
    }, 120_000);

    it('two machines of one Vagrantfile in one executor: each task runs in its own machine', async () => {
      const one = transport('one');
      const two = transport('two');
      // Asked before this test (two vagrant processes per machine, more if vagrant said "locked" meanwhile).
      const asked = one.vagrantCalls + two.vagrantCalls;
      expect(asked).toBeGreaterThanOrEqual(4);
      const ex = new BackgroundExecutor({ transports: { one: unclosed(one), two: unclosed(two) }, defaultTransport: 'one', scheduler: new PriorityScheduler({ concurrency: 4 }) });
      try {
        // The pid 1 start time and hostname tell two containers apart.
        const cmd = 'hostname; cut -d" " -f22 /proc/1/stat; echo "$BGEXEC_TASK_ID"';
        const tasks = await Promise.all(['one', 'two', 'one', 'two'].map((transport) => ex.submit({ command: cmd, transport })));
        const done = await Promise.all(tasks.map((x) => ex.wait(x.id)));
        expect(done.map((d) => [d.spec.transport, d.status])).toEqual([['one', 'completed'], ['two', 'completed'], ['one', 'completed'], ['two', 'completed']]);
        const lines = await Promise.all(done.map(async (d) => (await ex.readOutput(d.id)).text.split('\n')));
        expect(lines.map((l) => l[2])).toEqual(done.map((d) => d.id));
        const machineOf = lines.map((l) => `${l[0]}/${l[1]}`);
        expect(machineOf[0]).toBe(machineOf[2]);
        expect(machineOf[1]).toBe(machineOf[3]);
        expect(machineOf[0]).not.toBe(machineOf[1]);
        // The tasks cost no vagrant process: the answers were asked for once, before.
        expect(one.vagrantCalls + two.vagrantCalls).toBe(asked);
      } finally {
        await ex.shutdown();
      }
    }, 120_000);

    it('two executors with transports of their own and a `vagrant up` typed meanwhile, all on one machine: every task runs once and completes', async () => {
      // Fresh transports: both ask vagrant now, at the same time as the `vagrant up`, and vagrant
      // lets one process at a time use the machine ("locked"): they wait, or give the start back.
      const a = transport('two', true);
      const b = transport('two', true);
      const exA = new BackgroundExecutor({ transports: { two: unclosed(a) }, defaultTransport: 'two' });
      const exB = new BackgroundExecutor({ transports: { two: unclosed(b) }, defaultTransport: 'two' });
      try {
        const [up, ...tasks] = await Promise.all([
          machines().vagrant(['up', 'two']),
          ...[exA, exB, exA, exB].map((ex, i) => ex.submit({ command: `echo task${i}` })),
        ]);
        expect(up).toMatch(/two/);
        const done = await Promise.all(tasks.map((t, i) => (i % 2 === 0 ? exA : exB).wait((t as { id: string }).id, { timeoutMs: 240_000 })));
        for (const [i, d] of done.entries()) {
          // With the error in view, should one fail.
          expect({ status: d.status, attempt: d.attempt, error: d.error, note: d.note }).toEqual({ status: 'completed', attempt: 1, error: undefined, note: undefined });
          expect(d.history).toHaveLength(1);
          expect((await (i % 2 === 0 ? exA : exB).readOutput(d.id)).text).toBe(`task${i}\n`);
        }
      } finally {
        await exA.shutdown();
        await exB.shutdown();
      }
    }, 300_000);

    it('latency per operation through VagrantTransport, next to `vagrant ssh -c true`', async () => {
      const ROUNDS = 5;
      const t = transport();
      const fresh = transport('one', true);
      const m = machines();
      const time = async (fn: () => Promise<unknown>) => {
        const t0 = performance.now();
        await fn();
        return performance.now() - t0;
      };
      const rows: Record<string, number[]> = { 'first operation (vagrant status + ssh-config + connect)': [], start: [], 'poll (cached)': [], 'read (mirror)': [], 'wait (`true`, start to end)': [], 'kill (TERM → ended)': [], 'vagrant ssh -c true': [] };
      const vagrantSsh = () => new Promise<void>((resolve, reject) => {
        const c = spawn('vagrant', ['ssh', 'one', '-c', 'true'], { cwd: m.cwd, env: { ...process.env, ...m.env }, stdio: 'ignore' });
        c.once('error', reject);
        c.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`vagrant ssh exited ${code}`))));
      });
      rows['first operation (vagrant status + ssh-config + connect)']!.push(await time(() => fresh.probe(contractTaskId(), 1)));
      await t.probe(contractTaskId(), 1);
      for (let i = 0; i < ROUNDS; i++) {
        let h: TransportHandle | undefined;
        rows.start!.push(await time(async () => (h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'echo hi; sleep 60', detached: false }))));
        await eventually('output', async () => ((await t.poll(h!)).stdoutBytes >= 3 ? true : undefined));
        rows['poll (cached)']!.push(await time(() => t.poll(h!)));
        rows['read (mirror)']!.push(await time(() => t.read(h!, 'stdout', 0, 100)));
        rows['kill (TERM → ended)']!.push(await time(async () => {
          await t.kill(h!, { graceMs: 5_000 });
          await t.wait(h!);
        }));
        rows['wait (`true`, start to end)']!.push(await time(async () => t.wait(await t.start({ taskId: contractTaskId(), attempt: 1, command: 'true', detached: false }))));
        // Seconds each (a Ruby program): two show the order of magnitude.
        if (i < 2) rows['vagrant ssh -c true']!.push(await time(vagrantSsh));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const table = Object.entries(rows).map(([op, xs]) => `| ${op} | ${median(xs).toFixed(1)} ms |`);
      console.log(['| operation (median) | latency |', '|---|---|', ...table].join('\n'));
      mkdirSync('.tmp', { recursive: true });
      writeFileSync('.tmp/vagrant-docker-latency.json', JSON.stringify(Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)])), null, 2));
      // The point of the design: an operation is one ssh round trip, never a vagrant process.
      const fastestVagrantSsh = Math.min(...rows['vagrant ssh -c true']!);
      expect(median(rows.start!)).toBeLessThan(fastestVagrantSsh);
      expect(median(rows['wait (`true`, start to end)']!)).toBeLessThan(fastestVagrantSsh);
    }, 150_000);
  });
}

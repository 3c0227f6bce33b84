// Benchmark row 6 of docs/performance.md: remote. Against a real sshd on 127.0.0.1 (test/harness/sshd.ts) and the Vagrant
// fixture over it (test/harness/vagrant.ts: the real `vagrant` binary, an inline provider whose
// machine is that sshd), so the network adds nothing and the figures are the cost of the ssh
// client, the remote shell and the scripts.
//
// 1. Poll latency: the poll round trip HostPoller makes for one running attempt (its script,
//    buildPollScript, run through an SshClient over the transport's own master connection, reply
//    parsed as the poller parses it) vs `ssh host true` over the same master (the same ssh
//    argument list, only the remote command differs). Target ≤ 1.5×. Diagnostics: the public
//    SshTransport.poll() of an attempt a second instance has not seen (one poller round, as after
//    a restart), and the poll the executor makes every 100 ms, answered from the local mirror.
// 2. Start latency: SshTransport.start() of `true` (claim, launch, pid handshake) vs the same
//    `ssh host true`. No target.
// 3. Output read: everything about one finished task (state and exit code, stdout, stderr, line
//    counts) done the old way — four `vagrant ssh -c` calls — vs one read through a
//    VagrantTransport that has made its one-time `vagrant status` + `vagrant ssh-config` (poll of
//    a handle it has not seen: one round trip brings state, sizes and bytes; then two reads from
//    the mirror). No target; 3 repetitions of the old way (seconds each), 5 of ours.
//
// Samples alternate ssh-true, poll, start, poll (public API), … so that other load hits all of
// them alike; each repetition reports its medians, the rows the median over repetitions.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TransportHandle } from '../src/index.js';
import { buildPollScript } from '../src/transports/ssh/remote-scripts.js';
import { parseCompleteReply } from '../src/transports/ssh/reply.js';
import { SshClient } from '../src/transports/ssh/ssh-client.js';
import { SshTransport, type SshTransportOptions } from '../src/transports/ssh/ssh-transport.js';
import { VagrantTransport } from '../src/transports/vagrant.js';
import { sshUnavailable, startSshd, type Sshd } from '../test/harness/sshd.js';
import { vagrantFixture, vagrantUnavailable, type VagrantFixture } from '../test/harness/vagrant.js';
import { median } from './lib/stats.js';
import { load1 } from './lib/system.js';
import { type BenchOptions, type BenchResult, keepGoing, makeRow, repsOf, type Row } from './lib/types.js';

const SSH_BUDGET_MS = 30_000;
const VAGRANT_BUDGET_MS = 45_000;
/** What HostPoller asks per stream when it polls a single attempt (min(4 MiB, 16 MiB / 2)). */
const POLL_MAX_BYTES = 4 << 20;
/** The task whose output is read in row 3: 200 lines on stdout, 2 on stderr, exit 3. */
const TASK = 'i=0; while [ $i -lt 200 ]; do echo "line $i of the build log"; i=$((i+1)); done; echo warning >&2; echo failed >&2; exit 3';
const TASK_EXIT = 3;
const TASK_LINES = { stdout: 200, stderr: 2 };

/**
 * The harness's fixture provider answers `status` and `ssh-config` only; `vagrant ssh -c` needs
 * the provider's `ssh_run` action. Appended to the fixture's private copy of the Vagrantfile
 * (test/harness is not changed): the builtin SSHRun middleware, which is what real providers
 * end their `ssh_run` chain with (it runs `ssh` with the machine's ssh_info).
 */
const SSH_RUN_ACTION = `
# Added by bench/remote.ts: the action \`vagrant ssh -c\` calls.
module BgexecFixture
  class Provider
    def action(name)
      return nil unless name == :ssh_run
      Vagrant::Action::Builder.new.tap { |b| b.use Vagrant::Action::Builtin::SSHRun }
    end
  end
end
`;

/** Which parts to run; the smoke test leaves out the Vagrant comparison (seconds per call). */
export interface RemoteParts {
  vagrant?: boolean;
}

let taskCounter = 0;
const taskId = (): string => `bench-${process.pid}-${Date.now().toString(36)}-${++taskCounter}`;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** Runs a program to its end; resolves with its exit code and output, rejects if it cannot run. */
function exec(bin: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (err.length < 8192) err += c;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err }));
  });
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function skippedRow(id: string, name: string, metric: string, baselineName: string, why: string): Row {
  const row = makeRow({ id, issueRow: 6, name, metric, value: null, baseline: null, baselineName, target: null, note: why });
  return { ...row, status: 'skipped' };
}

const NAMES = {
  poll: 'remote: poll round trip, 1 running attempt',
  start: 'remote: start() of true (pid handshake)',
  pollApi: 'remote: SshTransport.poll(), unseen attempt (diag.)',
  read: 'remote: output read, VagrantTransport vs 4× vagrant ssh -c',
};
const SSH_TRUE = 'ssh host true, same master';

// ---------------------------------------------------------------- SSH: poll and start

type SshSeries = 'sshTrue' | 'poll' | 'start' | 'pollApi' | 'pollCached';

interface SshPart {
  rows: Row[];
  counts: Record<string, number>;
  details: Record<string, unknown>;
}

async function sshPart(sshd: Sshd, options: BenchOptions, started: number): Promise<SshPart> {
  // Long poll intervals: no background poll round runs while the samples are taken (every
  // round here is one that a sample asked for).
  const o: SshTransportOptions = sshd.options({ pollIntervalMs: 60_000, maxPollIntervalMs: 60_000, controlPersistSec: 300 });
  const t = new SshTransport(o);
  const other = new SshTransport(o);
  // The poller's own client class over t's control socket: its calls share t's master.
  const wire = new SshClient(o, t.localDir);
  const trueArgv = [...wire.argv.slice(0, -1), 'true'];
  const samples = options.quick ? 3 : 15;
  const warmup = options.quick ? 1 : 2;
  const reps = repsOf(options, 5);
  const perRep: Record<SshSeries, number[]> = { sshTrue: [], poll: [], start: [], pollApi: [], pollCached: [] };
  const counts = { sshTrue: 0, polls: 0, pollsRunning: 0, starts: 0, apiPolls: 0 };
  let running: TransportHandle | undefined;
  let connectMs = 0;
  let masterCheck = '';
  try {
    // The master connection (key exchange, authentication) is paid once per instance, not per operation.
    const first = await timed(() => t.start({ taskId: taskId(), attempt: 1, command: 'sleep 600', detached: false }));
    running = first.value;
    connectMs = first.ms;
    await other.list();
    const check = await exec('ssh', ['-O', 'check', ...trueArgv.slice(0, -2).filter((a) => a !== '--' && a !== '-T'), o.host]);
    masterCheck = `${check.stderr.trim()} (exit ${String(check.code)})`;
    if (check.code !== 0) throw new Error(`no ssh master on ${t.localDir}: ${masterCheck}`);
    const job = { runDir: running.runDir!, leaf: `${running.taskId}-${running.attempt}`, outOffset: 0, errOffset: 0, maxBytes: POLL_MAX_BYTES };
    const pollScript = buildPollScript([job]);

    for (let rep = 0; keepGoing(rep, reps, started, SSH_BUDGET_MS); rep++) {
      const series: Record<SshSeries, number[]> = { sshTrue: [], poll: [], start: [], pollApi: [], pollCached: [] };
      for (let i = 0; i < warmup + samples; i++) {
        const base = await timed(() => exec('ssh', trueArgv));
        if (base.value.code !== 0) throw new Error(`ssh host true exited ${String(base.value.code)}: ${base.value.stderr.trim()}`);
        counts.sshTrue++;

        const poll = await timed(async () => parseCompleteReply(await wire.run(pollScript)));
        const state = poll.value.find((x) => x.t === 'J' && x.leaf === job.leaf);
        if (state?.t !== 'J') throw new Error(`poll reply has no state line for ${job.leaf}`);
        counts.polls++;
        if (state.state === 'R') counts.pollsRunning++;

        const st = await timed(() => t.start({ taskId: taskId(), attempt: 1, command: 'true', detached: false }));
        if (!(st.value.pid! > 0)) throw new Error('start() returned no pid');
        counts.starts++;

        // A handle `other` has not seen: one poller round of the public API.
        const api = await timed(() => other.poll({ ...st.value }));
        counts.apiPolls++;

        const cached = await timed(() => t.poll(running!));
        if (cached.value.state !== 'running') throw new Error(`the sleeping attempt is ${cached.value.state}`);
        await t.cleanup(st.value);
        if (i < warmup) continue;
        series.sshTrue.push(base.ms);
        series.poll.push(poll.ms);
        series.start.push(st.ms);
        series.pollApi.push(api.ms);
        series.pollCached.push(cached.ms);
      }
      for (const s of Object.keys(series) as SshSeries[]) perRep[s].push(median(series[s]));
      const f = (s: SshSeries): string => perRep[s].at(-1)!.toFixed(s === 'pollCached' ? 3 : 1);
      options.log(`remote rep ${rep + 1}/${reps} medians ms: ssh true ${f('sshTrue')}, poll ${f('poll')}, start ${f('start')}, poll() unseen ${f('pollApi')}, poll() cached ${f('pollCached')}`);
    }
  } finally {
    if (running) await t.kill(running, { signal: 'SIGKILL', graceMs: 0 }).then(() => t.cleanup(running!)).catch(() => {});
    await other.close();
    await t.close();
  }
  const sshTrue = median(perRep.sshTrue);
  const rows = [
    makeRow({
      id: 'remote.poll', issueRow: 6, name: NAMES.poll, metric: 'ms', value: median(perRep.poll), baseline: sshTrue, baselineName: SSH_TRUE,
      target: { on: 'ratio', op: '<=', threshold: 1.5 },
      note: `HostPoller's script over the master; the executor's poll, answered from the mirror: ${median(perRep.pollCached).toFixed(3)} ms`,
      samples: { value: perRep.poll, baseline: perRep.sshTrue },
    }),
    makeRow({
      id: 'remote.start', issueRow: 6, name: NAMES.start, metric: 'ms', value: median(perRep.start), baseline: sshTrue, baselineName: SSH_TRUE,
      target: null, note: `first start incl. opening the master: ${connectMs.toFixed(0)} ms`,
      samples: { value: perRep.start, baseline: perRep.sshTrue },
    }),
    makeRow({
      id: 'remote.poll.api', issueRow: 6, name: NAMES.pollApi, metric: 'ms', value: median(perRep.pollApi), baseline: sshTrue, baselineName: SSH_TRUE,
      target: null, note: 'one poller round through the public API (as after a restart)',
      samples: { value: perRep.pollApi, baseline: perRep.sshTrue },
    }),
  ];
  return { rows, counts, details: { samples, warmup, reps: perRep.poll.length, connectMs, masterCheck, perRep } };
}

// ---------------------------------------------------------------- Vagrant: output read

interface OldWay {
  ms: number;
  callMs: number[];
  exit: number;
  stdout: Buffer;
  stderr: Buffer;
  lines: { stdout: number; stderr: number };
}

/** The old way: four `vagrant ssh -c` calls, one each for status, stdout, stderr, line counts. */
async function readOldWay(fx: VagrantFixture, runDir: string): Promise<OldWay> {
  const o = fx.options();
  const env = { ...process.env, ...o.env };
  const callMs: number[] = [];
  const call = async (command: string): Promise<Buffer> => {
    const r = await timed(() => exec(o.vagrantBin!, ['ssh', o.machine!, '--no-tty', '-c', command], { cwd: o.cwd, env }));
    callMs.push(r.ms);
    if (r.value.code !== 0) throw new Error(`vagrant ssh -c ${command} exited ${String(r.value.code)}: ${r.value.stderr.trim()}`);
    return r.value.stdout;
  };
  const dir = shq(runDir);
  const t0 = performance.now();
  const status = (await call(`cat ${dir}/exit 2>/dev/null || echo running`)).toString().trim();
  const stdout = await call(`cat ${dir}/out`);
  const stderr = await call(`cat ${dir}/err`);
  const wc = (await call(`wc -l < ${dir}/out; wc -l < ${dir}/err`)).toString().trim().split(/\s+/).map(Number);
  const ms = performance.now() - t0;
  return { ms, callMs, exit: Number(status), stdout, stderr, lines: { stdout: wc[0] ?? NaN, stderr: wc[1] ?? NaN } };
}

interface VagrantPart {
  rows: Row[];
  counts: Record<string, number>;
  details: Record<string, unknown>;
}

async function vagrantPart(sshd: Sshd, options: BenchOptions): Promise<VagrantPart> {
  const started = performance.now();
  const fx = vagrantFixture(sshd);
  appendFileSync(join(fx.cwd, 'Vagrantfile'), SSH_RUN_ACTION);
  const writer = new VagrantTransport(fx.options());
  const reader = new VagrantTransport(fx.options());
  const reps = repsOf(options, 5);
  const oldReps = options.quick ? 1 : Math.min(reps, 3);
  const ours: number[] = [];
  const old: number[] = [];
  const oldCallMs: number[] = [];
  const counts = { oursReads: 0, oldReads: 0, bytesRead: 0 };
  let setupMs = 0;
  try {
    // The reader's one-time cost: vagrant status + vagrant ssh-config, the master connection and
    // one round trip (list). Then every operation is one ssh call over the master.
    setupMs = (await timed(() => reader.list())).ms;
    await writer.list();
    if (reader.vagrantCalls !== 2) throw new Error(`the reader ran ${reader.vagrantCalls} vagrant processes to set up (expected 2)`);
    for (let rep = 0; rep < oldReps || keepGoing(rep, reps, started, VAGRANT_BUDGET_MS); rep++) {
      const h = await writer.start({ taskId: taskId(), attempt: 1, command: TASK, detached: false });
      const exit = await writer.wait(h);
      if (exit.exitCode !== TASK_EXIT) throw new Error(`fixture task exited ${JSON.stringify(exit)}`);

      // Ours: a handle the reader has not seen: one poll round trip, then two mirror reads.
      const r = await timed(async () => {
        const p = await reader.poll({ ...h });
        const out = await reader.read(h, 'stdout', 0, p.stdoutBytes);
        const err = await reader.read(h, 'stderr', 0, p.stderrBytes);
        return { p, out: out.data, err: err.data, lines: { stdout: countLines(out.data), stderr: countLines(err.data) } };
      });
      if (r.value.p.exit?.exitCode !== TASK_EXIT || r.value.lines.stdout !== TASK_LINES.stdout || r.value.lines.stderr !== TASK_LINES.stderr) {
        throw new Error(`VagrantTransport read: exit ${String(r.value.p.exit?.exitCode)}, lines ${JSON.stringify(r.value.lines)}`);
      }
      ours.push(r.ms);
      counts.oursReads++;
      counts.bytesRead += r.value.out.length + r.value.err.length;

      if (rep < oldReps) {
        const w = await readOldWay(fx, h.runDir!);
        if (w.exit !== TASK_EXIT || !w.stdout.equals(r.value.out) || !w.stderr.equals(r.value.err) || w.lines.stdout !== TASK_LINES.stdout || w.lines.stderr !== TASK_LINES.stderr) {
          throw new Error(`vagrant ssh -c read differs: exit ${w.exit}, lines ${JSON.stringify(w.lines)}, ${w.stdout.length}/${w.stderr.length} bytes`);
        }
        old.push(w.ms);
        oldCallMs.push(...w.callMs);
        counts.oldReads++;
      }
      await writer.cleanup(h);
      options.log(`remote read rep ${rep + 1}: VagrantTransport ${ours.at(-1)!.toFixed(1)} ms${rep < oldReps ? `, 4× vagrant ssh -c ${old.at(-1)!.toFixed(0)} ms` : ''}`);
    }
    if (reader.vagrantCalls !== 2) throw new Error(`the reader ran ${reader.vagrantCalls - 2} vagrant processes while reading`);
  } finally {
    await reader.close();
    await writer.close();
    fx.close();
  }
  const value = median(ours);
  const baseline = median(old);
  const row = makeRow({
    id: 'remote.read', issueRow: 6, name: NAMES.read, metric: 'ms', value, baseline, baselineName: '4× vagrant ssh -c',
    target: null,
    note: `${Math.round(baseline / value)}× faster; one vagrant ssh -c ≈ ${median(oldCallMs).toFixed(0)} ms; VagrantTransport's one-time status + ssh-config + connect ${setupMs.toFixed(0)} ms`,
    samples: { value: ours, baseline: old },
  });
  return { rows: [row], counts, details: { oursReps: ours.length, oldReps: old.length, setupMs, oldCallMs, task: TASK } };
}

// ---------------------------------------------------------------- entry point

export async function run(options: BenchOptions, parts: RemoteParts = {}): Promise<BenchResult> {
  const started = performance.now();
  const loadBefore = load1();
  const result = (rows: Row[], counts: Record<string, number>, details: Record<string, unknown>): BenchResult => ({
    id: 'remote', title: 'Remote', rows, counts, details, elapsedMs: performance.now() - started, load: { before: loadBefore, after: load1() },
  });
  const noSsh = sshUnavailable();
  if (noSsh !== undefined) {
    return result([
      skippedRow('remote.poll', NAMES.poll, 'ms', SSH_TRUE, noSsh),
      skippedRow('remote.start', NAMES.start, 'ms', SSH_TRUE, noSsh),
      skippedRow('remote.read', NAMES.read, 'ms', '4× vagrant ssh -c', noSsh),
    ], {}, { skipped: noSsh });
  }
  const sshd = await startSshd();
  try {
    const ssh = await sshPart(sshd, options, started);
    const noVagrant = parts.vagrant === false ? 'skipped: not run (smoke test)' : vagrantUnavailable();
    if (noVagrant !== undefined) {
      return result([...ssh.rows, skippedRow('remote.read', NAMES.read, 'ms', '4× vagrant ssh -c', noVagrant)], ssh.counts, { ssh: ssh.details });
    }
    const vagrant = await vagrantPart(sshd, options);
    return result([...ssh.rows, ...vagrant.rows], { ...ssh.counts, ...vagrant.counts }, { ssh: ssh.details, vagrant: vagrant.details });
  } finally {
    await sshd.close();
  }
}

// What the spawn helper costs per task, outside the benchmark table (docs/performance.md, "Local
// attempts"): `npx tsx bench/spawn-helper-cost.ts [tasks=300] [concurrency=8] [reps=3]` (Linux).
//
// Drives the helper directly through its wire protocol (no executor, no Node-side files), with
// `/bin/sh -c true` tasks, for attempts nobody will recover and for recoverable ones, interleaved
// with a bare Perl `fork` + `exec` + `waitpid` loop at the same concurrency: the least any Perl
// forker can cost here. Reports the minor page faults and CPU time per task of the helper and its
// forker (from /proc/<pid>/stat; the tasks themselves are not counted), and tasks per second.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseEnvFrame, encodeFrame, parseEvent, startFrame } from '../src/transports/spawn-helper/protocol.js';
import { HELPER_SCRIPT } from '../src/transports/spawn-helper/script.js';
import { median } from './lib/stats.js';

const tasks = Number(process.argv[2] ?? 300);
const concurrency = Number(process.argv[3] ?? 8);
const reps = Number(process.argv[4] ?? 3);
// Clock ticks of /proc/<pid>/stat: 100 per second on Linux.
const TICK_MS = 10;

interface Usage {
  faults: number;
  ticks: number;
}

function usageOf(pid: number): Usage {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the command: minflt is field 10, utime 14, stime 15 (1-based over the whole line).
  return { faults: Number(f[7]), ticks: Number(f[11]) + Number(f[12]) };
}

// The helper and its own direct children that are not tasks (its forker).
function helperUsage(pid: number, forker: number | undefined): Usage {
  const own = usageOf(pid);
  if (forker === undefined) return own;
  const f = usageOf(forker);
  return { faults: own.faults + f.faults, ticks: own.ticks + f.ticks };
}

interface Run {
  perSecond: number;
  faults: number;
  cpuMs: number;
}

function measured(n: number, ms: number, before: Usage, after: Usage): Run {
  return { perSecond: (n * 1000) / ms, faults: (after.faults - before.faults) / n, cpuMs: ((after.ticks - before.ticks) * TICK_MS) / n };
}

async function runHelper(recoverable: boolean): Promise<Run> {
  const root = mkdtempSync(join(tmpdir(), 'bgexec-helper-cost-'));
  const p = spawn('perl', ['-e', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'], env: {} });
  try {
    p.stdin.write(baseEnvFrame(process.env));
    let forker: number | undefined;
    let ready!: () => void;
    let done!: () => void;
    let failed!: (err: Error) => void;
    const readyP = new Promise<void>((r) => (ready = r));
    const doneP = new Promise<void>((r, j) => {
      done = r;
      failed = j;
    });
    let launched = 0;
    let ended = 0;
    const launch = (): void => {
      const serial = ++launched;
      const env = { BGEXEC_TASK_ID: `task-${serial}`, BGEXEC_ATTEMPT: '1' };
      const launchSpec = { runDir: join(root, `t${serial}`), cwd: tmpdir(), maxOutputBytes: undefined, env, argv: ['/bin/sh', '-c', 'true'] };
      p.stdin.write(startFrame(serial, recoverable ? launchSpec : { ...launchSpec, volatile: true }));
    };
    let buf = '';
    p.stdout.setEncoding('latin1');
    p.stdout.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = parseEvent(line);
        if (e === undefined) continue;
        if (e.kind === 'ready') {
          forker = e.forkerPid;
          ready();
        } else if (e.kind === 'failed') failed(new Error(`helper: ${line}`));
        // The executor's answer to an exit: reap it, nothing to keep.
        else if (e.kind === 'exited') p.stdin.write(encodeFrame(['R', String(e.serial), '0']));
        else if (e.kind === 'ended') {
          ended++;
          if (launched < tasks) launch();
          else if (ended === tasks) done();
        }
      }
    });
    await readyP;
    const before = helperUsage(p.pid!, forker);
    const t0 = performance.now();
    for (let i = 0; i < concurrency && i < tasks; i++) launch();
    await doneP;
    const ms = performance.now() - t0;
    return measured(tasks, ms, before, helperUsage(p.pid!, forker));
  } finally {
    p.stdin.end();
    if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
    rmSync(root, { recursive: true, force: true });
  }
}

const BARE_LOOP = String.raw`
use POSIX ();
my ($n, $c) = @ARGV; my $live = 0; my $go = <STDIN>;
for my $i (1 .. $n) {
  if ($live >= $c) { waitpid(-1, 0); $live-- }
  my $pid = fork();
  if ($pid == 0) { POSIX::setsid(); exec { '/bin/sh' } '/bin/sh', '-c', 'true'; POSIX::_exit(127) }
  $live++;
}
while ($live > 0) { waitpid(-1, 0); $live-- }
syswrite(STDOUT, "done\n"); my $end = <STDIN>;
`;

async function runBare(): Promise<Run> {
  const p = spawn('perl', ['-e', BARE_LOOP, String(tasks), String(concurrency)], { stdio: ['pipe', 'pipe', 'inherit'], env: {} });
  try {
    // Perl has compiled the loop once it waits on its stdin; its start-up is not counted.
    await new Promise((r) => setTimeout(r, 200));
    const before = usageOf(p.pid!);
    const t0 = performance.now();
    const finished = new Promise((r) => p.stdout.once('data', r));
    p.stdin.write('go\n');
    await finished;
    const ms = performance.now() - t0;
    return measured(tasks, ms, before, usageOf(p.pid!));
  } finally {
    p.stdin.end();
    if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
  }
}

const variants: Record<string, () => Promise<Run>> = {
  'helper, attempts nobody recovers': () => runHelper(false),
  'helper, recoverable attempts': () => runHelper(true),
  'bare Perl fork/exec/waitpid loop': runBare,
};
const runs: Record<string, Run[]> = {};
for (let rep = 0; rep < reps; rep++) {
  for (const [name, run] of Object.entries(variants)) (runs[name] ??= []).push(await run());
}
console.log(`${tasks} × /bin/sh -c true, concurrency ${concurrency}, ${reps} interleaved repetitions (medians); the tasks' own costs not counted`);
for (const [name, list] of Object.entries(runs)) {
  console.log(
    `${name.padEnd(34)} ${median(list.map((r) => r.perSecond)).toFixed(0).padStart(5)} tasks/s  ` +
      `${median(list.map((r) => r.faults)).toFixed(1).padStart(6)} faults/task  ${median(list.map((r) => r.cpuMs)).toFixed(2)} ms CPU/task`,
  );
}

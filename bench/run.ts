// `npm run bench [-- --quick] [--only throughput,scheduler] [--reps N] [--in-process] [--markdown]`
// `npm run bench -- --render` prints the last bench/results.json as a Markdown table (no run).
//
// Runs each benchmark (rows 1–6 of docs/performance.md) in its own Node process (node --expose-gc --import tsx), so
// heap and RSS figures are not polluted by the benchmark before, then prints one table and
// writes bench/results.json. `--child <id> --out <file>` is the mode those processes run in.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchEntry, BENCHMARKS, formatMarkdown, formatTable } from './lib/report.js';
import { machineInfo } from './lib/system.js';
import { type BenchOptions, type BenchResult, makeRow, type Row } from './lib/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

interface Args {
  quick: boolean;
  reps: number | undefined;
  only: string[] | undefined;
  inProcess: boolean;
  markdown: boolean;
  render: boolean;
  child: string | undefined;
  out: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, reps: undefined, only: undefined, inProcess: false, markdown: false, render: false, child: undefined, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--in-process') args.inProcess = true;
    else if (a === '--markdown') args.markdown = true;
    else if (a === '--render') args.render = true;
    else if (a === '--reps') args.reps = Number(value());
    else if (a === '--only') args.only = value().split(',');
    else if (a === '--child') args.child = value();
    else if (a === '--out') args.out = value();
    else throw new Error(`unknown argument ${a} (known: --quick, --reps N, --only a,b, --in-process, --markdown, --render)`);
  }
  return args;
}

const log = (line: string): void => void process.stderr.write(`  ${line}\n`);

function optionsOf(args: Args): BenchOptions {
  return { quick: args.quick, log, ...(args.reps !== undefined ? { reps: args.reps } : {}) };
}

/** Runs one benchmark in a fresh `node --expose-gc --import tsx` process. */
function runInChild(entry: BenchEntry, args: Args): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bgexec-bench-result-'));
  const out = join(dir, 'result.json');
  const childArgs = ['--expose-gc', '--import', 'tsx', join(here, 'run.ts'), '--child', entry.id, '--out', out];
  if (args.quick) childArgs.push('--quick');
  if (args.reps !== undefined) childArgs.push('--reps', String(args.reps));
  return new Promise<BenchResult>((resolve, reject) => {
    const child = spawn(process.execPath, childArgs, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      try {
        if (code !== 0) throw new Error(`benchmark ${entry.id} exited ${code ?? signal}`);
        resolve(JSON.parse(readFileSync(out, 'utf8')) as BenchResult);
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

function errorRow(entry: BenchEntry, err: unknown): Row {
  const row = makeRow({
    id: `${entry.id}.error`,
    issueRow: BENCHMARKS.indexOf(entry) + 1,
    name: entry.title,
    metric: '–',
    value: null,
    baseline: null,
    baselineName: '',
    target: null,
    note: `error: ${err instanceof Error ? err.message : String(err)}`,
  });
  return { ...row, status: 'error' };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child !== undefined) {
    const entry = BENCHMARKS.find((b) => b.id === args.child);
    if (!entry || args.out === undefined) throw new Error(`--child needs a known id and --out (got ${args.child})`);
    writeFileSync(args.out, JSON.stringify(await entry.run(optionsOf(args))));
    return;
  }
  const file = join(here, 'results.json');
  if (args.render) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { machine: ReturnType<typeof machineInfo>; rows: Row[] };
    const m = saved.machine;
    console.log(`${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, node ${m.node}, /bin/sh → ${m.binSh}, ${m.date}\n`);
    console.log(formatMarkdown(saved.rows));
    return;
  }
  const machine = machineInfo();
  const started = performance.now();
  const selected = BENCHMARKS.filter((b) => args.only === undefined || args.only.includes(b.id));
  if (selected.length === 0) throw new Error(`--only matched nothing (ids: ${BENCHMARKS.map((b) => b.id).join(', ')})`);
  console.error(`bgexec bench${args.quick ? ' (quick)' : ''}: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, /bin/sh → ${machine.binSh}, load ${machine.loadAverage1m}`);
  const results: BenchResult[] = [];
  const rows: Row[] = [];
  for (const entry of selected) {
    console.error(`\n${entry.title}`);
    try {
      const result = args.inProcess ? await entry.run(optionsOf(args)) : await runInChild(entry, args);
      results.push(result);
      rows.push(...result.rows);
      console.error(`  (${(result.elapsedMs / 1000).toFixed(1)} s, load ${result.load.before} → ${result.load.after})`);
    } catch (err) {
      console.error(`  FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      rows.push(errorRow(entry, err));
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`\n${args.markdown ? formatMarkdown(rows) : formatTable(rows)}\n`);
  console.log(`total ${totalSeconds.toFixed(0)} s${args.quick ? ' (quick: sizes are tiny, ratios mean little)' : ''}`);
  const report = { machine, quick: args.quick, totalSeconds, rows, benchmarks: results };
  // Quick and partial runs do not replace the results of the last full run.
  const partial = args.quick || args.only !== undefined || args.reps !== undefined;
  const out = partial ? join(here, 'results.partial.json') : file;
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
  if (rows.some((r) => r.status === 'error')) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

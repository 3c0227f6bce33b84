// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time.
// Usage: npx tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top=25]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's share of the profile. */
export interface SelfTime {
  fn: string;
  where: string;
  selfMs: number;
  percent: number;
}

function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const i = path.indexOf('/node_modules/');
  if (i >= 0) return path.slice(i + 1);
  const j = path.lastIndexOf('/src/');
  if (j >= 0) return path.slice(j + 1);
  const k = path.lastIndexOf('/bench/');
  return k >= 0 ? path.slice(k + 1) : path || '(native)';
}

/** Self time per function (summed over its call sites), highest first. */
export function topSelfTime(profile: CpuProfile, top = 25): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    // A sample's duration is the delta to the next sample.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const total = profile.endTime - profile.startTime;
  const byFn = new Map<string, SelfTime>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const fn = frame.functionName || '(anonymous)';
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${fn}@${where}`;
    const entry = byFn.get(key) ?? { fn, where, selfMs: 0, percent: 0 };
    entry.selfMs += us / 1000;
    byFn.set(key, entry);
  }
  const list = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const e of list) e.percent = total > 0 ? (100 * e.selfMs * 1000) / total : 0;
  return list;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const rows = topSelfTime(profile, Number(process.argv[3] ?? 25));
  console.log(`total ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms`);
  for (const r of rows) console.log(`${r.selfMs.toFixed(1).padStart(9)} ms ${r.percent.toFixed(1).padStart(5)}%  ${r.fn}  ${r.where}`);
}

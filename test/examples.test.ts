// Runs the agent-framework examples as child processes, the way a reader would; execFile rejects
// on a non-zero exit code, so each test also checks the example exits 0.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

async function runExample(file: string): Promise<string> {
  // `node --import tsx` is what `npx tsx` runs, without the npx start-up.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, timeout: 30_000 });
  return stdout;
}

describe('examples', () => {
  it('quickstart.ts (npm run demo) runs real tasks: priorities, a retry, a timeout, output reads', async () => {
    const out = await runExample('quickstart.ts');
    const started = [...out.matchAll(/started {3}sleep 0\.[23]; echo (.+?) \(attempt/g)].map((m) => m[1]);
    expect(started.slice(0, 2)).toEqual(['high priority', 'migrated']);
    expect(out).toMatch(/retrying {2}attempt 1 exited 1; next in 100 ms/);
    expect(out).toMatch(/completed attempts=3 exit=0 echo x/);
    expect(out).toMatch(/timed_out attempts=1 exit=SIGTERM sleep 100 & sleep 100 & wait/);
    expect(out).toMatch(/last 3 lines: "99998\\n99999\\n100000\\n"/);
  });

  it('openai-tools.ts exits 0 after a tool-call loop that ends with the answer', async () => {
    const out = await runExample('openai-tools.ts');
    expect(out).toMatch(/^tools: bg_start, bg_read, bg_wait, bg_kill, bg_list$/m);
    expect(out).toMatch(/assistant → bg_start\(/);
    expect(out).toMatch(/"error":"invalid_input","message":"bg_wait: task_ids must be an array/);
    expect(out).toMatch(/"outcome":"exited".*"status":"completed","exit_code":0/);
    expect(out).toMatch(/^assistant: The test suite finished: 3 passed\.$/m);
  });

  it('vercel-ai-tools.ts exits 0 after start → pattern wait → kill → aborted wait → notice', async () => {
    const out = await runExample('vercel-ai-tools.ts');
    expect(out).toMatch(/^tools: bg_start, bg_read, bg_wait, bg_kill, bg_list$/m);
    expect(out).toMatch(/"outcome":"matched".*"match":"listening on http:\/\/localhost:4321"/);
    expect(out).toMatch(/\(server ready: true\)/);
    expect(out).toMatch(/"status":"cancelled"/);
    expect(out).toMatch(/tool {2}✗ ABORTED bg_wait aborted/);
    expect(out).toMatch(/Background task \S+ finished: completed \(exit code 0\) after \d+ ms\.\n\$ sleep 0\.5; echo slow done\nlast lines of stdout:\nslow done/);
  });

  it('agent-transcript.ts exits 0 after start → read → wait → read, each within the 1024-byte budget', async () => {
    const out = await runExample('agent-transcript.ts');
    const calls = out.match(/^→ (bg_\w+)/gm);
    expect(calls).toEqual(['→ bg_start', '→ bg_read', '→ bg_wait', '→ bg_read']);
    expect(out).toMatch(/\[… \d+ bytes omitted; next_cursor=\d+\]/);
    expect(out).toMatch(/"outcome": "exited"/);
    expect(out).toMatch(/"lines_filtered": 400/);
    for (const m of out.matchAll(/"text": ("(?:[^"\\]|\\.)*")/g)) {
      expect(Buffer.byteLength(JSON.parse(m[1]!) as string)).toBeLessThanOrEqual(1024 + 64);
    }
  });
});

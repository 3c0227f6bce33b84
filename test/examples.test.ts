// Runs every example as a child process, the way a reader would, and checks what it prints.
// The examples import `bgexec` by package name; here examples/tsconfig.json maps those names to
// the sources (tsx honours `paths`), so the examples run against the code under test without a
// build. execFile rejects on a non-zero exit code, so each test also checks the example exits 0.
// examples/mcp-server.ts is driven by an MCP client in test/agent/mcp-e2e.test.ts.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const env = { ...process.env, TSX_TSCONFIG_PATH: 'examples/tsconfig.json' };

async function runExample(file: string): Promise<string> {
  // `node --import tsx` is what `npx tsx` runs, without the npx start-up.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', `examples/${file}`], { cwd: root, env, timeout: 30_000 });
  return stdout;
}

describe('examples', () => {
  it('import bgexec only by its package name, through entry points package.json exports', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { exports: Record<string, unknown> };
    const files = readdirSync(`${root}/examples`).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      const src = readFileSync(`${root}/examples/${f}`, 'utf8');
      expect(src, f).not.toMatch(/from '\.\.?\//); // nothing relative: a copy works in any project
      for (const m of src.matchAll(/from '(bgexec(?:\/[\w-]+)?)'/g)) {
        expect(Object.keys(pkg.exports), `${f}: ${m[1]}`).toContain(m[1] === 'bgexec' ? '.' : `./${m[1]!.slice(7)}`);
      }
    }
  });

  it('quickstart.ts (npm run demo) explains itself: legend, whole commands, the group cap, the dead tree', async () => {
    const out = await runExample('quickstart.ts');
    expect(out.split('\n')[0]).toBe('legend: <ms since start>  <event>  <task>  p<priority> [group]  $ <command>');
    const started = [...out.matchAll(/^ *\d+ ms {2}started {4}(\w+)/gm)].map((m) => m[1]);
    // high and migrate are dispatched together (concurrency 2), so their starts may be reported in
    // either order; low comes only once one of them has ended.
    expect([...started.slice(0, 2)].sort()).toEqual(['high', 'migrate']);
    expect(started[2]).toBe('low');
    // The priority-0 task that starts before the priority-5 one says why.
    expect(out).toMatch(/started {4}low {6}p0 {2}\$ sleep 0\.2; echo low priority\n *↳ why {6}backup \(p5\) waits: group "db" is at its cap of 1 \(migrate running\)/);
    // Commands are printed whole, each on one line here (they fit in the width).
    expect(out).toContain('$ echo x >> tries; n=$(wc -l < tries); echo "try $n"; [ $n -ge 3 ]\n');
    expect(out).toContain('$ sleep 100 & a=$!; sleep 100 & echo "pids $$ $a $!"; wait\n');
    expect(out).toMatch(/retrying {3}flaky {4}attempt 1 exited 1; attempt 2 in 100 ms/);
    expect(out).toMatch(/timed_out {2}stuck {4}killed by its 300 ms timeout \(SIGTERM\)/);
    expect(out).toMatch(/^ {2}flaky {4}completed {2}attempts=3 exit=0$/m);
    expect(out).toMatch(/^ {2}stuck {4}timed_out {2}attempts=1 exit=SIGTERM$/m);
    // Three pids (shell and two sleeps), none of them running any more.
    expect(out).toMatch(/^stuck after its timeout: shell \d+ (gone|zombie); sleeps \d+ (gone|zombie), \d+ (gone|zombie)$/m);
    expect(out).toMatch(/^stuck: the whole tree is dead/m);
    expect(out).toMatch(/noisy: 588895 bytes on disk; first 20 bytes: "1\\n2\\n3\\n4\\n5\\n6\\n7\\n8\\n9\\n10", next cursor 20/);
    expect(out).toMatch(/last 3 lines: "99998\\n99999\\n100000\\n"/);
    expect(out).toContain('flaky: stdout of its last attempt: "try 3\\n"');
  });

  it('openai-tools.ts: the openai client (offline fetch) drives a strict tool-call loop that ends with the answer', async () => {
    const out = await runExample('openai-tools.ts');
    expect(out).toMatch(/^tools: bg_start, bg_read, bg_wait, bg_kill, bg_list, bg_write$/m);
    // The SDK serialized the tools into the request body, every one strict.
    expect(out).toMatch(/^request: model=gpt-4\.1-mini, tools=bg_start\(strict\),bg_read\(strict\),bg_wait\(strict\),bg_kill\(strict\),bg_list\(strict\),bg_write\(strict\)$/m);
    // Strict arguments: every property, null where not chosen, timeout_ms 0 for "no timeout".
    expect(out).toMatch(/assistant → bg_start\(\{"command":"for i in 1 2 3;.*"cwd":null,"env":null,"timeout_ms":0,"priority":null,"wait_ms":100,"stdin":null,"tty":null\}\)/);
    // The output reaches the model as plain text under a header, after the status line.
    expect(out).toMatch(/"status":"completed","exit_code":0.*\n--- stdout, bytes 0\.\.\d+ of \d+ ---\nnode v\d+/);
    expect(out).toMatch(/"error":"unknown_task","message":"No task with id \\"no-such-task\\"/);
    // The suite was not killed by a 0 ms timeout: it ran to its end.
    expect(out).toMatch(/"outcome":"exited".*"status":"completed","exit_code":0/);
    expect(out).toMatch(/^assistant: The test suite finished: 3 passed\.$/m);
  });

  it('openai-agents-tools.ts: Agents SDK tools in strict mode, run() with a scripted model', async () => {
    const out = await runExample('openai-agents-tools.ts');
    expect(out).toMatch(/^tools sent to the model: bg_start \(strict\), bg_read \(strict\), bg_wait \(strict\), bg_kill \(strict\), bg_list \(strict\), bg_write \(strict\)$/m);
    expect(out.match(/^model → (bg_\w+)/gm)).toEqual(['model → bg_start', 'model → bg_wait', 'model → bg_read']);
    expect(out).toMatch(/^tool {2}← \{"ok":true,"outcome":"exited".*"status":"completed","exit_code":0/m);
    expect(out).toMatch(/"tail":\{"lines_requested":1,"lines_available":1,"lines_shown":1\}/);
    expect(out).toMatch(/^final output: The tests finished: 3 passed$/m);
  });

  it('vercel-ai-tools.ts: tools built with ai tool()/jsonSchema() run directly and inside generateText', async () => {
    const out = await runExample('vercel-ai-tools.ts');
    expect(out).toMatch(/^tools: bg_start, bg_read, bg_wait, bg_kill, bg_list, bg_write$/m);
    expect(out).toMatch(/^bg_wait input schema: \["task_ids","timeout_ms"\] required$/m);
    expect(out).toMatch(/"outcome":"matched".*"match":"listening on http:\/\/localhost:4321"/);
    expect(out).toMatch(/\(server ready: true\)/);
    expect(out).toMatch(/"status":"cancelled"/);
    // The aborted wait rejects (the SDK reports it as a tool error); the task itself goes on.
    expect(out).toMatch(/^tool {2}✗ AbortError: .*abort/m);
    expect(out).toMatch(/\(the task went on after the aborted wait: completed\)/);
    expect(out).toMatch(/Background task \S+ finished: completed \(exit code 0\) after \d+ ms\.\n\$ sleep 0\.5; echo slow done\nlast lines of stdout:\nslow done/);
    // generateText ran bg_start → bg_wait → bg_read itself and fed each result back to the model.
    expect(out).toContain('step 1: tool call bg_start({"command":"echo \\"6 tests\\"; sleep 0.3; echo \\"0 failures\\"","wait_ms":0})');
    expect(out).toMatch(/^ {2}step 1: tool result \{"ok":true,"task_id":"[\w-]+","status":"running"/m);
    expect(out).toMatch(/^ {2}step 2: tool call bg_wait\(/m);
    expect(out).toMatch(/^ {2}step 2: tool result \{"ok":true,"outcome":"exited","task_id":"[\w-]+","status":"completed","exit_code":0/m);
    expect(out).toMatch(/^ {2}step 3: tool call bg_read\(\{"task_id":"[\w-]+","cursor":0\}\)$/m);
    // The real output, read from the plain-text content item the model was given.
    expect(out).toMatch(/^ {2}answer: The tests printed: 6 tests, 0 failures$/m);
  });

  it('agent-transcript.ts: start → read → wait → read, each within the 1024-byte budget', async () => {
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

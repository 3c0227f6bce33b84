import { afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { completionNotices, createAgentTools, type AgentToolName, type AgentToolsOptions } from '../../src/agent/index.js';
import { charCost } from '../../src/agent/readable.js';
import { byName, call, realSetup, type Tools } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});

const BUDGET = 16_384;
const LIMIT = Math.floor(BUDGET * 1.1);
const LINES = 'seq 1 20000 | sed "s/^/line /"';
const CASES: Record<string, string> = {
  '20,000 lines': LINES,
  'ANSI-coloured output': `awk 'BEGIN { for (i = 1; i <= 3000; i++) printf "\\033[1;32mPASS\\033[0m \\033[2mtest/suite-%d.test.ts\\033[0m \\033[33m(%d ms)\\033[0m\\n", i, i }'`,
  '2 MB of control bytes': "head -c 2000000 /dev/zero | tr '\\000' '\\001'",
};

/** Calls a tool the way a client hands its result to the model, asserting both forms stay within the budget. */
async function within(tools: Tools, name: AgentToolName, input: unknown): Promise<Record<string, any>> {
  const out = await tools[name].call(input);
  expect(out.text.length, `${name} ${JSON.stringify(input)}: plain-text form`).toBeLessThanOrEqual(LIMIT);
  expect(JSON.stringify(out.result).length, `${name} ${JSON.stringify(input)}: JSON form`).toBeLessThanOrEqual(LIMIT);
  return out.result as unknown as Record<string, any>;
}

describe('the budget counts the characters the model receives', () => {
  for (const [label, command] of Object.entries(CASES)) {
    it(`keeps every tool's result within 1.1× the budget: ${label}`, async () => {
      const options: AgentToolsOptions = { maxOutputChars: BUDGET, appendNotices: true };
      const s = await realSetup(options);
      ex = s.ex;
      const fresh = (): Tools => byName(createAgentTools(s.ex, options));
      // Tasks that end outside the tools leave completion notices, appended to the next calls.
      const others = await Promise.all([s.ex.submit({ command }), s.ex.submit({ command })]);
      await Promise.all(others.map((t) => s.ex.wait(t.id)));
      const start = await within(s.tools, 'bg_start', { command, wait_ms: 20_000 });
      expect(start.status).toBe('completed');
      const id = start.task_id as string;
      await within(fresh(), 'bg_wait', { task_ids: [id], timeout_ms: 1000 });
      await within(fresh(), 'bg_read', { task_id: id });
      await within(fresh(), 'bg_read', { task_id: id, raw: true });
      await within(fresh(), 'bg_read', { task_id: id, tail_lines: 10_000 });
      await within(fresh(), 'bg_read', { task_id: id, grep: '.' });
      await within(s.tools, 'bg_list', { limit: 100 });
      await within(s.tools, 'bg_kill', { task_id: id });
      // The notices were delivered within those budgets.
      expect(s.ex.completions()).toHaveLength(0);
    });
  }

  it('completion notices keep to their character budget, readable', async () => {
    const s = await realSetup();
    ex = s.ex;
    const tasks = await Promise.all(Object.values(CASES).map((command) => s.ex.submit({ command })));
    await Promise.all(tasks.map((t) => s.ex.wait(t.id)));
    const n = await completionNotices(s.ex, undefined, { maxChars: 700, ack: false });
    expect(charCost(n.text)).toBeLessThanOrEqual(700);
    expect(n.text).not.toContain('\x1b');
    expect(n.ids.length + n.remaining).toBe(3);
    expect(n.ids.length).toBeGreaterThan(0);
  });

  it('tail reads start at a line boundary and say how many of the requested lines fit', async () => {
    const s = await realSetup({ maxOutputChars: BUDGET });
    ex = s.ex;
    const start = await call(s.tools, 'bg_start', { command: LINES, wait_ms: 20_000 });
    const r = await within(s.tools, 'bg_read', { task_id: start.task_id, tail_lines: 10_000 });
    const shown = r.text.split('\n').slice(0, -1);
    expect(shown[0]).toMatch(/^line \d+$/);
    expect(shown[shown.length - 1]).toBe('line 20000');
    expect(r.tail).toEqual({ lines_requested: 10_000, lines_available: 10_000, lines_shown: shown.length });
    expect(shown.length).toBeLessThan(10_000);
    expect(r.hint).toMatch(new RegExp(`^Showing the last ${shown.length} of 10000 requested lines: no more fit the budget`));
    const before = await s.ex.readOutput(start.task_id, { cursor: r.cursor - 1, maxBytes: 1 });
    expect(before.text).toBe('\n');
    expect(r.next_cursor).toBe(r.total_bytes);
  });

  it('paging to the end sends each byte once: no repeated tail preview', async () => {
    const s = await realSetup({ maxOutputChars: BUDGET });
    ex = s.ex;
    const first = await s.tools.bg_start.call({ command: LINES, wait_ms: 20_000 });
    const start = first.result as unknown as Record<string, any>;
    const full = (await s.ex.readOutput(start.task_id, { maxBytes: 2_000_000 })).text;
    const view = start.stdout;
    expect(view.truncated).toBe(true);
    const [head, tail] = view.text.split(/\[… \d+ bytes omitted; next_cursor=\d+\]\n/) as [string, string];
    let text = head;
    let sent = first.text.length;
    let calls = 0;
    for (; calls < 200; calls++) {
      const out = await s.tools.bg_read.call({ task_id: start.task_id });
      sent += out.text.length;
      const r = out.result as unknown as Record<string, any>;
      expect(r.text).not.toContain('line 20000\n');
      text += r.skipped_bytes ? r.text.slice(0, r.text.indexOf('[… ')) : r.text;
      if (r.eof) break;
    }
    expect(text + tail).toBe(full);
    // What the model received, in all, is hardly more than the output itself.
    expect(sent).toBeLessThan(full.length * 1.1);
    expect(calls).toBeLessThan(Math.ceil(full.length / (BUDGET * 0.8)));
  });

  it('two concurrent reads without a cursor never return the same bytes', async () => {
    const s = await realSetup({ maxOutputChars: 1024 });
    ex = s.ex;
    const t = await s.ex.submit({ command: 'seq 1 50000' });
    await s.ex.wait(t.id);
    const tools = byName(createAgentTools(s.ex, { maxOutputChars: 1024 }));
    let expected = 0;
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([call(tools, 'bg_read', { task_id: t.id }), call(tools, 'bg_read', { task_id: t.id })]);
      const [first, second] = a.cursor <= b.cursor ? [a, b] : [b, a];
      expect(first.cursor).toBe(expected);
      expect(first.next_cursor).toBeGreaterThan(first.cursor);
      expect(second.cursor).toBe(first.next_cursor);
      expect(second.text).not.toBe(first.text);
      expected = second.next_cursor;
    }
  });
});

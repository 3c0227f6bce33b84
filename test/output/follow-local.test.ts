// follow() over LocalTransport with real processes: byte-exact output in default-size chunks,
// live growth gated on a FIFO, attempts, a start cursor, and no descriptor left open.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { DEFAULT_FOLLOW_BYTES, type OutputChunk } from '../../src/output/task-output.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { LocalTransport } from '../../src/transports/local.js';
import { eventually } from '../proc.js';

let dir: string;
let ex: BackgroundExecutor;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bgexec-follow-'));
  ex = new BackgroundExecutor({
    transports: { local: new LocalTransport({ root: join(dir, 'runs') }) },
    scheduler: new PriorityScheduler({ concurrency: 2 }),
  });
});

afterEach(async () => {
  await ex.shutdown({ mode: 'kill', graceMs: 100 });
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Descriptors of this process open for reading only on a file under `root` (the executor's
 * own descriptors that write output into run directories are not a reader's).
 */
function openUnder(root: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) continue;
      const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
      if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) n++;
    } catch {
      // Closed while listing.
    }
  }
  return n;
}

/** About `n` bytes of mixed 1–4 byte characters and newlines, not aligned to any chunk size. */
function mixedText(n: number): string {
  const parts = ['a', 'é', '€', '😀', 'line\n', '中文', 'ß'];
  const out: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < n; i++) {
    const p = parts[(i * 5 + (i >> 4)) % parts.length]!;
    out.push(p);
    bytes += Buffer.byteLength(p);
  }
  return out.join('');
}

function checkChunks(chunks: OutputChunk[], attempt: number, from: number): string {
  let cursor = from;
  for (const c of chunks) {
    expect(c.attempt).toBe(attempt);
    expect(c.cursor).toBe(cursor);
    expect(c.nextCursor - c.cursor).toBe(Buffer.byteLength(c.text));
    expect(c.nextCursor - c.cursor).toBeLessThanOrEqual(DEFAULT_FOLLOW_BYTES);
    cursor = c.nextCursor;
  }
  return chunks.map((c) => c.text).join('');
}

describe('follow() over LocalTransport', () => {
  it('yields every byte in chunks of at most 64 KiB, through every attempt, and closes what it opened', async () => {
    const text = mixedText(2_500_000);
    const file = join(dir, 'text');
    writeFileSync(file, text);
    const t = await ex.submit({
      command: `cat '${file}'; exit 1`,
      retry: { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } },
    });
    const chunks: OutputChunk[] = [];
    for await (const c of ex.follow(t.id)) chunks.push(c);
    expect(DEFAULT_FOLLOW_BYTES).toBe(65_536);
    expect(checkChunks(chunks.filter((c) => c.attempt === 1), 1, 0)).toBe(text);
    expect(checkChunks(chunks.filter((c) => c.attempt === 2), 2, 0)).toBe(text);
    expect((await ex.wait(t.id)).status).toBe('failed');
    expect(await eventually(() => openUnder(join(dir, 'runs')) === 0, 5000)).toBe(true);
  });

  it('starts at a cursor, and an explicit maxBytes still caps the chunks', async () => {
    const text = mixedText(300_000);
    const file = join(dir, 'text');
    writeFileSync(file, text);
    const t = await ex.submit({ command: `cat '${file}'` });
    await ex.wait(t.id);
    const from = Buffer.byteLength(text.slice(0, 1000));
    const chunks: OutputChunk[] = [];
    for await (const c of ex.follow(t.id, { cursor: from, maxBytes: 1000 })) chunks.push(c);
    expect(chunks.map((c) => c.text).join('')).toBe(text.slice(1000));
    expect(chunks[0]!.cursor).toBe(from);
    for (const c of chunks) expect(c.nextCursor - c.cursor).toBeLessThanOrEqual(1000);
  });

  it('reads output as it grows (gated on a FIFO), a character split between writes included', async () => {
    const fifo = join(dir, 'gate');
    execFileSync('mkfifo', [fifo]);
    // '€' is e2 82 ac: the first write ends inside it, the rest comes after the gate opens.
    const t = await ex.submit({ command: `printf 'first \\342\\202'; read x < '${fifo}'; printf '\\254 second'` });
    const it = ex.follow(t.id)[Symbol.asyncIterator]();
    // Until the gate opens the file holds 'first ' and two bytes of '€', which stay held back.
    let before = '';
    let cursor = 0;
    for (let i = 0; i < 10 && before !== 'first '; i++) {
      const r = await it.next();
      expect(r.done).toBe(false);
      before += (r.value as OutputChunk).text;
      cursor = (r.value as OutputChunk).nextCursor;
    }
    expect(before).toBe('first ');
    expect(cursor).toBe(6);
    writeFileSync(fifo, 'go\n');
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value.text);
    expect(rest.join('')).toBe('€ second');
    expect(await eventually(() => openUnder(join(dir, 'runs')) === 0, 5000)).toBe(true);
  });

  it('a follower that stops early closes the output file', async () => {
    const fifo = join(dir, 'gate');
    execFileSync('mkfifo', [fifo]);
    const t = await ex.submit({ command: `printf 'x%.0s' $(seq 1 100000); read x < '${fifo}'` });
    for await (const c of ex.follow(t.id)) {
      expect(c.text.length).toBeGreaterThan(0);
      expect(openUnder(join(dir, 'runs'))).toBe(1);
      break;
    }
    expect(await eventually(() => openUnder(join(dir, 'runs')) === 0, 5000)).toBe(true);
    writeFileSync(fifo, 'go\n');
    expect((await ex.wait(t.id)).status).toBe('completed');
  });
});

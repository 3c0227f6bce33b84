// Following next_cursor visits every byte exactly once, whatever the bytes: escapes, `\r`,
// control bytes, multi-byte characters, invalid UTF-8, lines longer than the budget. Real
// processes (`cat` of a generated file) through a real executor; a fixed seed keeps runs equal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackgroundExecutor } from '../../src/executor.js';
import { charCost } from '../../src/agent/readable.js';
import { call, realSetup } from './_helpers.js';

let ex: BackgroundExecutor | undefined;
afterEach(async () => {
  await ex?.shutdown();
  ex = undefined;
});
const dir = mkdtempSync(join(tmpdir(), 'bgexec-paging-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PIECES = ['\n', '\r', '\r\n', '\x1b[31m', '\x1b[0m', '\x1b]0;t\x07', '\x01', '\x00', '\t', 'é', '€', '😀', 'word ', 'x'.repeat(700)];
const piece = fc.oneof(
  fc.constantFrom(...PIECES).map((p) => Buffer.from(p)),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => Buffer.from(a)), // anything, invalid UTF-8 included
);
const output = fc.array(piece, { minLength: 100, maxLength: 400 }).map((parts) => Buffer.concat(parts));

describe('paging by next_cursor', () => {
  it('is contiguous, ends at the end, and keeps each page within its budget (readable and raw)', async () => {
    const s = await realSetup({ maxOutputChars: 1024 });
    ex = s.ex;
    const samples = fc.sample(output, { seed: 1111, numRuns: 12 });
    for (const [i, bytes] of samples.entries()) {
      const file = join(dir, `out-${i}`);
      writeFileSync(file, bytes);
      const t = await s.ex.submit({ command: `cat '${file}'` });
      await s.ex.wait(t.id);
      for (const raw of [false, true]) {
        let cursor = 0;
        let pages = 0;
        let rawText = '';
        for (; pages < 2000; pages++) {
          const r = await call(s.tools, 'bg_read', { task_id: t.id, cursor, max_chars: 300, raw });
          expect(r.ok).toBe(true);
          expect(r.cursor).toBe(cursor);
          expect(charCost(r.text)).toBeLessThanOrEqual(300);
          expect(r.next_cursor).toBeGreaterThan(cursor);
          rawText += r.text;
          cursor = r.next_cursor;
          if (r.eof) break;
        }
        expect(cursor, `sample ${i}, raw=${raw}`).toBe(bytes.length);
        expect(pages).toBeGreaterThan(0);
        // Valid UTF-8 pages back to exactly the output.
        if (raw && Buffer.from(bytes.toString('utf8')).equals(bytes)) expect(rawText).toBe(bytes.toString('utf8'));
      }
    }
  });
});

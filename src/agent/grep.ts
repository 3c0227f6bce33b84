import { byteCursorAfter, linesUpTo, shape, type Shaping } from './page.js';
import { matchingLines } from './pattern.js';
import { charCost } from './readable.js';
import type { AgentExecutor } from './types.js';

/** Most bytes one grep read scans (the cursor stops there; the next read goes on). */
export const GREP_SCAN_BYTES = 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;
/** Result of {@link grepRead}. */
export interface GrepRead {
  text: string;
  attempt: number;
  cursor: number;
  nextCursor: number;
  totalBytes: number;
  eof: boolean;
  linesRead: number;
  linesMatched: number;
}

/**
 * Reads whole lines from `cursor` and keeps those matching `re` (matched on the text as shown,
 * see `how`), up to `budget` characters of matches or {@link GREP_SCAN_BYTES} scanned. The cursor advances over every line read,
 * matched or not, and stops before a matching line that no longer fits, so nothing that
 * matches is ever skipped. A partial last line waits for its newline while the task runs.
 */
export async function grepRead(
  ex: AgentExecutor,
  id: string,
  stream: 'stdout' | 'stderr',
  cursor: number,
  budget: number,
  re: RegExp,
  how: Shaping = { readable: false },
): Promise<GrepRead> {
  const shown: string[] = [];
  let shownChars = 0;
  let linesRead = 0;
  let linesMatched = 0;
  let pos = cursor;
  let attempt: number | undefined;
  let totalBytes = 0;
  let eof = false;
  let full = false;
  while (!full && pos - cursor < GREP_SCAN_BYTES) {
    const r = await ex.readOutput(id, { stream, cursor: pos, maxBytes: CHUNK_BYTES, ...(attempt === undefined ? {} : { attempt }) });
    attempt = r.attempt;
    totalBytes = r.totalBytes;
    eof = r.eof;
    if (r.nextCursor <= pos) break;
    const text = r.text;
    // Complete lines only, unless the stream is final or one line fills the whole chunk.
    let end = text.lastIndexOf('\n') + 1;
    if (r.eof || (end === 0 && r.nextCursor - pos >= CHUNK_BYTES)) end = text.length;
    if (end === 0) break;
    const lines = [...linesUpTo(text, end)].map(({ line, end: lineEnd }) => ({ lineEnd, body: shape(line.endsWith('\n') ? line.slice(0, -1) : line, how) }));
    // The whole chunk in one batch: the time limit is per batch (see matchingLines).
    const matched = new Set(matchingLines(re, lines.map((l) => l.body)));
    let consumed = 0;
    for (const [i, { lineEnd, body }] of lines.entries()) {
      if (matched.has(i)) {
        let piece = `${body}\n`;
        const size = charCost(piece);
        if (shownChars + size > budget) {
          if (linesMatched > 0) {
            full = true;
            break;
          }
          let cut = body.slice(0, Math.max(1, budget - 40));
          while (charCost(cut) > budget - 40 && cut.length > 1) cut = cut.slice(0, Math.ceil(cut.length / 2));
          piece = `${cut} [… line cut to the budget]\n`;
        }
        shown.push(piece);
        shownChars += charCost(piece);
        linesMatched++;
      }
      linesRead++;
      consumed = lineEnd;
    }
    pos = await byteCursorAfter(ex, id, r, consumed);
    if (pos >= r.totalBytes || consumed < text.length) break;
  }
  if (attempt === undefined) attempt = 0;
  return {
    text: shown.join(''),
    attempt,
    cursor,
    nextCursor: pos,
    totalBytes: Math.max(totalBytes, pos),
    eof: eof && pos >= totalBytes,
    linesRead,
    linesMatched,
  };
}

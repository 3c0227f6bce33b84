import { byteCursorAfter, linesUpTo, shape, type Shaping } from './page.js';
import { charCost } from './readable.js';
import type { AgentExecutor } from './types.js';

/** Most bytes one grep read scans (the cursor stops there; the next read goes on). */
export const GREP_SCAN_BYTES = 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;
/** Longest part of one line a regular expression is run on. */
export const MAX_MATCH_CHARS = 64 * 1024;

/**
 * Compiles a model-supplied regular expression. A leading `(?i)` means case-insensitive
 * (JavaScript has no inline flags). Returns an error message for an invalid one.
 */
export function compilePattern(source: string): RegExp | string {
  let flags = '';
  let body = source;
  if (body.startsWith('(?i)')) {
    flags = 'i';
    body = body.slice(4);
  }
  try {
    return new RegExp(body, flags);
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(source)}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Whether a line (without its newline) matches; very long lines are matched on their start. */
export function lineMatches(re: RegExp, line: string): boolean {
  const l = line.endsWith('\r') ? line.slice(0, -1) : line;
  return re.test(l.length > MAX_MATCH_CHARS ? l.slice(0, MAX_MATCH_CHARS) : l);
}

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
    let consumed = 0;
    for (const { line, end: lineEnd } of linesUpTo(text, end)) {
      const body = shape(line.endsWith('\n') ? line.slice(0, -1) : line, how);
      if (lineMatches(re, body)) {
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

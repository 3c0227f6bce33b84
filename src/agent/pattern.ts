import { createContext, Script, type Context } from 'node:vm';

/** Longest part of one line a regular expression is run on. */
export const MAX_MATCH_CHARS = 64 * 1024;
/**
 * Longest one batch of lines may keep a pattern running. A model's pattern can backtrack
 * catastrophically (`^(a+)+$` on 32 `a`s runs for minutes); matching runs where V8 can
 * interrupt it, and a pattern that needs longer is refused instead of freezing the process.
 */
export const MATCH_TIME_LIMIT_MS = 250;

/** A model-supplied pattern took longer than {@link MATCH_TIME_LIMIT_MS} on one batch of lines. */
export class PatternTooSlowError extends Error {
  /** The pattern as given. */
  readonly pattern: string;
  constructor(pattern: string) {
    super(
      `the regular expression ${JSON.stringify(pattern)} took over ${MATCH_TIME_LIMIT_MS} ms on one batch of output lines ` +
        '(catastrophic backtracking, e.g. nested quantifiers like (a+)+): use a simpler pattern',
    );
    this.name = 'PatternTooSlowError';
    this.pattern = pattern;
  }
}

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

// One context for all matching: creating one costs about a millisecond, running in it ~0.2 ms.
let context: Context | undefined;
const MATCH = new Script(
  '(() => { const out = []; for (let i = 0; i < lines.length; i++) { if (re.test(lines[i])) { out.push(i); if (first) break; } } return out; })()',
);

/** A line as it is matched: without its `\r`, and very long lines on their start only. */
function matchable(line: string): string {
  const l = line.endsWith('\r') ? line.slice(0, -1) : line;
  return l.length > MAX_MATCH_CHARS ? l.slice(0, MAX_MATCH_CHARS) : l;
}

/**
 * Indices of the `lines` (each without its newline) that `re` matches, in order; with `first`,
 * at most the first one. Throws {@link PatternTooSlowError} when matching the batch takes
 * longer than {@link MATCH_TIME_LIMIT_MS}.
 */
export function matchingLines(re: RegExp, lines: readonly string[], first = false): number[] {
  if (lines.length === 0) return [];
  context ??= createContext(Object.create(null) as object);
  // A global or sticky flag would make `test` stateful; the patterns compiled here have neither.
  const plain = re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
  const ctx = context as { re?: RegExp; lines?: string[]; first?: boolean };
  ctx.re = plain;
  ctx.lines = lines.map(matchable);
  ctx.first = first;
  try {
    return MATCH.runInContext(context, { timeout: MATCH_TIME_LIMIT_MS }) as number[];
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new PatternTooSlowError(re.source);
    throw err;
  } finally {
    // Do not keep a chunk of output alive between calls.
    ctx.lines = [];
  }
}

/** Whether one line (without its newline) matches; see {@link matchingLines}. */
export function lineMatches(re: RegExp, line: string): boolean {
  return matchingLines(re, [line], true).length > 0;
}

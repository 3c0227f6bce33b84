// What a terminal would show, for a model that cannot interpret escape sequences: colours and
// cursor movement are noise to it, and a progress bar redrawn with `\r` a thousand times is a
// thousand copies of the same line.

// CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`), DCS/PM/APC/SOS strings and two-byte escapes.
// The 8-bit C1 form of CSI (`\x9b`) is included: some tools emit it.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]/g;
// Control characters left after escapes are gone: C0 except tab and newline, DEL, C1.
// eslint-disable-next-line no-control-regex
const CONTROL_RUN = /[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]+/g;

/** The final state of a line that `\r` rewrote: each segment overwrites the start of the previous ones. */
function collapseCarriageReturns(line: string): string {
  if (!line.includes('\r')) return line;
  const segments = line.split('\r');
  // A trailing `\r` (a CRLF line ending) rewrites nothing.
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  let shown = '';
  for (const seg of segments) shown = seg.length >= shown.length ? seg : seg + shown.slice(seg.length);
  return shown;
}

function describeRun(run: string): string {
  const code = run.charCodeAt(0);
  const hex = `\\x${code.toString(16).padStart(2, '0')}`;
  if (run.length === 1) return `[${hex}]`;
  let uniform = true;
  for (let i = 1; i < run.length && uniform; i++) uniform = run.charCodeAt(i) === code;
  return uniform ? `[${run.length}×${hex}]` : `[${run.length} control bytes]`;
}

/**
 * Turns raw terminal output into what a reader would see: ANSI escape sequences removed, every
 * line rewritten with `\r` collapsed to its final state, and runs of other control characters
 * shown as a short marker (`[2000000×\x01]`). Newlines and tabs are kept, so line counts and
 * line starts are those of the raw text.
 */
export function readableText(raw: string): string {
  let text = raw.replace(ANSI, '');
  if (text.includes('\r')) text = text.split('\n').map(collapseCarriageReturns).join('\n');
  return text.replace(CONTROL_RUN, describeRun);
}

/**
 * Characters `text` takes once JSON-encoded (without the quotes): what a model receives when
 * a client embeds the text in JSON, and an upper bound of the plain text. Budgets count this,
 * so a result stays within budget whichever way a client hands it over.
 */
export function charCost(text: string): number {
  return JSON.stringify(text).length - 2;
}

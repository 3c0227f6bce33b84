import type { AgentTextContent, AgentToolOutput, AgentToolResult, OutputView } from './types.js';

type Stream = 'stdout' | 'stderr';

/** The one-line header above an output text item. */
function header(stream: Stream, v: { cursor: number; next_cursor: number; total_bytes: number }, note = ''): string {
  return `--- ${stream}, bytes ${v.cursor}..${v.next_cursor} of ${v.total_bytes}${note} ---`;
}

function withoutText(v: OutputView): Omit<OutputView, 'text'> {
  const { text: _text, ...rest } = v;
  return rest;
}

/**
 * Splits a tool result into what the model should read: the status as compact JSON without the
 * output text, then each output stream's text as a plain-text item under a one-line header
 * (nothing is JSON-escaped), then any `extra` items (e.g. completion notices). Streams with no
 * text get no item; the status says why.
 */
export function formatResult(result: AgentToolResult, extra: readonly string[] = []): AgentToolOutput {
  const items: AgentTextContent[] = [];
  const outputs: string[] = [];
  let status: Record<string, unknown> = { ...result };
  if (result.ok && 'text' in result && typeof result.text === 'string') {
    const { text, ...rest } = result;
    status = rest;
    if (text !== '') outputs.push(`${header(result.stream, result, result.raw ? ', raw' : '')}\n${text}`);
  } else if (result.ok) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const v = (result as { stdout?: OutputView; stderr?: OutputView })[stream];
      if (!v) continue;
      status[stream] = withoutText(v);
      if (v.text !== '') outputs.push(`${header(stream, v)}\n${v.text}`);
    }
  }
  items.push({ type: 'text', text: JSON.stringify(status) });
  for (const o of outputs) items.push({ type: 'text', text: o });
  for (const e of extra) if (e !== '') items.push({ type: 'text', text: e });
  return { result, content: items, text: items.map((i) => i.text).join('\n'), isError: !result.ok };
}

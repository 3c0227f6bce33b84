import { MAX_INPUT_BYTES } from '../../control/protocol.js';
import { printJson, type CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ask, needOwner, unwrap } from './steer.js';

// Input to a task started with `submit -i` (stdin 'pipe'): one control request per chunk, each
// sent after the previous one was answered, so the owner delivers them in order.

async function* chunksOf(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let pending = Buffer.alloc(0);
  for await (const piece of source) {
    pending = pending.length === 0 ? Buffer.from(piece) : Buffer.concat([pending, piece]);
    while (pending.length >= MAX_INPUT_BYTES) {
      yield pending.subarray(0, MAX_INPUT_BYTES);
      pending = pending.subarray(MAX_INPUT_BYTES);
    }
  }
  if (pending.length > 0) yield pending;
}

function* split(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += MAX_INPUT_BYTES) yield data.subarray(at, at + MAX_INPUT_BYTES);
}

/**
 * `send ID TEXT...`: the words joined by spaces, plus a newline unless `-N` (answering a prompt is
 * typing a line); `send ID -`: this command's own stdin, as is, to its end; `--close` then closes
 * the task's input (alone: only closes it).
 */
export async function send(ctx: CliContext): Promise<number> {
  const [taskId, ...words] = ctx.parsed.positionals as [string, ...string[]];
  const close = ctx.parsed.values.close === true;
  let source: Iterable<Buffer> | AsyncIterable<Buffer>;
  if (words.length === 1 && words[0] === '-') {
    if (!ctx.io.stdin) throw new CliError(EXIT.USAGE, 'send ID -: there is no standard input to read');
    source = chunksOf(ctx.io.stdin);
  } else if (words.length > 0) {
    source = split(Buffer.from(`${words.join(' ')}${ctx.parsed.values['no-newline'] === true ? '' : '\n'}`, 'utf8'));
  } else if (close) {
    source = [];
  } else {
    throw new CliError(EXIT.USAGE, 'send needs the input: TEXT..., or - to read it from standard input (or --close alone)');
  }
  await needOwner(ctx);
  let bytes = 0;
  for await (const chunk of source) {
    unwrap(await ask(ctx, { op: 'input', taskId, data: chunk.toString('base64') }));
    bytes += chunk.length;
  }
  if (close) unwrap(await ask(ctx, { op: 'input', taskId, close: true }));
  if (ctx.parsed.json) printJson(ctx.io, { taskId, bytes, closed: close });
  else ctx.io.err(`${taskId}: sent ${bytes} byte${bytes === 1 ? '' : 's'}${close ? ', input closed' : ''}\n`);
  return EXIT.OK;
}

import type { CommandName } from './args.js';
import type { CliContext } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

// Task ids are 21 characters: like git hashes, any unique prefix of one names its task.

/** How many leading positionals of each command are task ids (Infinity: all of them). */
const ID_ARGS: Partial<Record<CommandName, number>> = { show: 1, logs: 1, wait: Infinity, kill: Infinity, retry: 1, priority: 1, send: 1 };

// A whole id matches TASK_FILE in the reader; anything else can only be a prefix.
const ID_CHARS = /^[A-Za-z0-9_-]+$/;

/**
 * Replaces each task-id argument that is not a whole known id by the one id it is a prefix of.
 * A prefix of several ids is a usage error that lists some of them; a prefix of none is left as
 * given (the command then says there is no such task).
 */
export async function expandIdPrefixes(ctx: CliContext): Promise<void> {
  const count = ctx.parsed.command === undefined ? 0 : (ID_ARGS[ctx.parsed.command] ?? 0);
  const args = ctx.parsed.positionals;
  const n = Math.min(count, args.length);
  let ids: string[] | undefined;
  for (let i = 0; i < n; i++) {
    const given = args[i]!;
    if (!ID_CHARS.test(given)) continue;
    try {
      if ((await ctx.reader.get(given)) !== undefined) continue;
      ids ??= (await ctx.reader.snapshot()).records.map((r) => r.id);
    } catch {
      // An unreadable store: the command itself says what is wrong with it.
      return;
    }
    const matches = ids.filter((id) => id.startsWith(given));
    if (matches.length === 1) args[i] = matches[0]!;
    else if (matches.length > 1) {
      const shown = matches.slice(0, 5).join(', ');
      throw new CliError(EXIT.USAGE, `${JSON.stringify(given)} is the start of ${matches.length} task ids (${shown}${matches.length > 5 ? ', …' : ''}): give more of it`);
    }
  }
}

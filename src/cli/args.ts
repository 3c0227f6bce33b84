import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT } from './exit-codes.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command accepts, before or after the command name. */
const GLOBAL: Options = {
  dir: { type: 'string', short: 'd' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
};

/** Options of each command (besides the global ones), and how many positionals it takes. */
export const COMMANDS = {
  ls: { options: { status: { type: 'string', short: 's', multiple: true }, group: { type: 'string', short: 'g' }, tag: { type: 'string', short: 't', multiple: true }, session: { type: 'string' }, limit: { type: 'string', short: 'n' } }, min: 0, max: 0 },
  show: { options: {}, min: 1, max: 1 },
  logs: { options: { stderr: { type: 'boolean', short: 'e' }, tail: { type: 'string' }, head: { type: 'string' }, follow: { type: 'boolean', short: 'f' }, attempt: { type: 'string', short: 'a' } }, min: 1, max: 1 },
  wait: { options: { timeout: { type: 'string' } }, min: 1, max: Infinity },
  kill: { options: { grace: { type: 'string' } }, min: 1, max: Infinity },
  retry: { options: {}, min: 1, max: 1 },
  priority: { options: {}, min: 2, max: 2 },
  pause: { options: {}, min: 0, max: 1 },
  resume: { options: {}, min: 0, max: 1 },
  submit: {
    options: {
      priority: { type: 'string', short: 'p' }, group: { type: 'string', short: 'g' }, timeout: { type: 'string' },
      retries: { type: 'string', short: 'r' }, backoff: { type: 'string' }, delay: { type: 'string' }, tag: { type: 'string', short: 't', multiple: true },
      cwd: { type: 'string' }, env: { type: 'string', multiple: true }, session: { type: 'string' }, detached: { type: 'boolean' }, grace: { type: 'string' },
      interactive: { type: 'boolean', short: 'i' }, tty: { type: 'boolean' },
    },
    min: 1,
    max: Infinity,
  },
  send: { options: { close: { type: 'boolean' }, 'no-newline': { type: 'boolean', short: 'N' } }, min: 1, max: Infinity },
  prune: { options: { 'older-than': { type: 'string' }, keep: { type: 'string' }, status: { type: 'string', short: 's', multiple: true } }, min: 0, max: 0 },
  run: { options: { concurrency: { type: 'string', short: 'c' }, 'exit-when-idle': { type: 'boolean' }, grace: { type: 'string' } }, min: 0, max: 0 },
  mcp: { options: { session: { type: 'string' }, 'max-output-chars': { type: 'string' }, 'max-wait': { type: 'string' }, timeout: { type: 'string' }, strict: { type: 'boolean' } }, min: 0, max: 0 },
} satisfies Record<string, { options: Options; min: number; max: number }>;

/** A command name of the `bgexec` command. */
export type CommandName = keyof typeof COMMANDS;

/** A parsed command line. */
export interface ParsedCli {
  /** The command; undefined with `--help` alone. */
  command: CommandName | undefined;
  /** `--dir`, else `BGEXEC_DIR`. */
  dir: string | undefined;
  /** `--json`: machine-readable output. */
  json: boolean;
  /** `--help`. */
  help: boolean;
  /** `--version` alone. */
  version?: boolean;
  /** The command's own options. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments (task ids, a group, the command to submit). */
  positionals: string[];
}

const usage = (message: string): CliError => new CliError(EXIT.USAGE, message);

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMANDS, name);
}

/** Splits `argv` into the command and its options; a bad command line throws a usage {@link CliError}. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCli {
  // The command is the first word that is neither a global option nor its value.
  let index = 0;
  while (index < argv.length) {
    const a = argv[index]!;
    if (a === '--dir' || a === '-d') index += 2;
    else if (a.startsWith('--dir=') || a === '--json' || a === '--help' || a === '-h' || a === '--version' || a === '-V') index += 1;
    else break;
  }
  const word = argv[index];
  if (word === undefined || word === '--') {
    const { values } = parseOrThrow(argv.slice(0, index), GLOBAL);
    if (values.help === true) return { command: undefined, dir: undefined, json: false, help: true, values: {}, positionals: [] };
    if (values.version === true) return { command: undefined, dir: undefined, json: false, help: false, version: true, values: {}, positionals: [] };
    throw usage('a command is required');
  }
  if (!isCommand(word)) throw usage(word.startsWith('-') ? `unknown option ${word}` : `unknown command ${JSON.stringify(word)}`);
  const spec = COMMANDS[word];
  const { values, positionals } = parseOrThrow([...argv.slice(0, index), ...argv.slice(index + 1)], { ...GLOBAL, ...spec.options });
  const help = values.help === true;
  if (!help && positionals.length < spec.min) throw usage(`${word} needs ${spec.min === 1 ? 'an argument' : `${spec.min} arguments`}`);
  if (!help && positionals.length > spec.max) throw usage(`${word} takes at most ${spec.max} argument${spec.max === 1 ? '' : 's'}, got ${positionals.length}`);
  const dir = typeof values.dir === 'string' ? values.dir : env.BGEXEC_DIR || undefined;
  const { dir: _d, json, help: _h, version: _v, ...own } = values;
  return { command: word, dir, json: json === true, help, values: own, positionals };
}

function parseOrThrow(args: string[], options: Options): { values: ParsedCli['values']; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: values as ParsedCli['values'], positionals };
  } catch (err) {
    throw usage((err as Error).message);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1500`, `1500ms`, `1.5s`, `5m`, `2h`, `1d` → ms. Undefined stays undefined. */
export function durationArg(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const m = typeof raw === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim()) : null;
  if (!m) throw usage(`--${name} must be a duration such as 500ms, 30s, 5m, 2h (a bare number is ms), got ${JSON.stringify(raw)}`);
  const ms = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) throw usage(`--${name} is too long`);
  return Math.round(ms);
}

/** A non-negative (or, with `min` 1, positive) integer option. */
export function intArg(name: string, raw: unknown, min = 0): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** A number option (priorities may be negative or fractional). */
export function numberArg(name: string, raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n)) throw usage(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

/** The values of a repeatable option, each split at commas (`--status running,queued`). */
export function listArg(raw: unknown): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

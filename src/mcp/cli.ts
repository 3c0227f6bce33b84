import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../errors.js';

/** Settings of the `bgexec-mcp` command, from its arguments and environment. */
export interface McpCliConfig {
  /** Print the usage and exit. */
  help: boolean;
  /** Directory of a durable `JsonDirStore`; none = tasks live in memory only. */
  storeDir?: string;
  /** Budget of one tool result in characters. */
  maxOutputChars: number;
  /** Longest blocking call (`bg_wait` `timeout_ms`). */
  maxWaitMs: number;
  /** Default `timeoutMs` of a started task. */
  timeoutMs: number;
  /** Default working directory of a started task. */
  cwd: string;
  /** Session (owner scope) of the tasks. */
  session: string;
  /** Serve OpenAI-strict input schemas. */
  strict: boolean;
}

/** Usage text of `bgexec-mcp`. */
export const USAGE = `Usage: bgexec-mcp [options]

A stdio MCP server: background shell commands (bg_start, bg_read, bg_wait, bg_kill, bg_list, bg_write).
It runs until stdin closes, then kills its tasks.

Options (environment variable in brackets):
  --store-dir DIR         keep task state in DIR, to survive restarts [BGEXEC_STORE_DIR]
  --max-output-chars N    budget of one tool result in characters, >= 1024 (16384) [BGEXEC_MAX_OUTPUT_CHARS]
  --max-wait-ms N         longest bg_wait, ms (50000) [BGEXEC_MAX_WAIT_MS]
  --timeout-ms N          default timeout of a task, ms (3600000) [BGEXEC_TIMEOUT_MS]
  --cwd DIR               default working directory (the current one) [BGEXEC_CWD]
  --session NAME          owner scope of the tasks (mcp) [BGEXEC_SESSION]
  --strict                serve OpenAI strict-mode input schemas [BGEXEC_STRICT=1]
  -h, --help              show this text
`;

function int(field: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(field, `must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Reads the `bgexec-mcp` settings: arguments win over environment variables, which win over
 * the defaults.
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an unknown option or a bad value.
 */
export function parseMcpCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, cwd: string): McpCliConfig {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        'store-dir': { type: 'string' },
        'max-output-chars': { type: 'string' },
        'max-wait-ms': { type: 'string' },
        'timeout-ms': { type: 'string' },
        cwd: { type: 'string' },
        session: { type: 'string' },
        strict: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new InvalidArgumentError('argv', (err as Error).message, { cause: err });
  }
  const storeDir = values['store-dir'] ?? env.BGEXEC_STORE_DIR;
  const session = values.session ?? env.BGEXEC_SESSION ?? 'mcp';
  if (session === '') throw new InvalidArgumentError('session', 'must not be empty');
  return {
    help: values.help === true,
    ...(storeDir ? { storeDir } : {}),
    // BGEXEC_MAX_OUTPUT_BYTES is the older name of the same budget.
    maxOutputChars: int('max-output-chars', values['max-output-chars'] ?? env.BGEXEC_MAX_OUTPUT_CHARS ?? env.BGEXEC_MAX_OUTPUT_BYTES, 16_384, 1024),
    maxWaitMs: int('max-wait-ms', values['max-wait-ms'] ?? env.BGEXEC_MAX_WAIT_MS, 50_000, 1),
    timeoutMs: int('timeout-ms', values['timeout-ms'] ?? env.BGEXEC_TIMEOUT_MS, 60 * 60 * 1000, 1),
    cwd: values.cwd ?? (env.BGEXEC_CWD || cwd),
    session,
    strict: values.strict === true || env.BGEXEC_STRICT === '1' || env.BGEXEC_STRICT === 'true',
  };
}

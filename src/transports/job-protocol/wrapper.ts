import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SpawnError } from '../../errors.js';
import { EXIT_PENDING_FILE, META_FILE, formatMetaFile, parsePidFile, type RunMeta } from './markers.js';
import { markFailure, readExitMarker } from './run-dir.js';
import { shQuoteAll } from './quote.js';

/**
 * The POSIX `sh` wrapper of a detached attempt (DESIGN §3). Positional parameters:
 * `$1` run directory, `$2` cwd (empty: inherit), `$3` mode (`sh`: `$4` is a shell command
 * line; `exec`: `$4…` are the program and its arguments).
 *
 * The wrapper must be started as a session/process-group leader (locally `spawn(…,
 * { detached: true })`; remotely `setsid`), because it records `$$` as both pid and pgid.
 *
 * Steps:
 * 1. Trap TERM, INT and HUP with handlers that only record the first signal: the wrapper
 *    must outlive a kill of its group long enough to record the child's status.
 * 2. Write `pid` (`"$$ $$\n"`). This is one short `printf`, so one write(2): a reader sees an
 *    empty file or the whole line, and the strict parser treats a line without its trailing
 *    newline as absent. That keeps the start free of an external `mv`.
 * 3. `cd` to the cwd; if that fails, write the `cwd_missing` marker and stop (so it is never
 *    confused with a command's exit code 2).
 * 4. Run the command in a *foreground* subshell that prints the handshake (`"$$ $$\n"` on
 *    stdout, which the starter reads) and then `exec`s the program with stdin from /dev/null
 *    and stdout/stderr appended to `out`/`err`.
 *    - Foreground rather than `& wait`: POSIX makes an asynchronous list of a non-interactive
 *      shell ignore SIGINT and SIGQUIT (which its program could never undo), while a trap
 *      that fires during a foreground wait is deferred until the child has ended, so `$?`
 *      is always the child's real status — no interrupted `wait`, no `kill -0` loop.
 *    - The handshake comes from inside the subshell, after the fork has reset the caught
 *      signals to their defaults: once the starter has it, a signal to the group either
 *      kills the child or is recorded by the wrapper's trap; it can no longer fall into
 *      the gap between fork and exec.
 *    - If nobody reads the handshake any more (the starter died), the command runs anyway,
 *      with SIGPIPE back at its default: the run directory already claims the attempt.
 *    - `exec` makes the args form run the real program, never a builtin of the same name.
 * 5. Write the status into `exit.pending` and rename it to `exit` (falling back to writing
 *    `exit` in place if `mv` cannot run, e.g. the caller's PATH lacks it).
 *
 * Variables are prefixed `_bgx_` so that they do not clobber the command's environment.
 */
export const WRAPPER_SCRIPT = [
  '_bgx_d=$1 _bgx_c=$2 _bgx_m=$3',
  'shift 3',
  '_bgx_s=',
  "trap '_bgx_s=${_bgx_s:-15}' TERM",
  "trap '_bgx_s=${_bgx_s:-2}' INT",
  "trap '_bgx_s=${_bgx_s:-1}' HUP",
  '_bgx_mark() {',
  '  { printf \'%s\\n\' "$1" >"$_bgx_d/exit.pending" && mv -f "$_bgx_d/exit.pending" "$_bgx_d/exit"; } 2>/dev/null ||',
  '    printf \'%s\\n\' "$1" >"$_bgx_d/exit"',
  '}',
  'printf \'%s %s\\n\' "$$" "$$" >"$_bgx_d/pid" || exit 125',
  'if [ -n "$_bgx_c" ]; then',
  '  case $_bgx_c in /*) ;; *) _bgx_c=./$_bgx_c ;; esac',
  '  if ! cd "$_bgx_c" 2>/dev/null; then _bgx_mark cwd_missing; exit 125; fi',
  'fi',
  '(',
  // The starter may have died before reading the handshake: without its reader, printf would
  // die of SIGPIPE and the attempt would record 141 without having run. The run directory
  // already claims the attempt, so it runs regardless and a recovering executor adopts it.
  "  trap '' PIPE",
  '  printf \'%s %s\\n\' "$$" "$$" 2>/dev/null',
  '  trap - PIPE',
  '  [ -z "$_bgx_s" ] || exit $((128 + _bgx_s))',
  '  if [ "$_bgx_m" = exec ]; then exec "$@" </dev/null >>"$_bgx_d/out" 2>>"$_bgx_d/err"; fi',
  '  exec /bin/sh -c "$1" </dev/null >>"$_bgx_d/out" 2>>"$_bgx_d/err"',
  ')',
  '_bgx_r=$?',
  'exec >/dev/null',
  '_bgx_mark "$_bgx_r"',
  'exit "$_bgx_r"',
  '',
].join('\n');

/** `$0` of the wrapper, visible in `ps` as the wrapper's name. */
export const WRAPPER_NAME = 'bgexec-wrap';

/** What the wrapper needs for one attempt. */
export interface WrapperParams {
  /** Absolute run directory (already created). */
  runDir: string;
  /** Working directory; undefined or empty inherits the wrapper's. */
  cwd?: string;
  /** Shell command line, or the program when `args` is given. */
  command: string;
  args?: readonly string[];
}

/** The wrapper's positional parameters `$1…` for `params`. */
export function wrapperPositionals(params: WrapperParams): string[] {
  const cwd = params.cwd ?? '';
  return params.args
    ? [params.runDir, cwd, 'exec', params.command, ...params.args]
    : [params.runDir, cwd, 'sh', params.command];
}

/**
 * Arguments for a POSIX shell binary that run the wrapper:
 * `spawn('/bin/sh', buildWrapperArgv(p), { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })`.
 * Values travel as argv entries, never through a shell line, so they need no quoting.
 */
export function buildWrapperArgv(params: WrapperParams): string[] {
  return ['-c', WRAPPER_SCRIPT, WRAPPER_NAME, ...wrapperPositionals(params)];
}

/**
 * The wrapper as a self-contained script for `sh -s` on stdin (how a remote transport runs
 * it): a `set --` line with every value as a single-quoted literal, then the script.
 * Throws `INVALID_ARGUMENT` if any value contains a NUL byte.
 */
export function buildWrapperStdinScript(params: WrapperParams): string {
  return `set -- ${shQuoteAll(wrapperPositionals(params), 'wrapper argument')}\n${WRAPPER_SCRIPT}`;
}

/**
 * Spawns the wrapper locally as a new session leader, stdout piped for the handshake only.
 * Read the handshake with {@link readHandshake}.
 */
export function startWrapper(params: WrapperParams, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn('/bin/sh', buildWrapperArgv(params), { env, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * Resolves with the wrapper's handshake line (`pid pgid`), or undefined when its stdout ends
 * first (it failed before the handshake, or could not be spawned). Releases the pipe after.
 */
export function readHandshake(child: ChildProcess): Promise<{ pid: number; pgid: number } | undefined> {
  const out = child.stdout;
  if (!out) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let buf = '';
    let settled = false;
    const finish = (value: { pid: number; pgid: number } | undefined): void => {
      if (settled) return;
      settled = true;
      out.removeAllListeners('data');
      out.on('error', () => {});
      out.destroy();
      resolve(value);
    };
    out.setEncoding('latin1');
    out.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(parsePidFile(buf.slice(0, nl + 1)));
    });
    out.once('end', () => finish(undefined));
    out.once('close', () => finish(undefined));
    out.once('error', () => finish(undefined));
  });
}

/**
 * Finds what `execvp` would run for `command` (a path if it contains `/`, else searched in
 * `pathEnv`, an empty entry meaning `cwd`). Returns undefined when an executable file is
 * found, else the errno the exec would fail with: `EACCES` if only non-executable matches
 * exist, `ENOENT` otherwise.
 */
export function findProgram(command: string, pathEnv: string | undefined, cwd: string | undefined): 'ENOENT' | 'EACCES' | undefined {
  const base = cwd ?? process.cwd();
  const dirs = command.includes('/') ? [''] : (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  let denied = false;
  for (const dir of dirs) {
    const candidate = resolve(base, dir === '' && !command.includes('/') ? '.' : dir, command);
    try {
      if (!statSync(candidate).isFile()) {
        denied = true;
        continue;
      }
      accessSync(candidate, fsConstants.X_OK);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') denied = true;
    }
  }
  return denied ? 'EACCES' : 'ENOENT';
}

/** A wrapper that completed its handshake. */
export interface LaunchedWrapper {
  child: ChildProcess;
  pid: number;
  pgid: number;
  /** Resolves with the time the wrapper process exited. */
  exited: Promise<number>;
}

/**
 * Starts a detached attempt locally in an existing run directory: writes `meta` and the
 * pre-allocated `exit.pending`, checks that an args-form program can be executed, spawns the
 * wrapper and waits for its handshake. Throws `SPAWN_FAILED` (leaving an `exit` marker that
 * says why) when the attempt cannot start.
 */
export async function launchWrapper(params: WrapperParams, taskId: string, env: NodeJS.ProcessEnv, meta: RunMeta): Promise<LaunchedWrapper> {
  const { runDir } = params;
  writeFileSync(join(runDir, META_FILE), formatMetaFile(meta));
  writeFileSync(join(runDir, EXIT_PENDING_FILE), '');
  if (params.args) {
    const missing = findProgram(params.command, env['PATH'], params.cwd);
    if (missing !== undefined) {
      markFailure(runDir, 'spawn_failed', missing);
      throw new SpawnError(`cannot execute ${JSON.stringify(params.command)}: ${missing}`, { taskId });
    }
  }
  const child = startWrapper(params, env);
  const failed = new Promise<NodeJS.ErrnoException>((r) => child.on('error', r));
  const exited = new Promise<number>((r) => child.once('exit', () => r(Date.now())));
  const line = await readHandshake(child);
  if (line !== undefined) return { child, pid: line.pid, pgid: line.pgid, exited };
  // No handshake: either the spawn itself failed, or the wrapper stopped early (cwd gone).
  const err = child.pid === undefined ? await failed : undefined;
  if (err === undefined) await exited;
  const marker = readExitMarker(runDir)?.marker;
  if (marker?.kind === 'failure' && marker.reason === 'cwd_missing') {
    throw new SpawnError(`cwd_missing: working directory ${JSON.stringify(params.cwd)} vanished before start`, { taskId });
  }
  if (!marker) markFailure(runDir, 'spawn_failed', err?.code);
  throw new SpawnError(`wrapper for ${taskId} failed to start${err ? `: ${err.message}` : ''}`, { taskId, cause: err });
}

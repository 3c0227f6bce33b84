import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SpawnError } from '../../errors.js';
import { ERR_FILE, EXIT_PENDING_FILE, EXIT_PLACEHOLDER, IN_FILE, IN_HOLDER_FILE, META_FILE, OUT_FILE, PID_FILE, formatMetaFile, parsePidFile, type RunMeta } from './markers.js';
import { markFailure, readExitMarker } from './run-dir.js';
import { shQuoteAll } from './quote.js';
import { CAP_FUNCTIONS } from './output-cap.js';
import { INPUT_FUNCTIONS, STDIN_ENV, TTY_ENV, TTY_STATUS_FILE, formatTtySetting, stdinSetting, ttyCommandLine } from './input.js';

/**
 * The POSIX `sh` wrapper of a detached attempt (see docs/architecture.md). Positional parameters:
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
 * 4. Set up the command's input (see {@link STDIN_ENV}) as fd 6: /dev/null, the data file `in`,
 *    or the FIFO `in` whose holder process (pid in `in.pid`) keeps it open for writing.
 * 5. Run the command in a *foreground* subshell that prints the handshake (`"$$ $$\n"` on
 *    stdout, which the starter reads) and then `exec`s the program with stdin from fd 6
 *    and stdout/stderr appended to `out`/`err` (on a terminal, see {@link TTY_ENV}: `script`
 *    runs it on a pseudo-terminal and its stdout, the terminal's output, goes to `out`).
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
 * 6. End the input's holder, so that nothing of the attempt keeps the FIFO open.
 * 7. Reap what the command left behind (unless `BGEXEC_REAP` is `keep`): processes still in
 *    the wrapper's process group and processes carrying the attempt's markers get `linger` ms
 *    to end by themselves, then SIGTERM (re-sent each round), then SIGKILL after `grace` ms.
 *    `BGEXEC_REAP` is `<linger>:<grace>` (default `0:5000`) and is removed from the command's
 *    environment. Linux only (it reads /proc); elsewhere the group gets one SIGTERM.
 * 8. Write the status into `exit.pending` and rename it to `exit` (falling back to writing
 *    `exit` in place if `mv` cannot run, e.g. the caller's PATH lacks it). The status is written
 *    over the start of the pre-allocated `exit.pending` without truncating it (`1<>`), so it needs
 *    no new disk block: on a full disk the exit code still gets through. So an `exit` marker
 *    means that nothing of the attempt is left to write its output.
 *
 * Variables are prefixed `_bgx_` so that they do not clobber the command's environment.
 */
// Step 7 of the wrapper. `_bgx_left` sets `_bgx_n` to the leftover pids: live members of the
// wrapper's group and carriers of the attempt's markers, the wrapper itself excluded. Its
// helpers (`sleep`) have ended before a look.
const REAP_FUNCTIONS = [
  '_bgx_nap() { sleep 0.1 2>/dev/null || sleep 1; }',
  '_bgx_left() {',
  '  _bgx_n=',
  // ONE grep over every stat and environment picks the candidates: members of the wrapper's
  // group (a process name can mimic that pattern) and carriers of the task id; each is then
  // checked exactly. Its subshell drops the markers before exec, so grep never finds itself.
  '  _bgx_ip="^BGEXEC_TASK_ID=$_bgx_id\\$"; [ -n "$_bgx_id" ] || _bgx_ip=") [^Z] [0-9]* $$ "',
  '  for _bgx_f in $(unset BGEXEC_TASK_ID BGEXEC_ATTEMPT; exec grep -lsz -e ") [^Z] [0-9]* $$ " -e "$_bgx_ip" /proc/[0-9]*/stat /proc/[0-9]*/environ 2>/dev/null); do',
  '    _bgx_q=${_bgx_f#/proc/}; _bgx_q=${_bgx_q%/*}',
  // The output copiers ($_bgx_cp) and their `head` children are the wrapper's, not leftovers.
  '    case " $$ $_bgx_cp $_bgx_n " in *" $_bgx_q "*) continue ;; esac',
  '    case $_bgx_f in',
  '    */stat)',
  // 2>/dev/null first: a process that ended since the grep makes the `<` fail, and the shell
  // reports a failed redirection on the stderr in effect before it (a Slurm job's slurm.err).
  '      IFS= read -r _bgx_l 2>/dev/null <"$_bgx_f" || continue',
  '      set -- ${_bgx_l##*) }',
  '      [ "$1" != Z ] && [ "$3" = "$$" ] || continue',
  '      case " $_bgx_cp " in *" $2 "*) continue ;; esac ;;',
  '    *)',
  '      grep -qsz -x "BGEXEC_TASK_ID=$_bgx_id" "$_bgx_f" 2>/dev/null || continue',
  '      grep -qsz -x "BGEXEC_ATTEMPT=$_bgx_at" "$_bgx_f" 2>/dev/null || continue ;;',
  '    esac',
  '    _bgx_n="$_bgx_n $_bgx_q"',
  '  done',
  '  [ -n "$_bgx_n" ]',
  '}',
  // $1 linger ms, $2 grace ms (malformed: 0 and 5000); rounds of 100 ms.
  '_bgx_reap() {',
  '  case $1 in \'\'|*[!0-9]*) set -- 0 "$2" ;; esac',
  '  case $2 in \'\'|*[!0-9]*) set -- "$1" 5000 ;; esac',
  '  if [ ! -r "/proc/$$/stat" ]; then kill -TERM "-$$" 2>/dev/null; return 0; fi',
  '  _bgx_left || return 0',
  '  _bgx_i=$(( ($1 + 99) / 100 ))',
  '  while [ "$_bgx_i" -gt 0 ] && _bgx_left; do _bgx_nap; _bgx_i=$((_bgx_i - 1)); done',
  '  _bgx_i=$(( ($2 + 99) / 100 ))',
  '  while [ "$_bgx_i" -gt 0 ] && _bgx_left; do kill -TERM $_bgx_n 2>/dev/null; _bgx_nap; _bgx_i=$((_bgx_i - 1)); done',
  '  _bgx_i=10',
  '  while [ "$_bgx_i" -gt 0 ] && _bgx_left; do kill -KILL $_bgx_n 2>/dev/null; _bgx_nap; _bgx_i=$((_bgx_i - 1)); done',
  '  return 0',
  '}',
];

export const WRAPPER_SCRIPT = [
  '_bgx_d=$1 _bgx_c=$2 _bgx_m=$3',
  'shift 3',
  '_bgx_s=',
  '_bgx_id=${BGEXEC_TASK_ID-} _bgx_at=${BGEXEC_ATTEMPT-} _bgx_o=${BGEXEC_REAP-0:5000}',
  'unset BGEXEC_REAP',
  // maxOutputBytes for the output copiers (see output-cap.ts), also kept from the command.
  '_bgx_lim=${BGEXEC_MAX_OUTPUT-} _bgx_cp=',
  'unset BGEXEC_MAX_OUTPUT',
  // The input and terminal settings (input.ts), also kept from the command.
  `_bgx_in=\${${STDIN_ENV}-} _bgx_tt=\${${TTY_ENV}-} _bgx_h=`,
  `unset ${STDIN_ENV} ${TTY_ENV}`,
  "case $_bgx_tt in *[0-9]' '[0-9]*) case $_bgx_tt in *[!0-9' ']*) _bgx_tt='80 24' ;; esac ;; '') ;; *) _bgx_tt='80 24' ;; esac",
  "trap '_bgx_s=${_bgx_s:-15}' TERM",
  "trap '_bgx_s=${_bgx_s:-2}' INT",
  "trap '_bgx_s=${_bgx_s:-1}' HUP",
  '_bgx_mark() {',
  '  { printf \'%s\\n\' "$1" 1<>"$_bgx_d/exit.pending" && mv -f "$_bgx_d/exit.pending" "$_bgx_d/exit"; } 2>/dev/null ||',
  '    printf \'%s\\n\' "$1" >"$_bgx_d/exit"',
  '}',
  ...REAP_FUNCTIONS,
  ...CAP_FUNCTIONS,
  ...INPUT_FUNCTIONS,
  'printf \'%s %s\\n\' "$$" "$$" >"$_bgx_d/pid" || exit 125',
  'if [ -n "$_bgx_c" ]; then',
  '  case $_bgx_c in /*) ;; *) _bgx_c=./$_bgx_c ;; esac',
  '  if ! cd "$_bgx_c" 2>/dev/null; then _bgx_mark cwd_missing; exit 125; fi',
  'fi',
  '_bgx_open',
  "_bgx_input || { _bgx_mark 'spawn_failed STDIN'; exit 125; }",
  '(',
  // The starter may have died before reading the handshake: without its reader, printf would
  // die of SIGPIPE and the attempt would record 141 without having run. The run directory
  // already claims the attempt, so it runs regardless and a recovering executor adopts it.
  "  trap '' PIPE",
  '  printf \'%s %s\\n\' "$$" "$$" 2>/dev/null',
  '  trap - PIPE',
  '  [ -z "$_bgx_s" ] || exit $((128 + _bgx_s))',
  // On a terminal the command is always a shell line (ttyCommandLine turns the args form into one).
  '  [ -z "$_bgx_tt" ] || _bgx_tty "$1"',
  '  if [ "$_bgx_m" = exec ]; then exec "$@" <&6 >&3 2>&4 3>&- 4>&- 6<&-; fi',
  '  exec /bin/sh -c "$1" <&6 >&3 2>&4 3>&- 4>&- 6<&-',
  ')',
  '_bgx_r=$?',
  '[ -z "$_bgx_tt" ] || _bgx_ttyrc',
  'exec >/dev/null 3>&- 4>&- 6<&-',
  // The command has exited: its input goes before the reap (the holder is no leftover).
  '_bgx_unhold',
  '[ "$_bgx_o" = keep ] || _bgx_reap "${_bgx_o%%:*}" "${_bgx_o#*:}"',
  // After the reap: a leftover still holding the pipes would keep the copiers reading.
  '_bgx_drain',
  '_bgx_mark "$_bgx_r"',
  'exit "$_bgx_r"',
  '',
].join('\n');

/** Environment variable through which the wrapper gets its leftover policy (step 5). */
export const REAP_ENV = 'BGEXEC_REAP';

/** The value of {@link REAP_ENV} for a policy: `keep`, or `<lingerMs>:<graceMs>`. */
export function formatReapSetting(policy: { orphans: 'kill' | 'keep'; lingerMs: number; graceMs: number }): string {
  return policy.orphans === 'keep' ? 'keep' : `${Math.floor(policy.lingerMs)}:${Math.floor(policy.graceMs)}`;
}

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
  /** Input of the command, as a launch request's `stdin`; absent: /dev/null. */
  stdin?: 'pipe' | Uint8Array | undefined;
  /** Run the command on a pseudo-terminal of this size. */
  tty?: { cols: number; rows: number } | undefined;
}

/** What a script that starts one attempt under the wrapper (a batch job, a remote start) carries. */
export interface ScriptedLaunch {
  taskId: string;
  attempt: number;
  /** Shell command line, or the program when `args` is given. */
  command: string;
  args?: readonly string[] | undefined;
  cwd?: string | undefined;
  env: Readonly<Record<string, string>>;
  /** Per-stream cap the wrapper's output copiers enforce (`BGEXEC_MAX_OUTPUT`); undefined: none. */
  maxOutputBytes?: number | undefined;
  /** Input of the command; absent: /dev/null. */
  stdin?: 'pipe' | Uint8Array | undefined;
  /** Run the command on a pseudo-terminal of this size. */
  tty?: { cols: number; rows: number } | undefined;
}

/** The wrapper's positional parameters `$1…` for `params`. */
export function wrapperPositionals(params: WrapperParams): string[] {
  const cwd = params.cwd ?? '';
  // `script` runs one shell line: on a terminal the args form travels as one.
  if (params.tty) return [params.runDir, cwd, 'sh', ttyCommandLine(params.command, params.args)];
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
  // Every file the wrapper writes through a redirection exists beforehand with mode 0600, so
  // no umask can widen it; `exit.pending` is pre-allocated so that the status fits on a full disk.
  writeFileSync(join(runDir, META_FILE), formatMetaFile(meta), { mode: 0o600 });
  writeFileSync(join(runDir, EXIT_PENDING_FILE), EXIT_PLACEHOLDER, { mode: 0o600 });
  for (const f of [PID_FILE, OUT_FILE, ERR_FILE]) writeFileSync(join(runDir, f), '', { mode: 0o600, flag: 'a' });
  // The input given up front is the file `in`; with a pipe the wrapper makes the FIFO and
  // writes `in.pid`, created here so that no umask widens it.
  if (params.stdin instanceof Uint8Array) writeFileSync(join(runDir, IN_FILE), params.stdin, { mode: 0o600 });
  else if (params.stdin === 'pipe') writeFileSync(join(runDir, IN_HOLDER_FILE), '', { mode: 0o600, flag: 'a' });
  if (params.tty) writeFileSync(join(runDir, TTY_STATUS_FILE), '', { mode: 0o600, flag: 'a' });
  const programs = [...(params.args ? [params.command] : []), ...(params.tty ? ['script'] : [])];
  for (const program of programs) {
    const missing = findProgram(program, env['PATH'], params.cwd);
    if (missing !== undefined) {
      markFailure(runDir, 'spawn_failed', missing);
      const what = program === params.command ? JSON.stringify(program) : `${program} (util-linux, for tty)`;
      throw new SpawnError(`cannot execute ${what}: ${missing}`, { taskId });
    }
  }
  const input = stdinSetting(params.stdin);
  const wrapperEnv: NodeJS.ProcessEnv = { ...env };
  delete wrapperEnv[STDIN_ENV];
  delete wrapperEnv[TTY_ENV];
  if (input !== undefined) wrapperEnv[STDIN_ENV] = input;
  if (params.tty) wrapperEnv[TTY_ENV] = formatTtySetting(params.tty);
  const child = startWrapper(params, wrapperEnv);
  const failed = new Promise<NodeJS.ErrnoException>((r) => child.on('error', r));
  const exited = new Promise<number>((r) => child.once('exit', () => r(Date.now())));
  const line = await readHandshake(child);
  if (line !== undefined) return { child, pid: line.pid, pgid: line.pgid, exited };
  // No handshake: either the spawn itself failed, or the wrapper stopped early (cwd gone).
  const err = child.pid === undefined ? await failed : undefined;
  if (err === undefined) await exited;
  const marker = readExitMarker(runDir)?.marker;
  if (marker?.kind === 'failure' && marker.reason === 'cwd_missing') {
    throw new SpawnError(`cwd_missing: working directory ${JSON.stringify(params.cwd)} vanished before start`, { reason: 'cwd_missing', taskId });
  }
  if (!marker) markFailure(runDir, 'spawn_failed', err?.code);
  throw new SpawnError(`wrapper for ${taskId} failed to start${err ? `: ${err.message}` : ''}`, { taskId, cause: err });
}

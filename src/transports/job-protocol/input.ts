import { shQuoteAll } from './quote.js';

// The input side of the detached wrapper (wrapper.ts): what the command reads on fd 0, and the
// terminal it may run on. Shared by every wrapper-based start (detached local attempts, SSH,
// Vagrant), which pass the settings through the environment like the wrapper's other settings.

/**
 * Environment variable telling the wrapper where the command's stdin comes from: `pipe` (the
 * wrapper creates the FIFO `in` and its holder), `file` (`in` is a regular file holding the
 * input, written by the starter), anything else or absent: /dev/null. Removed from the
 * command's environment.
 */
export const STDIN_ENV = 'BGEXEC_STDIN';

/**
 * Environment variable asking the wrapper to run the command on a pseudo-terminal of
 * `"<cols> <rows>"` (util-linux `script`). Removed from the command's environment.
 */
export const TTY_ENV = 'BGEXEC_TTY';

/**
 * Environment variable that marks the holder of an attempt's FIFO `in`: its value is the run
 * directory. With the attempt's own markers it tells the holder apart from any other process
 * (a reused pid is never taken for it); only the holder carries it.
 */
export const IN_HOLDER_ENV = 'BGEXEC_STDIN_HOLDER';

/** What a stdin setting of a launch becomes in {@link STDIN_ENV}. */
export function stdinSetting(stdin: 'pipe' | Uint8Array | undefined): 'pipe' | 'file' | undefined {
  if (stdin === undefined) return undefined;
  return stdin === 'pipe' ? 'pipe' : 'file';
}

/** The value of {@link TTY_ENV} for a terminal size. */
export function formatTtySetting(tty: { cols: number; rows: number }): string {
  return `${Math.floor(tty.cols)} ${Math.floor(tty.rows)}`;
}

/**
 * The wrapper's command for a terminal: `script` runs one shell line, so the args form
 * becomes `exec 'program' 'arg'…` (exec runs the program itself, never a builtin).
 */
export function ttyCommandLine(command: string, args: readonly string[] | undefined): string {
  return args ? `exec ${shQuoteAll([command, ...args], 'argument')}` : command;
}

/**
 * File of the run directory where the shell on the terminal writes the command's exit status
 * (`"<status>\n"`): `script` itself, when a kill of the attempt's group reaches it, ends the
 * terminal's session and exits 0, so its own status cannot be trusted then.
 */
export const TTY_STATUS_FILE = 'tty.rc';

// What `script -c` runs (through $SHELL, which the wrapper sets to /bin/sh for it): sizes the
// terminal, gives the command back the caller's SHELL, drops its own variables, runs the command
// line and records its status. Everything comes in the environment, so nothing needs quoting.
// This shell outlives a TERM, INT or HUP (a trap; the command gets the default back): like a
// login shell it reports what the signal did to the command. A TERM comes only from a kill of
// the attempt, which `script` also got: it would then spend 2 s ("Session terminated, killing
// shell...") before it exits, so once the command has ended this shell ends `script` ($PPID).
const TTY_INNER = [
  '_bgx_c=$BGEXEC_TTY_CMD _bgx_f=$BGEXEC_TTY_RC',
  'stty cols ${BGEXEC_TTY_SIZE% *} rows ${BGEXEC_TTY_SIZE#* } 2>/dev/null',
  'case $BGEXEC_TTY_SHELL in =*) SHELL=${BGEXEC_TTY_SHELL#=}; export SHELL ;; *) unset SHELL ;; esac',
  'unset BGEXEC_TTY_CMD BGEXEC_TTY_SIZE BGEXEC_TTY_SHELL BGEXEC_TTY_RC',
  '_bgx_t=; trap "_bgx_t=1" TERM; trap : INT HUP',
  // Its own notices ("Terminated") stay off the terminal; the command's stderr is the terminal.
  'exec 9>&2 2>/dev/null',
  '/bin/sh -c "$_bgx_c" 2>&9 9>&-',
  '_bgx_r=$?',
  'printf "%s\\n" "$_bgx_r" >"$_bgx_f"',
  '[ -z "$_bgx_t" ] || kill -KILL "$PPID" 2>/dev/null',
  'exit "$_bgx_r"',
].join('; ');

/**
 * Shell functions of the wrapper for its input. They use `$_bgx_d` (run directory), `$_bgx_in`
 * ({@link STDIN_ENV}), `$_bgx_tt` ({@link TTY_ENV}) and set `$_bgx_h` (the holder's pid).
 *
 * - `_bgx_input` opens the command's stdin as fd 6 (after `_bgx_open`, so the output copiers
 *   never hold it). With `pipe` it creates the FIFO `in`, opens it read-write as fd 5 (which
 *   never blocks) and starts the holder on it: `sleep` with the FIFO as its fd 0 (read-write)
 *   and nothing else (stdout/stderr to /dev/null, not the copiers' pipes), so the task reads
 *   end-of-file only once the holder is gone, not whenever a writer closes. The read end (fd 6)
 *   is opened while the holder is a writer, so that open cannot block either: input closed
 *   right after the start still reaches the task as end-of-file. `in.pid` is written before the
 *   handshake. The holder is a plain member of the wrapper's group: a group kill ends it too.
 *   Fails (status 1) when the FIFO or the data file is not there.
 * - `_bgx_unhold` ends the holder once the command has exited (before the reap), after
 *   checking on Linux that the pid is still this run directory's holder: the wrapper's shell
 *   may already have reaped it (closed input) and its pid been reused.
 * - `_bgx_tty` (in the command's subshell) `exec`s `script -q -f -e` with the input on its
 *   stdin: the command runs in a new session on the terminal, under a shell that records its
 *   status in {@link TTY_STATUS_FILE}; `_bgx_ttyrc` takes it from there (a signal as 128 + n).
 *   When `script` reads end-of-file on its input it passes it on to the terminal; the command
 *   is not killed by it. A kill reaches the command through the attempt's markers (the
 *   terminal's session is not the wrapper's process group).
 */
export const INPUT_FUNCTIONS: readonly string[] = [
  '_bgx_input() {',
  '  case $_bgx_in in',
  '  pipe)',
  '    mkfifo -m 600 "$_bgx_d/in" 2>/dev/null || return 1',
  '    exec 5<>"$_bgx_d/in"',
  `    ( ${IN_HOLDER_ENV}=$_bgx_d exec sleep 2147483647 ) <&5 >/dev/null 2>&1 3>&- 4>&- 5>&- &`,
  '    _bgx_h=$!',
  '    exec 5>&-',
  '    printf \'%s\\n\' "$_bgx_h" >"$_bgx_d/in.pid"',
  '    exec 6<"$_bgx_d/in" ;;',
  // A failed redirection of `exec` would end the wrapper without a marker: test first.
  '  file) [ -f "$_bgx_d/in" ] && [ -r "$_bgx_d/in" ] || return 1; exec 6<"$_bgx_d/in" ;;',
  '  *) exec 6</dev/null ;;',
  '  esac',
  '}',
  '_bgx_unhold() {',
  '  [ -n "$_bgx_h" ] || return 0',
  `  if [ ! -r "/proc/$$/environ" ] || grep -qsxzF "${IN_HOLDER_ENV}=$_bgx_d" "/proc/$_bgx_h/environ" 2>/dev/null; then kill "$_bgx_h" 2>/dev/null; fi`,
  '  wait "$_bgx_h" 2>/dev/null',
  '  _bgx_h=',
  '}',
  '_bgx_tty() {',
  '  _bgx_v=unset; [ -z "${SHELL+x}" ] || _bgx_v="=$SHELL"',
  `  SHELL=/bin/sh BGEXEC_TTY_CMD=$1 BGEXEC_TTY_SIZE=$_bgx_tt BGEXEC_TTY_SHELL=$_bgx_v BGEXEC_TTY_RC=$_bgx_d/${TTY_STATUS_FILE} exec script -q -f -e -c '${TTY_INNER}' /dev/null <&6 >&3 2>&4 3>&- 4>&- 6<&-`,
  '}',
  // The command's status as the terminal's shell recorded it; without it (that shell was
  // killed too), the signal the wrapper caught, else what `script` said.
  '_bgx_ttyrc() {',
  '  _bgx_x=; IFS= read -r _bgx_x <"$_bgx_d/' + TTY_STATUS_FILE + '" 2>/dev/null',
  "  case $_bgx_x in ''|*[!0-9]*) [ -z \"$_bgx_s\" ] || _bgx_r=$((128 + _bgx_s)) ;; *) _bgx_r=$_bgx_x ;; esac",
  '}',
];

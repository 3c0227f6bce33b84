import { IN_HOLDER_ENV, STDIN_ENV, TTY_ENV, formatTtySetting, stdinSetting } from '../job-protocol/input.js';
import { shQuote } from '../job-protocol/quote.js';

// The remote side of task input (see job-protocol/input.ts for the wrapper's side): the lines of
// the start script that carry input given up front and ask for a terminal, and the shell
// functions that find the FIFO's holder and tell whether an attempt waits for input.
//
// Bytes travel inside the script as base64 in a here-document, decoded by `base64 -d`: the
// script is all a remote call sends (its stdin is read by the shell in blocks, so raw bytes
// after the script would be swallowed), base64 costs 4/3 of the bytes where octal `printf`
// escapes cost 4×, and `base64` is in GNU coreutils and busybox. A host without it refuses
// input (`spawn_failed NO_BASE64` at start, a failed write later).

/** Heredoc delimiter of the input bytes; base64 never contains `_`. */
export const DATA_EOF = '_BGX_DATA';

/** `data` as base64 lines of 76 characters (what `base64 -d` reads on any implementation). */
export function base64Lines(data: Uint8Array): string[] {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines;
}

/**
 * What a start script adds for input and terminal: `env` words for the wrapper's exec chain,
 * and `lines` to run once the run directory exists (they use the start script's `$_d` and
 * `_fail`): the data file `in` for input given up front, and the checks for `base64`/`script`.
 */
export function inputStartLines(stdin: 'pipe' | Uint8Array | undefined, tty: { cols: number; rows: number } | undefined): { env: string[]; lines: string[] } {
  const env: string[] = [];
  const lines: string[] = [];
  const setting = stdinSetting(stdin);
  if (setting !== undefined) env.push(`${STDIN_ENV}=${setting}`);
  if (tty) {
    env.push(shQuote(`${TTY_ENV}=${formatTtySetting(tty)}`));
    lines.push("command -v script >/dev/null 2>&1 || _fail 'spawn_failed NO_SCRIPT'");
  }
  if (stdin instanceof Uint8Array) {
    lines.push(
      "command -v base64 >/dev/null 2>&1 || _fail 'spawn_failed NO_BASE64'",
      `base64 -d >"$_d/in" <<'${DATA_EOF}' || _fail 'spawn_failed STDIN'`,
      ...base64Lines(stdin),
      DATA_EOF,
    );
  }
  return { env, lines };
}

/**
 * Shell functions of the remote scripts for input (part of their shared library; `$_d` is the
 * run directory, `_alive` sets `$_p` to the wrapper's pid).
 *
 * - `_hd`: sets `$_h` to the holder of the FIFO `in` (from `in.pid`) and succeeds only while
 *   that process lives and is this run directory's holder (on Linux its environment carries
 *   the holder marker with this run directory; elsewhere the pid merely exists).
 * - `_in <pid> <fd>`: whether that descriptor of the process is the attempt's input: fd 0 when it
 *   is a pipe or a terminal, the FIFO `in` on any descriptor (a duplicate of fd 0, which may be
 *   closed), /dev/tty (a password prompt: getpass, ssh, sudo), or the terminal of its fd 0 or 1.
 * - `_iw <pid>`: whether that process waits for input: 0 when it is blocked reading (wchan a
 *   pipe or terminal read) a descriptor that `_in` accepts — the one /proc/<pid>/syscall names
 *   where readable (not for every caller or kernel), else fd 0 or any descriptor on `in` or
 *   /dev/tty — or blocked in poll/select/epoll with a pipe or terminal as its fd 0; 2 when it
 *   waits for its children (neutral); 1 otherwise (running, sleeping, other waits).
 * - `_ai <leaf> <taskId> <attempt>`: prints `I <leaf> 1` when every live process of the attempt
 *   (those carrying its markers, but not the wrapper, the holder or the terminal's `script`
 *   relay) is waiting for input or for its children, and at least one reads; else `I <leaf> 0`
 *   (also where /proc cannot tell).
 */
export const INPUT_LIB: readonly string[] = [
  '_hd() {',
  '  _h=; IFS= read -r _h <"$_d/in.pid" 2>/dev/null',
  "  case $_h in ''|*[!0-9]*) _h=; return 1 ;; esac",
  '  if [ -r /proc/self/environ ]; then',
  `    grep -qsxzF "${IN_HOLDER_ENV}=$_d" "/proc/$_h/environ" 2>/dev/null && return 0`,
  '  elif kill -0 "$_h" 2>/dev/null; then return 0; fi',
  '  _h=; return 1',
  '}',
  '_in() {',
  '  _x=/proc/$1/fd/$2',
  '  if [ "$2" = 0 ]; then [ -p "$_x" ] || { [ -c "$_x" ] && ! [ "$_x" -ef /dev/null ]; }; return; fi',
  '  [ -p "$_x" ] && [ "$_x" -ef "$_d/in" ] && return 0',
  '  [ -c "$_x" ] && ! [ "$_x" -ef /dev/null ] || return 1',
  // /dev/tty opened by name stays that node: it is the process's controlling terminal.
  '  [ "$_x" -ef /dev/tty ] || [ "$_x" -ef "/proc/$1/fd/0" ] || [ "$_x" -ef "/proc/$1/fd/1" ]',
  '}',
  '_iw() {',
  '  _w=; IFS= read -r _w <"/proc/$1/wchan" 2>/dev/null',
  '  case $_w in',
  '  do_wait|kernel_wait4|kernel_waitid|__do_sys_wait4) return 2 ;;',
  '  *pipe_read|pipe_wait*|wait_woken|n_tty_read) _k=r ;;',
  '  *poll_schedule_timeout*|do_select|core_sys_select|do_sys_poll|ep_poll|do_epoll_wait) _k=p ;;',
  '  *) return 1 ;;',
  '  esac',
  // poll/select: its stdin must be a pipe or a terminal (a file or /dev/null never blocks).
  '  [ "$_k" = r ] || { _in "$1" 0; return; }',
  // A read of the descriptor the kernel shows (hexadecimal), where it lets us see the call.
  '  _y=; _y0=; read -r _y _y0 _y1 <"/proc/$1/syscall" 2>/dev/null',
  '  case $_y:$_y0 in',
  "  *[!0-9a-fx:]*|:*|*:|*:*x*x*) ;;",
  '  *:0x*) _in "$1" "$((_y0))"; return ;;',
  '  esac',
  // Otherwise fd 0, or any descriptor on the input FIFO or the controlling terminal.
  '  _in "$1" 0 && return 0',
  '  for _z in /proc/$1/fd/*; do',
  '    { [ -p "$_z" ] && [ "$_z" -ef "$_d/in" ]; } || [ "$_z" -ef /dev/tty ] && return 0',
  '  done',
  '  return 1',
  '}',
  '_ai() {',
  '  _al=$1 _ak=$2 _aa=$3 _aw=0 _an=0',
  '  if [ -r /proc/self/wchan ] && _alive; then',
  '    _hd || _h=',
  '    _aw=1',
  '    for _f in $(grep -lsz -x "BGEXEC_TASK_ID=$_ak" /proc/[0-9]*/environ 2>/dev/null); do',
  '      _q=${_f#/proc/}; _q=${_q%/environ}',
  '      case " $$ $_p $_h " in *" $_q "*) continue ;; esac',
  '      grep -qsz -x "BGEXEC_ATTEMPT=$_aa" "$_f" 2>/dev/null || continue',
  '      IFS= read -r _s <"/proc/$_q/stat" 2>/dev/null || continue',
  '      _c=${_s#*"("}; _c=${_c%")"*}',
  '      set -- ${_s##*) }',
  '      case $1 in Z|X|x) continue ;; esac',
  '      [ "$_c" = script ] && [ "$2" = "$_p" ] && continue',
  '      _iw "$_q"',
  '      case $? in 0) _an=$((_an + 1)) ;; 2) ;; *) _aw=0; break ;; esac',
  '    done',
  '    [ "$_an" -gt 0 ] || _aw=0',
  '  fi',
  '  echo "I $_al $_aw"',
  '}',
];

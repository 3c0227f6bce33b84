import { InvalidArgumentError } from '../../errors.js';
import { EXIT_PLACEHOLDER, signalNumber } from '../job-protocol/markers.js';
import { MAX_OUTPUT_ENV } from '../job-protocol/output-cap.js';
import { assertValidId, isValidAttempt, shQuote } from '../job-protocol/quote.js';
import { REAP_ENV, WRAPPER_NAME, WRAPPER_SCRIPT, wrapperPositionals, type ScriptedLaunch } from '../job-protocol/wrapper.js';
import { DATA_EOF, INPUT_LIB, base64Lines, inputStartLines } from './input-scripts.js';

// The scripts a remote host runs through the constant command `sh -s`. Every value is a
// single-quoted literal (shQuote rejects NUL bytes). Each script is one brace group read with
// stdin from /dev/null: the shell parses the whole group before running any of it, so a script
// cut short by a dropped connection is a syntax error that runs nothing, and no command can
// swallow the rest of the script from stdin. Replies start with a `BGX1` line, so whatever a
// login shell prints before it (a banner from a profile) is skipped.

/** First line of every reply. */
export const REPLY_MARK = 'BGX1';

// `_b`: the kernel's boot id, then `@` and pid 1's start time (clock ticks since boot). A container
// shares its host's boot id, so a restarted container (a `vagrant reload` of the docker provider)
// is told apart only by its new pid 1; on a host or VM pid 1 starts once per boot.
const BOOT_ID = [
  `_b=unknown; [ -r /proc/sys/kernel/random/boot_id ] && IFS= read -r _b </proc/sys/kernel/random/boot_id`,
  '_i=; if [ -r /proc/1/stat ] && IFS= read -r _i </proc/1/stat; then set -- ${_i##*) }; [ -z "${20:-}" ] || _b="$_b@${20}"; fi',
].join('\n');

// `_r`: the remote root, given literally or resolved from $HOME; `R <root>` reports it.
function prelude(root: string | undefined): string {
  return [
    'umask 077',
    `_r=${shQuote(root ?? '')}`,
    'if [ -z "$_r" ]; then',
    '  [ -n "$HOME" ] || { echo "F no_home"; exit 0; }',
    '  _r=$HOME/.local/state/bgexec',
    'fi',
    'case $_r in /*) ;; *) _r=$HOME/$_r ;; esac',
    `echo ${REPLY_MARK}`,
    'echo "R $_r"',
  ].join('\n');
}

/** A script body as one brace group with stdin from /dev/null (see the top of this file). */
export function wrap(body: string): string {
  return `{\n${body}\n} </dev/null\n`;
}

/**
 * Shell functions shared by poll, list, probe, kill and the input scripts. `$_d` is the run directory.
 * _x: the complete `exit` line into $_x (a line without its newline is still being written).
 * _alive: the wrapper of `pid` exists, is not a zombie and (Linux) started when it recorded.
 * _hd: `$_h` is the live holder of the FIFO `in` (input-scripts.ts).
 */
export const LIB = [
  '_x() { _x=; [ -f "$_d/exit" ] && IFS= read -r _x <"$_d/exit" && [ -n "$_x" ]; }',
  '_alive() {',
  '  _p=; _g=',
  "  IFS=' ' read -r _p _g <\"$_d/pid\" 2>/dev/null || return 1",
  "  case $_p in ''|*[!0-9]*) return 1 ;; esac",
  '  kill -0 "$_p" 2>/dev/null || return 1',
  '  [ -r "/proc/$_p/stat" ] || return 0',
  '  IFS= read -r _s <"/proc/$_p/stat" || return 1',
  '  set -- ${_s##*) }',
  '  [ "$1" != Z ] || return 1',
  '  _t=; [ -f "$_d/pidst" ] && IFS= read -r _t <"$_d/pidst"',
  '  [ -z "$_t" ] || [ "$_t" = "${20}" ]',
  '}',
  '_st() {',
  '  _k=0; [ -f "$_d/killreq" ] && _k=1',
  '  if _x; then echo "J $1 E $_k $_x"',
  '  elif _alive; then echo "J $1 R $_k"',
  '  elif _x; then echo "J $1 E $_k $_x"',
  '  else',
  '    [ -f "$_d/killreq" ] && _k=1',
  '    _h=0; [ -s "$_d/pid" ] && _h=1',
  '    echo "J $1 D $_k $_h"',
  '  fi',
  '}',
  '_sz() {',
  '  _so=0; _se=0',
  '  set -- $(cd "$_d" 2>/dev/null && exec wc -c out err 2>/dev/null)',
  '  while [ $# -ge 2 ]; do',
  '    case $2 in out) _so=$1 ;; err) _se=$1 ;; esac',
  '    shift 2',
  '  done',
  '}',
  '_o() {',
  '  _n=$(($4 - $3)); [ "$_n" -le "$5" ] || _n=$5',
  '  [ "$_n" -gt 0 ] || return 0',
  '  echo "O $6 $2 $3 $_n"',
  '  tail -c "+$(($3 + 1))" "$_d/$1" | head -c "$_n"',
  '  echo',
  '}',
  '_j() {',
  '  _d=$1',
  '  if [ ! -d "$_d" ]; then echo "J $2 G"; return 0; fi',
  '  _st "$2"',
  '  _sz',
  // The fourth field is 1 once a stream was cut at maxOutputBytes (a non-empty `limit` marker).
  '  _lm=0; [ -s "$_d/limit" ] && _lm=1',
  '  echo "S $2 $_so $_se $_lm"',
  '  _o out o "$3" "$_so" "$5" "$2"',
  '  _o err e "$4" "$_se" "$5" "$2"',
  '}',
  '_pr() {',
  "  _p=; _g=; _m=",
  "  IFS=' ' read -r _p _g <\"$_d/pid\" 2>/dev/null || { _p=; _g=; }",
  '  IFS= read -r _m <"$_d/meta" 2>/dev/null',
  '  echo "P $1 + ${_p:--} ${_g:--} $_m"',
  '}',
  ...INPUT_LIB,
  '_sw() {',
  '  [ -r /proc/self/environ ] || return 0',
  '  for _f in $(grep -lsz -x "BGEXEC_TASK_ID=$_id" /proc/[0-9]*/environ 2>/dev/null); do',
  '    _q=${_f#/proc/}; _q=${_q%/environ}',
  '    [ "$_q" != "$$" ] || continue',
  '    grep -qsz -x "BGEXEC_ATTEMPT=$_a" "$_f" 2>/dev/null && kill "-$1" "$_q" 2>/dev/null',
  '  done',
  '  return 0',
  '}',
].join('\n');

/** One attempt to look at in a poll: where it is, and from which offsets to send output. */
export interface PollJob {
  runDir: string;
  leaf: string;
  outOffset: number;
  errOffset: number;
  /** Most bytes to send per stream in this reply. */
  maxBytes: number;
  /** The attempt has an input pipe or a terminal: say whether it waits for input (`I` line). */
  input?: { taskId: string; attempt: number } | undefined;
}

/**
 * One poll of many attempts of a host: `B <bootid>`, then per attempt its state (`J`), decided
 * before its sizes (`S`) and output bytes from the given offsets (`O` frames), then `Z`.
 */
export function buildPollScript(jobs: readonly PollJob[]): string {
  for (const j of jobs) {
    assertValidId(j.leaf, 'leaf');
    if (![j.outOffset, j.errOffset, j.maxBytes].every((n) => Number.isSafeInteger(n) && n >= 0)) throw new InvalidArgumentError('offset', 'must be non-negative integers');
  }
  const calls = jobs.map((j) => {
    const call = `_j ${shQuote(j.runDir)} ${j.leaf} ${j.outOffset} ${j.errOffset} ${j.maxBytes}`;
    if (j.input === undefined) return call;
    assertValidId(j.input.taskId, 'taskId');
    if (!isValidAttempt(j.input.attempt)) throw new InvalidArgumentError('attempt', 'invalid attempt');
    // After the output: a state that the output just printed has changed is never reported.
    return `${call}\n_ai ${j.leaf} ${j.input.taskId} ${j.input.attempt}`;
  });
  return wrap([`echo ${REPLY_MARK}`, BOOT_ID, 'echo "B $_b"', LIB, ...calls, 'echo Z'].join('\n'));
}

/** What {@link buildStartScript} needs. */
export interface StartParams extends ScriptedLaunch {
  root: string | undefined;
  leaf: string;
  startedAt: number;
  /** The wrapper's leftover policy (`BGEXEC_REAP`: `keep` or `<lingerMs>:<graceMs>`); default `0:5000`. */
  reap?: string | undefined;
  /** The task asked to be detached (kept in `meta`, for a handle found by a probe); default false. */
  detached?: boolean | undefined;
}

/**
 * Start: claims the run directory (`mkdir`, not `-p`), writes `meta` and empty `out`, `err`,
 * `exit.pending` (and the input given up front, see input-scripts.ts), launches the wrapper as a session leader (setsid, else perl's or python3's
 * setsid) with its handshake through a FIFO, and answers `OK <pid> <pgid> <bootid>` once the
 * wrapper's child is past its fork — or `F <reason>` (`dup`, `cwd_missing`, `spawn_failed …`).
 */
export function buildStartScript(p: StartParams): string {
  assertValidId(p.taskId, 'taskId');
  assertValidId(p.leaf, 'leaf');
  if (!isValidAttempt(p.attempt) || !Number.isSafeInteger(p.startedAt)) throw new InvalidArgumentError('attempt', 'invalid attempt or start time');
  for (const k of Object.keys(p.env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new InvalidArgumentError('env', `invalid name ${JSON.stringify(k)}`);
  // The task's environment reaches the wrapper through `env NAME=value …` in the exec chain, never
  // as assignments in this script, so no value can change a variable the script itself uses.
  const reap = p.reap ?? '0:5000';
  if (!/^(keep|[0-9]{1,9}:[0-9]{1,9})$/.test(reap)) throw new InvalidArgumentError('reap', `invalid leftover policy ${JSON.stringify(reap)}`);
  const input = inputStartLines(p.stdin, p.tty);
  const envArgs = [
    ...Object.entries(p.env).map(([k, v]) => shQuote(`${k}=${v}`, `env ${k}`)), `BGEXEC_TASK_ID=${p.taskId}`, `BGEXEC_ATTEMPT=${p.attempt}`, `${REAP_ENV}=${reap}`,
    ...maxOutputEnv(p.maxOutputBytes), ...input.env,
  ].join(' ');
  const cwd = shQuote(p.cwd ?? '', 'cwd');
  const positionals = wrapperPositionals({ runDir: '', cwd: p.cwd ?? '', command: p.command, args: p.args, tty: p.tty }).slice(1);
  const checkProgram = p.args
    ? `( [ -z ${cwd} ] || cd ${cwd} || exit 1; command -v ${shQuote(p.command, 'command')} ) >/dev/null 2>&1 || _fail 'spawn_failed ENOENT'`
    : ':';
  return wrap([
    prelude(p.root),
    BOOT_ID,
    `_d=$_r/jobs/${p.leaf}`,
    `_fail() { printf '%s\\n' "$1" >"$_d/exit" 2>/dev/null; rm -f "$_d/hs"; echo "F $1"; exit 0; }`,
    '[ -d "$_r/jobs" ] || mkdir -p "$_r/jobs" 2>/dev/null',
    'if ! mkdir "$_d" 2>/dev/null; then',
    '  if [ -d "$_d" ]; then echo "F dup"; else echo "F mkdir_failed"; fi',
    '  exit 0',
    'fi',
    `printf '{"bootId":"%s","startedAt":%s,"detached":%s}\\n' "$_b" ${p.startedAt} ${p.detached === true} >"$_d/meta"`,
    // exit.pending is pre-allocated: the wrapper writes the status over it, so a full disk cannot lose it.
    `: >"$_d/out"; : >"$_d/err"; printf '%s' ${shQuote(EXIT_PLACEHOLDER)} >"$_d/exit.pending"`,
    `printf '%s' ${shQuote(p.command, 'command')} >"$_d/cmd"`,
    `if [ -n ${cwd} ] && [ ! -d ${cwd} ]; then _fail cwd_missing; fi`,
    checkProgram,
    ...input.lines,
    // Launchers are looked up on the login PATH; the task's environment (PATH included) applies
    // to the wrapper and the command only.
    '_sh=$(command -v sh 2>/dev/null) || _sh=/bin/sh',
    'if _l=$(command -v setsid 2>/dev/null); then _k=setsid',
    'elif _l=$(command -v perl 2>/dev/null); then _k=perl',
    'elif _l=$(command -v python3 2>/dev/null); then _k=python3',
    "else _fail 'spawn_failed NO_SETSID'; fi",
    "mkfifo \"$_d/hs\" || _fail 'spawn_failed MKFIFO'",
    `_w=${shQuote(WRAPPER_SCRIPT)}`,
    `set -- "$_d" ${positionals.map((v) => shQuote(v, 'argument')).join(' ')}`,
    '(',
    '  case $_k in',
    `  setsid) exec "$_l" env ${envArgs} "$_sh" -c "$_w" ${WRAPPER_NAME} "$@" ;;`,
    `  perl) exec "$_l" -e 'use POSIX (); POSIX::setsid(); exec { $ARGV[0] } @ARGV or exit 127' env ${envArgs} "$_sh" -c "$_w" ${WRAPPER_NAME} "$@" ;;`,
    `  python3) exec "$_l" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' env ${envArgs} "$_sh" -c "$_w" ${WRAPPER_NAME} "$@" ;;`,
    '  esac',
    ') </dev/null >"$_d/hs" 2>/dev/null &',
    '_p=; _g=',
    'IFS=\' \' read -r _p _g <"$_d/hs"',
    'rm -f "$_d/hs"',
    'if [ -z "$_p" ]; then',
    '  wait',
    '  if _x=; IFS= read -r _x <"$_d/exit" 2>/dev/null; then echo "F $_x"; exit 0; fi',
    '  _fail spawn_failed',
    'fi',
    '_s=',
    'if [ -r "/proc/$_p/stat" ] && IFS= read -r _s <"/proc/$_p/stat"; then set -- ${_s##*) }; _s=${20}; fi',
    'printf \'%s\\n\' "$_s" >"$_d/pidst"',
    'echo "OK $_p $_g $_b"',
  ].join('\n'));
}

// The cap travels like the markers, as a literal `NAME=digits` word of the exec chain.
function maxOutputEnv(limit: number | undefined): string[] {
  if (limit === undefined) return [];
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidArgumentError('maxOutputBytes', `must be a positive integer, got ${String(limit)}`);
  return [`${MAX_OUTPUT_ENV}=${limit}`];
}

/**
 * Kill: records `killreq` (first signal and time), signals the wrapper's process group if the
 * wrapper is still this attempt's, then sweeps (Linux) every process whose environment carries
 * the attempt's markers. Answers `K ended` (exit marker present), `K gone` or `K sent`.
 */
export function buildKillScript(runDir: string, taskId: string, attempt: number, signal: string, firstSignal: string): string {
  for (const s of [signal, firstSignal]) {
    if (!/^SIG[A-Z0-9]+$/.test(s) || signalNumber(s) === undefined) throw new InvalidArgumentError('signal', `unknown signal ${JSON.stringify(s)}`);
  }
  assertValidId(taskId, 'taskId');
  if (!isValidAttempt(attempt)) throw new InvalidArgumentError('attempt', `invalid attempt ${String(attempt)}`);
  const sig = signal.replace(/^SIG/, '');
  return wrap([
    `echo ${REPLY_MARK}`,
    LIB,
    `_d=${shQuote(runDir)}; _id=${taskId}; _a=${attempt}`,
    '[ -d "$_d" ] || { echo "K gone"; exit 0; }',
    'if _x; then echo "K ended"; exit 0; fi',
    `[ -f "$_d/killreq" ] || printf '%s %s\\n' ${firstSignal} ${Date.now()} >"$_d/killreq"`,
    `if _alive; then kill -${sig} "-$_g" 2>/dev/null || kill -${sig} "$_p" 2>/dev/null; fi`,
    `_sw ${sig}`,
    'echo "K sent"',
  ].join('\n'));
}

/** Removes a run directory (`C` when done). */
export function buildCleanupScript(runDir: string): string {
  return wrap([`echo ${REPLY_MARK}`, `rm -rf -- ${shQuote(runDir)}`, 'echo C'].join('\n'));
}

/** Probes attempts by leaf name under the root: a `P` line each (`-` when absent), after `R` and `B`. */
export function buildProbeScript(root: string | undefined, leaves: readonly string[]): string {
  for (const l of leaves) assertValidId(l, 'leaf');
  const calls = leaves.map((l) => `_d=$_r/jobs/${l}; if [ -d "$_d" ]; then _pr ${l}; else echo "P ${l} -"; fi`);
  return wrap([prelude(root), BOOT_ID, 'echo "B $_b"', LIB, ...calls, 'echo Z'].join('\n'));
}

/** Lists every run directory under the root: `P`, `J` and `S` lines per attempt, no output bytes. */
export function buildListScript(root: string | undefined): string {
  return wrap([
    prelude(root),
    BOOT_ID,
    'echo "B $_b"',
    LIB,
    'for _d in "$_r"/jobs/*; do',
    '  [ -d "$_d" ] || continue',
    '  _l=${_d##*/}',
    '  case $_l in *[!A-Za-z0-9_-]*|-*) continue ;; esac',
    '  _pr "$_l"; _st "$_l"; _sz; echo "S $_l $_so $_se"',
    'done',
    'echo Z',
  ].join('\n'));
}

/**
 * Writes `data` into the attempt's FIFO `in`: `W ok` once every byte is in the pipe (it waits
 * while the pipe is full: that is the backpressure), `W closed` when the input was closed (no
 * live holder, or the task closed its stdin), `W ended` once the attempt has ended (also while the
 * write waited), `W gone` without a run
 * directory, `W nopipe` for an attempt without one. With `reply` (an interactive write), `W ok`
 * is followed by that attempt's poll frames (`J`, `S`, `O`, as in {@link buildPollScript}) once
 * its output has grown or ~0.2 s have passed, so the task's answer comes back in the same round
 * trip. The FIFO is opened read-write before its
 * write end is opened, so no open can block for want of a reader; then, with SIGPIPE ignored,
 * a write with no reader left fails at once (EPIPE) instead of hanging.
 */
export function buildWriteScript(runDir: string, data: Uint8Array, reply?: PollJob): string {
  let before = ':';
  let after: string[] = [];
  if (reply !== undefined) {
    assertValidId(reply.leaf, 'leaf');
    if (![reply.outOffset, reply.errOffset, reply.maxBytes].every((n) => Number.isSafeInteger(n) && n >= 0)) throw new InvalidArgumentError('offset', 'must be non-negative integers');
    before = '_sz; _o0=$_so _e0=$_se';
    after = [
      // Up to ~0.2 s for the task's answer to begin, then the attempt's poll frames.
      '_i=0; while [ $_i -lt 10 ]; do _sz; [ "$_so" = "$_o0" ] && [ "$_se" = "$_e0" ] || break; sleep 0.02 2>/dev/null || break; _i=$((_i + 1)); done',
      `_j "$_d" ${reply.leaf} ${reply.outOffset} ${reply.errOffset} ${reply.maxBytes}`,
    ];
  }
  return wrap([
    `echo ${REPLY_MARK}`,
    LIB,
    `_d=${shQuote(runDir)}`,
    '[ -d "$_d" ] || { echo "W gone"; exit 0; }',
    'if _x; then echo "W ended"; exit 0; fi',
    '[ -p "$_d/in" ] || { echo "W nopipe"; exit 0; }',
    'if ! _hd; then if _alive; then echo "W closed"; else echo "W ended"; fi; exit 0; fi',
    before,
    'exec 7<>"$_d/in" 8>"$_d/in" 7<&-',
    "trap '' PIPE",
    `if base64 -d >&8 <<'${DATA_EOF}'; then echo "W ok"; ${after.length === 0 ? 'exit 0' : '_ok=1'}; else _ok=; fi`,
    ...base64Lines(data),
    DATA_EOF,
    ...(after.length === 0 ? [] : [`if [ -n "$_ok" ]; then ${after.join('; ')}; exit 0; fi`]),
    // No reader left: the task has ended (its wrapper then ends the holder and writes the exit
    // marker, after its reap: waited for up to 2 s) or it closed its stdin itself.
    '_i=0; while [ $_i -lt 20 ] && ! _x && _alive; do sleep 0.1 2>/dev/null || sleep 1; _i=$((_i + 1)); done',
    'if _x || ! _alive; then echo "W ended"; else echo "W closed"; fi',
  ].join('\n'));
}

/**
 * Closes the attempt's input: ends the FIFO's holder if `in.pid` still names it (`X closed`),
 * else nothing (`X none`: closed before, ended, or never piped). The task then reads end-of-file.
 */
export function buildCloseStdinScript(runDir: string): string {
  return wrap([
    `echo ${REPLY_MARK}`,
    LIB,
    `_d=${shQuote(runDir)}`,
    'if [ -d "$_d" ] && _hd; then kill "$_h" 2>/dev/null; echo "X closed"; else echo "X none"; fi',
  ].join('\n'));
}

// What the agent tools resolve to: one result type per tool, and the error they all share.
import type { TaskStatus } from '../index.js';

/** Error codes of {@link AgentToolError}. */
export type AgentErrorCode = 'invalid_input' | 'unknown_task' | 'start_failed' | 'executor_unavailable' | 'input_refused' | 'failed';

/**
 * A call that did not succeed. `message` is written for the model and says what to do next.
 * `input_refused`: `bg_write` could not write (the task is not running, was not started with
 * stdin "pipe", its input was closed, or earlier input still waits to be read).
 */
export interface AgentToolError {
  /** Always false: the call did not succeed. */
  ok: false;
  /** What went wrong, as a stable code. */
  error: AgentErrorCode;
  /** What went wrong and what to do next, written for the model. */
  message: string;
}

/** A slice of one output stream rendered within the output budget. */
export interface OutputView {
  /** The output; when capped, head + `[… N bytes omitted; next_cursor=X]` + tail. */
  text: string;
  /** Byte offset where `text` starts. */
  cursor: number;
  /** Byte offset to continue from; reading on from it visits every byte not yet shown in full. */
  next_cursor: number;
  /** Size of the stream when read. */
  total_bytes: number;
  /** Bytes between head and tail that were not shown (0 when nothing was left out). */
  omitted_bytes: number;
  /** More bytes exist after `next_cursor`. */
  truncated: boolean;
  /** Bytes passed over (and marked) because an earlier result showed them as its tail. */
  skipped_bytes?: number;
}

/** How a task's attempt ended, in the results that report it (absent while it runs). */
export interface TaskEndFields {
  /** Exit code, if it has ended (null when a signal ended it or it never ran). */
  exit_code?: number | null;
  /** Signal that ended it, if any. */
  signal?: string | null;
  /** Why it ended other than by its own exit (`timeout`, `cancelled`, `spawn_failed`, …). */
  reason?: string;
}

/** Result of `bg_start`. */
export interface BgStartResult extends TaskEndFields {
  /** Always true: the task was started. */
  ok: true;
  /** Id of the new task, for the other tools. */
  task_id: string;
  /** Its status when the call returned (`running` unless it ended within `wait_ms`). */
  status: TaskStatus;
  /** Why it could not start or failed, when bgexec knows (e.g. a missing cwd). */
  error_message?: string;
  /** Run time so far (or in total, if it ended). */
  duration_ms?: number;
  /** The task is waiting for input (see {@link BgWriteResult.awaiting_input}). */
  awaiting_input?: true;
  /** Output so far (or all of it, if the task ended within `wait_ms`). */
  stdout?: OutputView;
  /** Error output so far, like `stdout`. */
  stderr?: OutputView;
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next. */
  hint: string;
}

/** Result of `bg_read`. */
export interface BgReadResult {
  /** Always true: the output was read. */
  ok: true;
  /** The task read. */
  task_id: string;
  /** Its status now. */
  status: TaskStatus;
  /** Exit code, if it has ended. */
  exit_code?: number | null;
  /** The stream read. */
  stream: 'stdout' | 'stderr';
  /** The task is waiting for input: `bg_write` answers it. */
  awaiting_input?: true;
  /** The attempt whose output this is (retries start a new output). */
  attempt: number;
  /** The output; when capped, head + `[… N bytes omitted; next_cursor=X]` + tail. */
  text: string;
  /** Byte offset where `text` starts. */
  cursor: number;
  /** Byte offset to pass as `cursor` to read on. */
  next_cursor: number;
  /** Size of the stream when read. */
  total_bytes: number;
  /** The task has ended and everything up to `next_cursor` = end was read. */
  eof: boolean;
  /** More bytes exist after `next_cursor`. */
  truncated: boolean;
  /** Bytes between head and tail that were not shown (0 when nothing was left out). */
  omitted_bytes: number;
  /**
   * Bytes after `text` that an earlier result already showed as a tail preview: `next_cursor`
   * passes over them rather than sending them again.
   */
  skipped_bytes?: number;
  /** With `tail_lines`: lines asked for, found, and shown within the budget. */
  tail?: {
    /** `tail_lines` as used. */
    lines_requested: number;
    /** Lines the stream has within the scanned range (fewer when the output is short). */
    lines_available: number;
    /** Lines shown in `text`, the latest ones. */
    lines_shown: number;
  };
  /** The text is the raw bytes (`raw: true`), not the readable rendering. */
  raw?: boolean;
  /** With `grep`: lines read, lines shown and lines filtered out (all passed by the cursor). */
  grep?: {
    /** The pattern, as given. */
    pattern: string;
    /** Whole lines read. */
    lines_read: number;
    /** Lines that matched (shown in `text`). */
    lines_matched: number;
    /** Lines that did not match (left out). */
    lines_filtered: number;
  };
  /** Bytes on the other stream, when it has any. */
  other_stream_bytes?: number;
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next, when there is advice. */
  hint?: string;
}

/** State of one task in a `bg_wait` result. */
export interface WaitTaskState {
  /** The task. */
  task_id: string;
  /** Its status now. */
  status: TaskStatus;
  /** Exit code, if it has ended. */
  exit_code?: number | null;
  /** It is waiting for input. */
  awaiting_input?: true;
}

/** Result of `bg_wait`. */
export interface BgWaitResult extends TaskEndFields {
  /** Always true: the wait ended normally (see `outcome`). */
  ok: true;
  /**
   * A task ended (`exited`), the pattern appeared (`matched`), a task waits for input
   * (`input_wanted`: it will not go on until `bg_write` answers it), or `timeout_ms` passed.
   */
  outcome: 'exited' | 'matched' | 'input_wanted' | 'timeout';
  /** The task that exited or matched (or the only task waited on). */
  task_id?: string;
  /** Status of that task. */
  status?: TaskStatus;
  /** Its run time. */
  duration_ms?: number;
  /** `matched`: the stream, the matching line and the byte offset just past it. */
  stream?: 'stdout' | 'stderr';
  /** `matched`: the line that matched. */
  match?: string;
  /** `matched`: byte offset just past the matching line. */
  match_cursor?: number;
  /** `input_wanted`: the task waits for input. */
  awaiting_input?: true;
  /** `exited`, `input_wanted`: output not read yet by these tools (for `input_wanted`, usually ending with the prompt). */
  stdout?: OutputView;
  /** `exited`, `input_wanted`: error output not read yet by these tools. */
  stderr?: OutputView;
  /** How long the call waited. */
  waited_ms: number;
  /** Every task waited on, with its status now. */
  tasks: WaitTaskState[];
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next. */
  hint: string;
}

/** Result of `bg_kill`. */
export interface BgKillResult extends TaskEndFields {
  /** Always true: the task is no longer running. */
  ok: true;
  /** The task. */
  task_id: string;
  /** Its final status (`cancelled`, or how it had ended already). */
  status: TaskStatus;
  /** It had already ended before the call; nothing was killed. */
  already_finished: boolean;
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next. */
  hint: string;
}

/** One row of `bg_list`. */
export interface BgListRow {
  /** The task. */
  task_id: string;
  /** Its status now. */
  status: TaskStatus;
  /** Its exit code, if it has ended. */
  exit_code?: number | null;
  /** Run time so far (running) or in total (ended). */
  duration_ms?: number;
  /** It is waiting for input (`bg_write` answers it). */
  awaiting_input?: true;
  /** The command, cut to 80 characters. */
  command: string;
}

/** Result of `bg_list`. */
export interface BgListResult {
  /** Always true: the list was read. */
  ok: true;
  /** Newest first. */
  tasks: BgListRow[];
  /** Tasks matching the filter (may exceed `tasks.length`). */
  total: number;
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next, when there is advice. */
  hint?: string;
}

/** Result of `bg_write`. */
export interface BgWriteResult extends TaskEndFields {
  /** Always true: the input was written (and closed, with `close`). */
  ok: true;
  /** The task written to. */
  task_id: string;
  /** Its status when the call returned. */
  status: TaskStatus;
  /** Bytes of input written (UTF-8). */
  bytes_written: number;
  /** The input was closed: the task reads end-of-file once it has read it. */
  closed?: true;
  /**
   * The task is waiting for input again (its processes all block reading their input, and it
   * printed nothing new for two looks), usually after printing its next prompt.
   */
  awaiting_input?: true;
  /** Run time so far (or in total, if it ended). */
  duration_ms?: number;
  /** How long the call waited for the reply. */
  waited_ms: number;
  /** Output not read yet by these tools: what the task printed in reply (and anything unread before it). */
  stdout?: OutputView;
  /** Error output not read yet by these tools, like `stdout`. */
  stderr?: OutputView;
  /** Parameters that were out of range and what was used instead. */
  clamped?: string[];
  /** What the model should do next. */
  hint: string;
}

/** Anything a handler resolves to. */
export type AgentToolResult = BgStartResult | BgReadResult | BgWaitResult | BgKillResult | BgListResult | BgWriteResult | AgentToolError;

import type { TaskRecord } from '../task.js';
import type { PollResult } from '../transports/types.js';
import { DEFAULT_MAX_OUTPUT } from './launch-request.js';
import { pendingNote, type Live } from './live.js';
import type { RunnerSink, TaskRunner } from './task-runner.js';

/**
 * Takes in what a poll saw of a running attempt: the unreachable note, output growth
 * (`task:output`, followers woken) and, for a live attempt, the output limit (kill).
 */
export function applySizes(runner: TaskRunner, sink: RunnerSink, record: TaskRecord, p: PollResult, live?: Live): void {
  // A host that cannot be reached leaves the task running, with a note saying so; an attempt
  // waiting in a cluster's queue keeps the note that says so.
  const note = p.unreachable ?? (live?.pending === true && record.handle ? (p.pendingNote ?? pendingNote(record.handle)) : undefined);
  if (note !== record.note) {
    if (note === undefined) delete record.note;
    else record.note = note;
    runner.persist(record);
    runner.notify(record.id);
  }
  let grew = false;
  for (const stream of ['stdout', 'stderr'] as const) {
    const total = stream === 'stdout' ? p.stdoutBytes : p.stderrBytes;
    const before = stream === 'stdout' ? record.stdoutBytes : record.stderrBytes;
    if (total <= before) continue;
    grew = true;
    if (stream === 'stdout') record.stdoutBytes = total;
    else record.stderrBytes = total;
    sink.task('task:output', record, { stream, bytes: total - before, totalBytes: total });
  }
  if (grew) runner.notify(record.id);
  // Waiting for input: all of the attempt's processes block reading stdin and it printed nothing
  // since the last look. Output growth clears it at once, whatever the transport said.
  // Seen on two looks in a row (one poll interval apart), so a reader caught between two bursts
  // of its input is not reported.
  if (live) live.inputWantedPolls = p.awaitingInput === true && !grew ? live.inputWantedPolls + 1 : 0;
  const awaiting = live !== undefined && live.inputWantedPolls >= 2;
  if (awaiting !== (record.awaitingInput === true)) {
    if (awaiting) record.awaitingInput = true;
    else delete record.awaitingInput;
    runner.persist(record);
    runner.notify(record.id);
    if (awaiting) sink.task('task:input_wanted', record);
  }
  const limit = record.spec.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  // limitReached: the transport cut a stream at the limit (its file holds exactly `limit`
  // bytes); the size test covers transports that do not cut.
  if (live && (p.limitReached === true || record.stdoutBytes > limit || record.stderrBytes > limit)) void runner.kill(record, live, 'output_limit');
}

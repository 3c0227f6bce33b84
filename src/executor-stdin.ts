import { describeValue, isInstance, stringArg } from './args.js';
import { InvalidArgumentError, InvalidSpecError, NotFoundError, StdinError } from './errors.js';
import { StdinChannel } from './runner/stdin-channel.js';
import type { Live } from './runner/live.js';
import type { TaskRunner } from './runner/task-runner.js';
import type { StoredSpec, TaskRecord } from './task.js';
import type { Transport } from './transports/types.js';

// Input to running tasks: `write()` and `closeStdin()` of the executor, and the submit-time check
// that the task's transport can give it the input and terminal it asks for.

/** Refuses at submit a spec whose `stdin`/`tty` its transport cannot provide, naming the field. */
export function checkInputSupport(spec: StoredSpec, transport: Transport | undefined): void {
  // Nearly every spec asks for neither: nothing to look up on the submit path.
  if (!transport || (spec.stdin === undefined && spec.tty === undefined)) return;
  const caps = transport.capabilities;
  const name = spec.transport ?? transport.kind;
  if (spec.stdin !== undefined) {
    const piped = typeof transport.writeStdin === 'function' && typeof transport.closeStdin === 'function';
    if (caps?.stdin !== true || !piped) throw new InvalidSpecError('stdin', `transport ${JSON.stringify(name)} (${transport.kind}) cannot give a task input; leave stdin unset or 'ignore'`);
  }
  if (spec.tty !== undefined && caps?.tty !== true) {
    throw new InvalidSpecError('tty', `transport ${JSON.stringify(name)} (${transport.kind}) cannot run a task on a terminal`);
  }
}

function dataArg(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  // isInstance: a Proxy whose traps throw is bad input, not a TypeError out of write().
  if (isInstance(data, Uint8Array)) return data;
  throw new InvalidArgumentError('data', `must be a string or a Uint8Array, got ${describeValue(data)}`);
}

// The running attempt of a task started with a pipe, ready for input; the right error otherwise.
function channelOf(runner: TaskRunner, id: unknown): { record: TaskRecord; channel: StdinChannel } {
  const record = runner.records.get(stringArg('id', id));
  if (!record) throw new NotFoundError(id as string);
  const taskId = record.id;
  if (record.spec.stdin !== 'pipe') {
    throw new StdinError('STDIN_NOT_PIPED', `task ${taskId} was not started with stdin 'pipe'`, { taskId });
  }
  const live: Live | undefined = runner.live.get(taskId);
  if (record.status !== 'running' || !live || live.done || live.pending) {
    const why = live?.pending ? 'is waiting in its transport\'s queue' : `is ${record.status}`;
    throw new StdinError('TASK_NOT_RUNNING', `task ${taskId} ${why}: input goes only to a running task`, { taskId });
  }
  // Running, but its transport's start() has not resolved yet: the channel holds the input
  // until the runner attaches it to the attempt's handle (or ends it).
  live.stdin ??= new StdinChannel(live.transport, taskId, live.handle);
  return { record, channel: live.stdin };
}

// Input written: whatever the task was waiting for may have come.
function inputGiven(runner: TaskRunner, record: TaskRecord): void {
  const live = runner.live.get(record.id);
  if (live) live.inputWantedPolls = 0;
  if (record.awaitingInput === undefined) return;
  delete record.awaitingInput;
  runner.persist(record);
  runner.notify(record.id);
}

/** `executor.write()`: see its TSDoc. */
export function writeStdin(runner: TaskRunner, id: unknown, data: unknown): Promise<void> {
  let bytes: Uint8Array;
  let target: ReturnType<typeof channelOf>;
  try {
    bytes = dataArg(data);
    target = channelOf(runner, id);
  } catch (err) {
    return Promise.reject(err);
  }
  return target.channel.write(bytes).then(() => inputGiven(runner, target.record));
}

/** `executor.closeStdin()`: see its TSDoc. */
export function closeStdin(runner: TaskRunner, id: unknown): Promise<void> {
  let target: ReturnType<typeof channelOf>;
  try {
    target = channelOf(runner, id);
  } catch (err) {
    return Promise.reject(err);
  }
  return target.channel.close().then(() => inputGiven(runner, target.record));
}

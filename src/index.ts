/**
 * The main entry point (`bgexec`): {@link BackgroundExecutor} runs shell commands in the
 * background with a priority scheduler ({@link PriorityScheduler}), retries, process-tree
 * timeouts, output kept on disk and read by byte cursor, and state kept in a {@link Store}
 * ({@link MemoryStore}, or {@link JsonDirStore} to survive a crash). Tasks run locally through
 * {@link LocalTransport}; `bgexec/ssh` and `bgexec/vagrant` add remote hosts, `bgexec/testing`
 * test doubles and `bgexec/agent` tools for language-model agents.
 * @module bgexec
 */
export { BackgroundExecutor } from './executor.js';
export { TRACE_CHANNEL } from './debug.js';
export type { TraceKind, TraceMessage } from './debug.js';
export type { CleanupOptions, ExecutorOptions, Logger, ShutdownOptions } from './executor-options.js';
export type { ExecutorMetrics } from './metrics.js';
export type { FollowOptions, OutputChunk, OutputRead, ReadOutputOptions } from './output/task-output.js';
export type {
  ExecutorErrorEvent,
  ExecutorEventName,
  ExecutorEvents,
  IdleEvent,
  TaskEndEvent,
  TaskEventBase,
  TaskOutputEvent,
  TaskRetryingEvent,
} from './events.js';
export {
  AbortedError,
  BgexecError,
  CallbackError,
  InvalidArgumentError,
  InvalidSpecError,
  NotFoundError,
  QueueFullError,
  ShuttingDownError,
  SpawnError,
  StdinError,
  StoreError,
  TransportError,
  WaitTimeoutError,
} from './errors.js';
export type { BgexecErrorOptions, ErrorCode, ErrorInfo } from './errors.js';
export { PriorityScheduler } from './scheduler/priority.js';
export type { PrioritySchedulerOptions } from './scheduler/priority.js';
export type { AddOptions, Scheduler, SchedulerCounts, SchedulerEntry } from './scheduler/types.js';
export { backoffDelay } from './scheduler/backoff.js';
export { MemoryStore } from './stores/memory.js';
export { JsonDirStore } from './stores/json-dir.js';
export type { JsonDirStoreOptions, JsonDirStoreStats } from './stores/json-dir.js';
export { JsonDirReader } from './stores/json-dir-reader.js';
export type { JsonDirReaderOptions, SkippedEntry, StoreOwnerInfo, StoreSnapshot } from './stores/json-dir-reader.js';
export type { Store, StoreLoadResult, StoreProblem } from './stores/types.js';
export { LocalTransport } from './transports/local.js';
export type { LocalTransportOptions } from './transports/local.js';
export type {
  ExitInfo,
  KillOptions,
  LaunchRequest,
  OutputStream,
  PollResult,
  ReadContext,
  ReadResult,
  Transport,
  TransportCapabilities,
} from './transports/types.js';
export { isTerminal, TASK_STATUSES, TERMINAL_STATUSES } from './task.js';
export type {
  AttemptInfo,
  BackoffSpec,
  RetryableStatus,
  RetryPolicy,
  StdinData,
  StoredSpec,
  TaskFilter,
  TaskRecord,
  TaskResources,
  TaskSpec,
  TaskStatus,
  TerminalStatus,
  TransportHandle,
  TtySize,
} from './task.js';
export { systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';

/**
 * Test doubles (`bgexec/testing`) for code that uses bgexec: {@link FakeTransport} plays
 * scripted outcomes (exit codes, output, hangs, spawn failures, replies to input) without
 * starting processes, and
 * {@link ManualClock} moves time by hand, so delays, backoff and timeouts run instantly and in a
 * fixed order. Give both to a {@link bgexec!BackgroundExecutor} (the clock through its
 * {@link bgexec!PriorityScheduler}).
 * @module bgexec/testing
 */
export { FakeTransport } from './fake-transport.js';
export type { FakeCall, FakeMatcher, FakeMethod, FakeOutcome, FakeTransportOptions } from './fake-transport.js';
export type { FakeInput, FakeInputHandler, FakeTask } from './fake-input.js';
export { ManualClock } from './manual-clock.js';

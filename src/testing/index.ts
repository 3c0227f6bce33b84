export { FakeTransport } from './fake-transport.js';
export type { FakeCall, FakeMatcher, FakeMethod, FakeOutcome, FakeTransportOptions } from './fake-transport.js';
export { ManualClock } from './manual-clock.js';

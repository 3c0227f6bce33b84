// Fixtures of the SSH transport tests: one real sshd per test file, transports against it.
import { afterAll } from 'vitest';
import type { Transport } from '../../src/transports/types.js';
import { SshTransport, type SshTransportOptions } from '../../src/transports/ssh/ssh-transport.js';
import { sshUnavailable, startSshd, type Sshd } from '../harness/sshd.js';
import type { TransportFixture } from './_contract.js';
import { contractFixture, describeSkippedBecause, shellExecutorFixture } from './_contract-fixture.js';
import type { ExecutorFixture } from './_executor-contract.js';

/** Why these tests skip (binaries missing), or undefined. */
export const skipReason = sshUnavailable();

/** Registers a single skipped test that says why, when the SSH binaries are absent. */
export function describeSkipped(name: string): void {
  describeSkippedBecause(name, skipReason);
}

let server: Promise<Sshd> | undefined;
// Registered while the test file is collected (this module is imported then), so it runs after
// the file's tests; a hook registered later, from inside a test, would never run.
afterAll(async () => {
  const s = server;
  server = undefined;
  if (s) await (await s).close();
});

/** The file's sshd, started on first use and stopped after the file's tests. */
export function sshd(): Promise<Sshd> {
  server ??= startSshd();
  return server;
}

/** Fast polling, so that the tests do not wait on the idle backoff. */
export const FAST: Partial<SshTransportOptions> = { pollIntervalMs: 25, maxPollIntervalMs: 200 };

/** A transport fixture for the contract suite; `make` builds the transport under test. */
export function transportFixture(make: (s: Sshd) => Promise<Transport> | Transport, close = true) {
  return async (): Promise<TransportFixture> => {
    const transport = await make(await sshd());
    return contractFixture(transport, close ? { after: () => transport.close() } : {});
  };
}

/** An executor fixture for the executor contract suite. */
export function executorFixture(make: (s: Sshd) => Promise<Transport> | Transport) {
  return async (): Promise<ExecutorFixture> => shellExecutorFixture(await make(await sshd()), 4);
}

/** A new SshTransport against the file's sshd. */
export function sshTransport(s: Sshd, extra: Parameters<Sshd['options']>[0] = {}): SshTransport {
  return new SshTransport(s.options({ ...FAST, ...extra }));
}

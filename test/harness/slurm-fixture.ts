// Fixtures of the Slurm transport tests: the shared test cluster, a shared root per file, and
// the contract-suite fixtures for SlurmTransport.
import { afterAll } from 'vitest';
import { SlurmTransport } from '../../src/transports/slurm/slurm-transport.js';
import type { SlurmTransportOptions } from '../../src/transports/slurm/options.js';
import type { TransportHandle } from '../../src/task.js';
import type { LaunchRequest, Transport } from '../../src/transports/types.js';
import type { TransportFixture } from '../transports/_contract.js';
import { contractFixture, describeSkippedBecause, shellExecutorFixture } from '../transports/_contract-fixture.js';
import type { ExecutorFixture } from '../transports/_executor-contract.js';
import { SLURM_ENV, ensureSlurm, makeSharedRoot, slurmUnavailable } from './slurm.js';

/** Why these tests skip, or undefined. */
export const skipReason = slurmUnavailable();

/** Registers a single skipped test that says why. */
export function describeSkipped(name: string): void {
  describeSkippedBecause(name, skipReason);
}

let root: ReturnType<typeof makeSharedRoot> | undefined;
// Registered while the file is collected, so it runs after the file's tests.
afterAll(() => {
  root?.remove();
  root = undefined;
});

/** The file's shared root, created on first use. */
export function sharedRoot(): string {
  root ??= makeSharedRoot();
  return root.dir;
}

/** A SlurmTransport on the test cluster, polling fast. */
export function slurmTransport(extra: Partial<SlurmTransportOptions> = {}): SlurmTransport {
  return new SlurmTransport({ sharedRoot: sharedRoot(), env: SLURM_ENV, pollMs: 100, markerGraceMs: 1500, ...extra });
}

/**
 * The transport as the contract suite sees it: `start()` resolves once the job runs (the contract
 * says "once the process exists"), as the executor waits with `whenRunning()` before it counts an
 * attempt as started. A kill while the job still waits in the queue ends it without a signal
 * (`cancelled_before_start`), which the Slurm tests check on their own.
 */
function startedWhenRunning(transport: SlurmTransport): Transport {
  return new Proxy(transport, {
    get(target, key, receiver) {
      if (key !== 'start') {
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      }
      return async (req: LaunchRequest): Promise<TransportHandle> => {
        const handle = await target.start(req);
        return handle['pending'] === true && (await target.whenRunning(handle)) ? { ...handle, pending: false } : handle;
      };
    },
  });
}

/** A transport fixture for the contract suite. */
export function transportFixture() {
  return async (): Promise<TransportFixture> => {
    await ensureSlurm();
    const transport = slurmTransport();
    return contractFixture(startedWhenRunning(transport), { after: () => transport.close() });
  };
}

/** An executor fixture for the executor contract suite. */
export function executorFixture() {
  return async (): Promise<ExecutorFixture> => {
    await ensureSlurm();
    return shellExecutorFixture(slurmTransport(), 8);
  };
}

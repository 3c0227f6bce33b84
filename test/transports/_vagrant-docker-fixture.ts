// Fixtures of the tests against a real Vagrant machine (docker provider, see
// test/harness/vagrant-docker.ts): contract fixtures for a VagrantTransport, and small helpers.
import { beforeAll } from 'vitest';
import type { Transport } from '../../src/transports/types.js';
import { vagrantDockerUnavailable, vagrantDockerUp, type VagrantDockerMachines, type VagrantDockerProject } from '../harness/vagrant-docker.js';
import type { TransportFixture } from './_contract.js';
import { contractFixture, describeSkippedBecause, shellExecutorFixture } from './_contract-fixture.js';
import type { ExecutorFixture } from './_executor-contract.js';

/** Why these tests skip, or undefined. */
export const dockerSkipReason = vagrantDockerUnavailable();

/** Registers one skipped test that says why. */
export function describeDockerSkipped(name: string): void {
  describeSkippedBecause(name, dockerSkipReason);
}

// Bringing a project up builds the image the first time (a minute or two), hence the long hook.
const UP_MS = 600_000;

/**
 * Registers a file-level `beforeAll` that brings `project` up; the returned function gives the
 * machines afterwards.
 */
export function useVagrantDocker(project: VagrantDockerProject): () => VagrantDockerMachines {
  let machines: VagrantDockerMachines | undefined;
  beforeAll(async () => {
    const t0 = Date.now();
    machines = await vagrantDockerUp(project);
    console.log(`vagrant-docker: project ${project} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, UP_MS);
  return () => {
    if (machines === undefined) throw new Error(`vagrant-docker project ${project} is not up`);
    return machines;
  };
}

/** A transport fixture for the contract suite over `make()` (kept open: the file closes it). */
export function dockerTransportFixture(make: () => Promise<Transport>) {
  return async (): Promise<TransportFixture> => contractFixture(await make());
}

/** An executor fixture for the executor contract suite over `make()`. */
export function dockerExecutorFixture(make: () => Promise<Transport>) {
  return async (): Promise<ExecutorFixture> => shellExecutorFixture(await make(), 4);
}

/** Polls `check` every 100 ms until it returns a value other than undefined; fails after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// VagrantTransport passes the same contracts as every transport, through the fixture machine
// (the real vagrant binary, an inline provider, the test sshd) — and all the operations of
// both suites cost exactly two vagrant processes: `status` and `ssh-config`, asked once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../src/transports/types.js';
import { VagrantTransport } from '../../src/transports/vagrant.js';
import { vagrantFixture, vagrantUnavailable, type VagrantFixture } from '../harness/vagrant.js';
import { describeExecutorContract } from './_executor-contract.js';
import { describeTransportContract } from './_contract.js';
import { describeSkipped, executorFixture, skipReason, sshd, transportFixture } from './_ssh-fixture.js';

const why = skipReason ?? vagrantUnavailable();

if (why !== undefined) describeSkipped(`VagrantTransport contract (${why})`);
else {
  let fixture: VagrantFixture | undefined;
  let shared: VagrantTransport | undefined;
  let operations = 0;
  // One transport for the whole file, so that its cached vagrant answer is what is counted.
  // Every call through the wrapper counts as one operation; close() is left to afterAll.
  async function transport(): Promise<Transport> {
    if (shared === undefined) {
      fixture = vagrantFixture(await sshd());
      shared = new VagrantTransport(fixture.options());
    }
    const t = shared;
    const count = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => (...a: A) => {
      operations++;
      return fn(...a);
    };
    return {
      kind: t.kind,
      start: count((r) => t.start(r)),
      wait: count((h) => t.wait(h)),
      poll: count((h) => t.poll(h)),
      read: count((h, s, o, l) => t.read(h, s, o, l)),
      kill: count((h, o) => t.kill(h, o)),
      cleanup: count((h) => t.cleanup(h)),
      probe: count((id, a) => t.probe(id, a)),
      close: async () => {},
    };
  }
  // vagrant's two answers (seconds each on a loaded machine) are asked here, not inside a test's time limit.
  beforeAll(async () => {
    await (await transport()).probe!('warm-up', 1);
  }, 120_000);
  afterAll(async () => {
    await shared?.close();
    fixture?.close();
  });

  describeTransportContract('VagrantTransport', transportFixture(() => transport(), false));
  describeExecutorContract('VagrantTransport', executorFixture(() => transport()));

  describe('VagrantTransport: vagrant processes', () => {
    it('spawned 2 vagrant processes (status + ssh-config) for all the operations above', () => {
      expect(operations).toBeGreaterThan(100);
      expect(fixture?.calls()).toEqual(['status build --machine-readable', 'ssh-config build --machine-readable']);
      expect(shared?.vagrantCalls).toBe(2);
    });
  });
}

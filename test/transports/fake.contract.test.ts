import { ManualClock } from '../../src/testing/manual-clock.js';
import { FakeTransport, type FakeOutcome } from '../../src/testing/fake-transport.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { contractTaskId, describeTransportContract, fakeOutcome, killLeftovers, type ContractOutcome } from './_contract.js';

// The fake is driven by a ManualClock, so every time-based case runs only when tick() says so.
describeTransportContract('FakeTransport', async () => {
  const clock = new ManualClock(1_000_000);
  const transport = new FakeTransport({ clock });
  const requests: LaunchRequest[] = [];

  const build = (outcome: FakeOutcome, extra: Partial<LaunchRequest> = {}): LaunchRequest => {
    const taskId = contractTaskId();
    transport.script(taskId, outcome);
    const req: LaunchRequest = { taskId, attempt: 1, command: `contract ${taskId}`, detached: false, ...extra };
    requests.push(req);
    return req;
  };

  return {
    transport,
    request: (o: ContractOutcome, extra?: Partial<LaunchRequest>) => build(fakeOutcome(o), extra),
    spawnFailure: () => build({ spawnError: 'spawn /nonexistent/program ENOENT' }),
    tick: async (ms) => {
      // Let work in flight (e.g. a kill that sets its grace timer after an await) reach the clock first.
      await new Promise((r) => setImmediate(r));
      await clock.advance(ms);
    },
    now: () => clock.now(),
    // The fake runs nothing, so "seen" means what it recorded of the request it was given.
    envSeen: async (handle, name) =>
      transport.started.find((r) => r.taskId === handle.taskId && r.attempt === handle.attempt)?.env?.[name],
    teardown: async () => {
      await killLeftovers(transport, requests);
      await transport.close();
    },
  };
});

// The complete example of docs/testing.md, verified: the code between the markers below must be
// the code block of the doc (imports there say 'bgexec' and 'bgexec/testing').
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// --- docs:begin
import { BackgroundExecutor, PriorityScheduler } from '../src/index.js';
import { FakeTransport, ManualClock } from '../src/testing/index.js';

// The code under test: a deploy with retries and a timeout, summarized in one line.
async function deploy(ex: BackgroundExecutor): Promise<string> {
  const task = await ex.submit({
    command: './deploy.sh',
    timeoutMs: 60_000,
    retry: { attempts: 3, backoff: { type: 'fixed', delayMs: 5_000 } },
  });
  const done = await ex.wait(task.id);
  const last = await ex.readOutput(task.id, { tail: 1 });
  return `${done.status} after ${done.attempt} attempt(s): ${last.text.trim()}`;
}

// One clock for the scheduler (delays, backoff, timeouts) and the fake (run times, kill grace).
function setup() {
  const clock = new ManualClock();
  const fake = new FakeTransport({ clock });
  const ex = new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) });
  return { clock, fake, ex };
}

describe('deploy', () => {
  it('retries a failed deploy after the backoff', async () => {
    const { clock, fake, ex } = setup();
    fake.script(
      './deploy.sh',
      { exitCode: 1, stderr: 'registry unavailable\n' }, // attempt 1
      { exitCode: 0, stdout: 'deployed v42\n', delayMs: 2_000 }, // attempt 2 runs 2 s
    );
    const retrying = new Promise((resolve) => ex.once('task:retrying', resolve));
    const result = deploy(ex);
    await retrying; // attempt 1 failed; attempt 2 waits out the backoff
    await clock.advance(5_000); // the backoff passes: attempt 2 starts
    await clock.advance(2_000); // attempt 2 ends
    expect(await result).toBe('completed after 2 attempt(s): deployed v42');
    expect(fake.started.map((r) => r.attempt)).toEqual([1, 2]);
    await ex.shutdown();
  });

  it('kills a deploy that hangs past its timeout, and does not retry it', async () => {
    const { clock, fake, ex } = setup();
    fake.script('./deploy.sh', { hang: true, stdout: 'waiting for lock…\n' });
    const started = new Promise((resolve) => ex.once('task:started', resolve));
    const result = deploy(ex);
    await started;
    await clock.advance(60_000); // the timeout fires; the fake dies on SIGTERM
    expect(await result).toBe('timed_out after 1 attempt(s): waiting for lock…');
    expect(fake.calls.filter((c) => c.method === 'kill')).toHaveLength(1);
    await ex.shutdown();
  });
});
// --- docs:end

describe('docs/testing.md', () => {
  it('shows exactly the code above', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const code = self.slice(self.indexOf('// --- docs:begin\n') + 18, self.indexOf('// --- docs:end'));
    const expected = code.replace("'../src/index.js'", "'bgexec'").replace("'../src/testing/index.js'", "'bgexec/testing'");
    const doc = readFileSync(`${root}/docs/testing.md`, 'utf8');
    const block = /```ts\n(import \{ describe[\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBe(`import { describe, expect, it } from 'vitest';\n${expected}`);
  });
});

// What a call rejects with when its AbortSignal fires: the signal's reason (as fetch, p-queue
// and signal.throwIfAborted() do), so `err === signal.reason` and `err.name === 'AbortError'`
// both hold for a plain abort(); a reason of the caller's own comes back unchanged; with no
// reason at all an AbortedError (name AbortError, code ABORTED) stands in.
import { describe, expect, it } from 'vitest';
import { AbortedError, abortRejection } from '../../src/errors.js';
import { fakeExecutor, flush } from '../helpers.js';

describe('abort rejections follow the platform convention', () => {
  it('wait(): abort() rejects with the DOMException AbortError that is signal.reason; the task goes on', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true });
    const t = await ex.submit({ command: 'h' });
    const ac = new AbortController();
    const p = ex.wait(t.id, { signal: ac.signal });
    ac.abort();
    const err = await p.catch((e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe('AbortError');
    expect(ex.get(t.id)?.status).toBe('running');
    await ex.shutdown();
  });

  it('wait(): a reason chosen by the caller, and AbortSignal.timeout(), come back unchanged', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true });
    const t = await ex.submit({ command: 'h' });
    const mine = new Error('user pressed stop');
    const ac = new AbortController();
    const p = ex.wait(t.id, { signal: ac.signal });
    ac.abort(mine);
    await expect(p).rejects.toBe(mine);
    // Already aborted before the call.
    await expect(ex.wait(t.id, { signal: AbortSignal.abort(mine) })).rejects.toBe(mine);
    const timed = await ex.wait(t.id, { signal: AbortSignal.timeout(5) }).catch((e: unknown) => e);
    expect((timed as DOMException).name).toBe('TimeoutError');
    await ex.shutdown();
  });

  it('follow(): aborting makes the iteration throw signal.reason, also while it waits for output', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true, stdout: 'first\n' });
    const t = await ex.submit({ command: 'h' });
    await flush();
    const ac = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const chunk of ex.follow(t.id, { signal: ac.signal })) {
        seen.push(chunk.text);
        if (seen.length > 10) break;
      }
    })();
    await flush(20);
    ac.abort();
    const err = await loop.then(() => 'ended quietly', (e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    expect(seen.join('')).toBe('first\n');
    // A signal aborted before the call throws at the first next().
    const it2 = ex.follow(t.id, { signal: AbortSignal.abort('why') })[Symbol.asyncIterator]();
    await expect(it2.next()).rejects.toBe('why');
    await ex.shutdown();
  });

  it('submit(): a spec whose signal is already aborted is refused with signal.reason and nothing is queued', async () => {
    const { ex } = fakeExecutor();
    const ac = new AbortController();
    ac.abort();
    await expect(ex.submit({ command: 'true', signal: ac.signal })).rejects.toBe(ac.signal.reason);
    expect(ex.list()).toEqual([]);
    await ex.shutdown();
  });

  it('a signal with no reason (null) gives an AbortedError: name AbortError, code ABORTED', async () => {
    const { ex, fake } = fakeExecutor();
    fake.script('h', { hang: true });
    const t = await ex.submit({ command: 'h' });
    const ac = new AbortController();
    const p = ex.wait(t.id, { signal: ac.signal });
    ac.abort(null);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortedError);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORTED', taskId: t.id });
    expect(abortRejection(AbortSignal.abort(null))).toMatchObject({ name: 'AbortError', code: 'ABORTED' });
    await ex.shutdown();
  });
});

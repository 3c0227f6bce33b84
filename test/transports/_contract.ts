import { Buffer } from 'node:buffer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeOutcome } from '../../src/testing/fake-transport.js';
import type { TransportHandle } from '../../src/task.js';
import type { LaunchRequest, OutputStream, Transport } from '../../src/transports/types.js';

/** How a contract attempt should behave; each fixture turns it into something its transport runs. */
export interface ContractOutcome {
  exitCode?: number;
  /** Written first (after an `ignoreTerm` trap is in place), then `stderr`. */
  stdout?: string;
  stderr?: string;
  /** Runs this long before exiting. */
  durationMs?: number;
  /** Runs until killed. */
  hang?: boolean;
  /** Ignores SIGTERM (the whole tree), so only SIGKILL ends it. */
  ignoreTerm?: boolean;
  /** Name of an environment variable the attempt should observe (see {@link TransportFixture.envSeen}). */
  echoEnv?: string;
}

/** What a transport's test file supplies to {@link describeTransportContract}. */
export interface TransportFixture {
  transport: Transport;
  /** A launch request whose attempt behaves as described. Fresh taskId each call. */
  request(outcome: ContractOutcome, extra?: Partial<LaunchRequest>): LaunchRequest;
  /** A launch request that cannot start (missing program or cwd). */
  spawnFailure(): LaunchRequest;
  /** Advances time for fake clocks (no-op for real transports that use real time). */
  tick(ms: number): Promise<void>;
  /** The transport's clock, in the unit of `ExitInfo.endedAt`. */
  now(): number;
  /**
   * The value of `name` as the ended attempt of `handle` saw it (undefined: unset). The request
   * must have been built with `echoEnv: name`. A real transport answers from what the process
   * printed; a fake answers from what it recorded of the request.
   */
  envSeen(handle: TransportHandle, name: string): Promise<string | undefined>;
  teardown(): Promise<void>;
}

const ALL = 1 << 20;
// Multi-byte UTF-8 (2, 3 and 4 bytes), shell metacharacters, quotes, printf directives, newlines.
const OUT = `out: héllo ✓ 𝄞 it's "q" $HOME \`x\` %s %% \\n\nline 2\n`;
const ERR = 'err: wörld ⚠ 🚀\n';

/**
 * Registers the transport contract suite: the behaviour the executor relies on from every
 * {@link Transport}. Each test file calls it with a fixture factory for its transport.
 */
export function describeTransportContract(name: string, makeFixture: () => Promise<TransportFixture>): void {
  describe(`${name} transport contract`, () => {
    let fx: TransportFixture;
    let t: Transport;

    beforeEach(async () => {
      fx = await makeFixture();
      t = fx.transport;
    });
    afterEach(async () => {
      await fx.teardown();
    });

    async function run(outcome: ContractOutcome, extra?: Partial<LaunchRequest>) {
      const handle = await t.start(fx.request(outcome, extra));
      const waiting = t.wait(handle);
      await fx.tick(outcome.durationMs ?? 0);
      return { handle, exit: await waiting };
    }
    const readAll = async (h: TransportHandle, stream: OutputStream) => (await t.read(h, stream, 0, ALL)).data;

    /** Polls (ticking fake time) until `accept` holds; fails after ~10 s of real time. */
    async function pollUntil(h: TransportHandle, accept: (p: Awaited<ReturnType<Transport['poll']>>) => boolean) {
      for (let i = 0; i < 1000; i++) {
        const p = await t.poll(h);
        if (accept(p)) return p;
        await fx.tick(10);
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('pollUntil: condition never met');
    }

    it('reports exit code 0 with state exited, and empty output as zero bytes', async () => {
      const { handle, exit } = await run({ exitCode: 0 });
      expect(exit).toMatchObject({ state: 'exited', exitCode: 0, signal: null });
      expect(typeof exit.endedAt).toBe('number');
      const out = await t.read(handle, 'stdout', 0, ALL);
      expect(out.totalBytes).toBe(0);
      expect(out.data.length).toBe(0);
    });

    it('reports a non-zero exit code with state exited', async () => {
      const { exit } = await run({ exitCode: 7 });
      expect(exit).toMatchObject({ state: 'exited', exitCode: 7, signal: null });
      const high = await run({ exitCode: 255 });
      expect(high.exit).toMatchObject({ state: 'exited', exitCode: 255, signal: null });
    });

    it('keeps stdout and stderr exact and separate, multi-byte UTF-8 included', async () => {
      const { handle, exit } = await run({ stdout: OUT, stderr: ERR, exitCode: 3 });
      expect(exit.exitCode).toBe(3);
      expect((await readAll(handle, 'stdout')).equals(Buffer.from(OUT, 'utf8'))).toBe(true);
      expect((await readAll(handle, 'stderr')).equals(Buffer.from(ERR, 'utf8'))).toBe(true);
      expect((await readAll(handle, 'stdout')).toString('utf8')).toBe(OUT);
    });

    it('polls running while the attempt runs, then exited with the code wait() reports', async () => {
      const hanging = await t.start(fx.request({ hang: true, stdout: 'x' }));
      const running = await t.poll(hanging);
      expect(running.state).toBe('running');
      expect(running.exit).toBeUndefined();
      await t.kill(hanging, { graceMs: 1000 });

      const t0 = fx.now();
      const handle = await t.start(fx.request({ durationMs: 400, exitCode: 4, stdout: OUT, stderr: ERR }));
      expect((await t.poll(handle)).state).toBe('running');
      const waiting = t.wait(handle);
      await fx.tick(400);
      const exit = await waiting;
      expect(exit).toMatchObject({ state: 'exited', exitCode: 4 });
      // It ran its whole duration, and endedAt is a time on the transport's clock.
      expect(exit.endedAt - t0).toBeGreaterThanOrEqual(400 - 25);
      expect(exit.endedAt).toBeLessThanOrEqual(fx.now());
      const after = await t.poll(handle);
      expect(after.state).toBe('exited');
      expect(after.exit?.exitCode).toBe(4);
      expect(after.exit?.state).toBe('exited');
      expect(after.stdoutBytes).toBe(Buffer.byteLength(OUT));
      expect(after.stderrBytes).toBe(Buffer.byteLength(ERR));
    });

    it('reads exact byte ranges at offsets and reports totalBytes', async () => {
      const { handle } = await run({ stdout: OUT });
      const bytes = Buffer.from(OUT, 'utf8');
      const total = bytes.length;
      // Ranges that start and end inside multi-byte characters must still be exact bytes.
      for (const [offset, length] of [[0, 1], [0, 9], [7, 3], [8, 1], [13, 5], [total - 4, 4], [total - 1, 100], [total, 10], [total + 5, 10], [3, 0]] as const) {
        const r = await t.read(handle, 'stdout', offset, length);
        expect(r.totalBytes).toBe(total);
        expect(r.data.equals(bytes.subarray(offset, offset + length))).toBe(true);
      }
      const err = await t.read(handle, 'stderr', 0, ALL);
      expect(err.totalBytes).toBe(0);
    });

    it('gives equal results to repeated and concurrent wait() calls', async () => {
      const handle = await t.start(fx.request({ durationMs: 100, exitCode: 5 }));
      const both = Promise.all([t.wait(handle), t.wait(handle)]);
      await fx.tick(100);
      const [a, b] = await both;
      const c = await t.wait(handle);
      expect(a.exitCode).toBe(5);
      expect(b).toEqual(a);
      expect(c).toEqual(a);
    });

    it('kills a hanging attempt with SIGTERM, without waiting out the grace', async () => {
      const handle = await t.start(fx.request({ hang: true }));
      const before = Date.now();
      await t.kill(handle, { graceMs: 10_000 });
      expect(Date.now() - before).toBeLessThan(5_000);
      const exit = await t.wait(handle);
      expect(exit).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGTERM' });
      expect((await t.poll(handle)).state).toBe('exited');
    });

    it('kills an attempt that ignores SIGTERM with SIGKILL after the grace', async () => {
      const grace = 300;
      // The marker is written after the TERM trap is installed, so TERM cannot arrive too early.
      const handle = await t.start(fx.request({ hang: true, ignoreTerm: true, stdout: 'ready' }));
      await pollUntil(handle, (p) => p.stdoutBytes >= 5);
      const t0 = fx.now();
      const killing = t.kill(handle, { graceMs: grace });
      await fx.tick(grace);
      await killing;
      const exit = await t.wait(handle);
      expect(exit).toMatchObject({ state: 'exited', exitCode: null, signal: 'SIGKILL' });
      // Slack for real clocks whose endedAt comes from a coarser source than ours.
      expect(exit.endedAt - t0).toBeGreaterThanOrEqual(grace - 25);
    });

    it('treats kill of an ended attempt as a no-op', async () => {
      const { handle, exit } = await run({ exitCode: 6, stdout: 'done' });
      await t.kill(handle, { graceMs: 100 });
      await t.kill(handle, { graceMs: 100, signal: 'SIGKILL' });
      await fx.tick(100);
      expect(await t.wait(handle)).toEqual(exit);
      const p = await t.poll(handle);
      expect(p.state).toBe('exited');
      expect(p.exit).toMatchObject({ exitCode: 6, signal: null });
      expect((await readAll(handle, 'stdout')).toString()).toBe('done');
    });

    it('rejects with SPAWN_FAILED when the attempt cannot start', async () => {
      await expect(t.start(fx.spawnFailure())).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
    });

    it('never starts the same (taskId, attempt) twice', async () => {
      const req = fx.request({ exitCode: 0 });
      const first = await t.start(req);
      await t.wait(first);
      await expect(t.start({ ...req })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });

      const racing = fx.request({ durationMs: 50 });
      const results = await Promise.allSettled([t.start(racing), t.start({ ...racing })]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]?.reason).toMatchObject({ code: 'SPAWN_FAILED' });
      if (won[0]?.status === 'fulfilled') {
        const waiting = t.wait(won[0].value);
        await fx.tick(50);
        await waiting;
      }
    });

    it('rejects reads with OUTPUT_GONE after cleanup, and cleanup twice is safe', async () => {
      const { handle } = await run({ stdout: 'bytes' });
      expect((await readAll(handle, 'stdout')).toString()).toBe('bytes');
      await t.cleanup(handle);
      await expect(t.read(handle, 'stdout', 0, ALL)).rejects.toMatchObject({ code: 'OUTPUT_GONE' });
      await expect(t.read(handle, 'stderr', 0, ALL)).rejects.toMatchObject({ code: 'OUTPUT_GONE' });
      await t.cleanup(handle);
    });

    it('probe finds a started attempt (usable as a handle) and not an unknown one', async (ctx) => {
      if (t.probe === undefined) ctx.skip();
      const probe = t.probe!.bind(t);
      const req = fx.request({ stdout: 'probed', exitCode: 2 });
      const handle = await t.start(req);
      const exit = await t.wait(handle);
      const found = await probe(req.taskId, req.attempt);
      expect(found).toMatchObject({ kind: t.kind, taskId: req.taskId, attempt: req.attempt });
      // A handle that went through JSON (as it does in a durable store) still works.
      const revived = JSON.parse(JSON.stringify(found)) as TransportHandle;
      expect(await t.wait(revived)).toEqual(exit);
      expect((await readAll(revived, 'stdout')).toString()).toBe('probed');
      expect(await probe(req.taskId, req.attempt + 1)).toBeUndefined();
      expect(await probe(`${req.taskId}-unknown`, 1)).toBeUndefined();
    });

    it('passes the request env to the attempt', async () => {
      const value = `it's a "välue" with $dollar, \`ticks\` and\nnewline`;
      const { handle, exit } = await run(
        { echoEnv: 'BGEXEC_CONTRACT_VALUE' },
        { env: { BGEXEC_CONTRACT_VALUE: value, BGEXEC_CONTRACT_OTHER: 'x' } },
      );
      expect(exit.exitCode).toBe(0);
      expect(await fx.envSeen(handle, 'BGEXEC_CONTRACT_VALUE')).toBe(value);
      const bare = await run({ echoEnv: 'BGEXEC_CONTRACT_VALUE' });
      expect(await fx.envSeen(bare.handle, 'BGEXEC_CONTRACT_VALUE')).toBeUndefined();
    });
  });
}

/** Kills and cleans up whatever the fixture's requests left running (used by teardowns). */
export async function killLeftovers(transport: Transport, requests: readonly LaunchRequest[]): Promise<void> {
  if (transport.probe === undefined) return;
  for (const req of requests) {
    const handle = await transport.probe(req.taskId, req.attempt).catch(() => undefined);
    if (handle === undefined) continue;
    const state = await transport.poll(handle).catch(() => undefined);
    if (state?.state === 'running') await transport.kill(handle, { graceMs: 0, signal: 'SIGKILL' }).catch(() => {});
    await transport.cleanup(handle).catch(() => {});
  }
}

let counter = 0;
/** A fresh task id matching `^[A-Za-z0-9_-]+$`. */
export function contractTaskId(): string {
  counter += 1;
  return `ct_${process.pid}_${counter}_${Math.random().toString(36).slice(2, 8)}`;
}

/** The FakeTransport outcome that behaves as `o` describes (shared by the fake's fixtures). */
export function fakeOutcome(o: ContractOutcome): FakeOutcome {
  return {
    ...(o.exitCode === undefined ? {} : { exitCode: o.exitCode }),
    ...(o.stdout === undefined ? {} : { stdout: o.stdout }),
    ...(o.stderr === undefined ? {} : { stderr: o.stderr }),
    ...(o.durationMs === undefined ? {} : { delayMs: o.durationMs }),
    ...(o.hang ? { hang: true } : {}),
    ...(o.ignoreTerm ? { ignoreTerm: true } : {}),
  };
}

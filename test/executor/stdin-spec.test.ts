// TaskSpec.stdin / tty: validation, what the transport is given, refusal where the transport
// cannot, the stored form across a restart, and awaitingInput / task:input_wanted.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { JsonDirStore } from '../../src/stores/json-dir.js';
import { FakeTransport, ManualClock } from '../../src/testing/index.js';
import { MAX_STDIN_DATA_BYTES } from '../../src/validate-stdin.js';
import { fakeExecutor, flush } from '../helpers.js';

describe('spec.stdin and spec.tty', () => {
  it('stores every accepted form and hands the transport the bytes', async () => {
    const { ex, fake } = fakeExecutor({ concurrency: 50 });
    fake.script(/.*/, { hang: true });
    const cases: Array<[unknown, unknown, Buffer | 'pipe' | undefined]> = [
      ['ignore', undefined, undefined],
      ['pipe', 'pipe', 'pipe'],
      ['héllo\n', { data: 'héllo\n', encoding: 'utf8' }, Buffer.from('héllo\n')],
      ['', { data: '', encoding: 'utf8' }, Buffer.alloc(0)],
      [new Uint8Array([0, 1, 255]), { data: 'AAH/', encoding: 'base64' }, Buffer.from([0, 1, 255])],
      [{ data: 'pipe' }, { data: 'pipe', encoding: 'utf8' }, Buffer.from('pipe')],
      [{ data: 'AAH/', encoding: 'base64' }, { data: 'AAH/', encoding: 'base64' }, Buffer.from([0, 1, 255])],
    ];
    for (const [given, stored, sent] of cases) {
      const t = await ex.submit({ command: 'x', stdin: given as never });
      expect(t.spec.stdin, JSON.stringify(given)).toEqual(stored);
      await flush();
      const request = fake.started.find((r) => r.taskId === t.id)!;
      if (sent === undefined) expect(request.stdin).toBeUndefined();
      else if (sent === 'pipe') expect(request.stdin).toBe('pipe');
      else expect(Buffer.from(request.stdin as Uint8Array).equals(sent)).toBe(true);
    }
    const tty = [[true, { cols: 80, rows: 24 }], [{ cols: 120 }, { cols: 120, rows: 24 }], [{ cols: 1, rows: 4096 }, { cols: 1, rows: 4096 }], [false, undefined]] as const;
    for (const [given, stored] of tty) {
      const t = await ex.submit({ command: 'x', tty: given });
      expect(t.spec.tty).toEqual(stored);
      await flush();
      expect(fake.started.find((r) => r.taskId === t.id)!.tty).toEqual(stored);
    }
    // A stored spec submits again as it is.
    const again = await ex.submit({ ...(await ex.submit({ command: 'x', stdin: new Uint8Array([7]), tty: true })).spec });
    expect(again.spec).toMatchObject({ stdin: { data: 'Bw==', encoding: 'base64' }, tty: { cols: 80, rows: 24 } });
    await ex.shutdown();
  });

  it('refuses bad forms with INVALID_SPEC naming the field', async () => {
    const { ex } = fakeExecutor();
    const bad: Array<[unknown, string]> = [
      [{ stdin: 42 }, 'stdin'],
      [{ stdin: null }, 'stdin'],
      [{ stdin: ['a'] }, 'stdin'],
      [{ stdin: 'x'.repeat(MAX_STDIN_DATA_BYTES + 1) }, 'stdin'],
      [{ stdin: '€'.repeat(Math.floor(MAX_STDIN_DATA_BYTES / 3) + 1) }, 'stdin'], // counted in bytes
      [{ stdin: new Uint8Array(MAX_STDIN_DATA_BYTES + 1) }, 'stdin'],
      [{ stdin: { data: 'AAH' , encoding: 'base64' } }, 'stdin.data'],
      [{ stdin: { data: 'AA H/', encoding: 'base64' } }, 'stdin.data'],
      [{ stdin: { data: '!!!!', encoding: 'base64' } }, 'stdin.data'],
      [{ stdin: { data: 1 } }, 'stdin.data'],
      [{ stdin: { data: 'a', encoding: 'hex' } }, 'stdin.encoding'],
      [{ stdin: { data: 'a', extra: 1 } }, 'stdin.extra'],
      [{ tty: 'yes' }, 'tty'],
      [{ tty: { cols: 0 } }, 'tty.cols'],
      [{ tty: { rows: 4097 } }, 'tty.rows'],
      [{ tty: { cols: 1.5 } }, 'tty.cols'],
      [{ tty: { cols: '80' } }, 'tty.cols'],
      [{ tty: { width: 80 } }, 'tty.width'],
    ];
    for (const [extra, field] of bad) {
      await expect(ex.submit({ command: 'x', ...(extra as object) }), JSON.stringify(extra).slice(0, 80)).rejects.toMatchObject({ code: 'INVALID_SPEC', field });
    }
    // Exactly the limit is fine.
    await expect(ex.submit({ command: 'x', stdin: Buffer.alloc(MAX_STDIN_DATA_BYTES) })).resolves.toBeDefined();
    await ex.shutdown();
  });

  it('is refused at submit by a transport without the capability', async () => {
    const clock = new ManualClock();
    const fake = new FakeTransport({ clock, capabilities: { stdin: false, tty: false } });
    const ex = new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) });
    for (const stdin of ['pipe', 'data', new Uint8Array([1])]) {
      await expect(ex.submit({ command: 'x', stdin })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'stdin' });
    }
    await expect(ex.submit({ command: 'x', tty: true })).rejects.toMatchObject({ code: 'INVALID_SPEC', field: 'tty' });
    // What needs nothing is still accepted.
    await expect(ex.submit({ command: 'x', stdin: 'ignore', tty: false })).resolves.toBeDefined();
    expect(ex.list()).toHaveLength(1);
    await ex.shutdown();
  });

  it('keeps stdin and tty in the store across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bgexec-stdin-store-'));
    try {
      const make = (): { ex: BackgroundExecutor; fake: FakeTransport; clock: ManualClock } => {
        const clock = new ManualClock(1_000_000);
        const fake = new FakeTransport({ clock });
        const ex = new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }), store: new JsonDirStore({ dir }) });
        return { ex, fake, clock };
      };
      const first = make();
      await first.ex.start();
      const piped = await first.ex.submit({ command: 'repl', stdin: 'pipe', tty: { cols: 100, rows: 40 }, delayMs: 10_000 });
      const given = await first.ex.submit({ command: 'filter', stdin: new Uint8Array([0, 10, 200]), delayMs: 10_000 });
      await first.ex.shutdown({ mode: 'detach' });

      const second = make();
      await second.ex.start();
      expect(second.ex.get(piped.id)?.spec).toMatchObject({ stdin: 'pipe', tty: { cols: 100, rows: 40 } });
      expect(second.ex.get(given.id)?.spec.stdin).toEqual({ data: 'AArI', encoding: 'base64' });
      second.fake.script('repl', { hang: true });
      second.fake.script('filter', { hang: true });
      const both = new Promise<void>((resolve) => {
        let n = 0;
        second.ex.on('task:started', () => { if (++n === 2) resolve(); });
      });
      await second.clock.advance(10_000);
      await both;
      await flush();
      const byId = (id: string) => second.fake.started.find((r) => r.taskId === id)!;
      expect(byId(piped.id)).toMatchObject({ stdin: 'pipe', tty: { cols: 100, rows: 40 } });
      expect([...(byId(given.id).stdin as Uint8Array)]).toEqual([0, 10, 200]);
      await second.ex.write(piped.id, 'after restart\n');
      expect(second.fake.input(piped.id)!.text).toBe('after restart\n');
      await second.ex.shutdown();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('awaitingInput and task:input_wanted', () => {
  it('is set after two polls in a row that say so, cleared by output and by a write', async () => {
    const { ex, fake, clock } = fakeExecutor({ outputPollMs: 100 });
    fake.script('ask', { hang: true, stdout: 'name? ', awaitingInput: true });
    const wanted: string[] = [];
    ex.on('task:input_wanted', (e) => wanted.push(e.taskId));
    const t = await ex.submit({ command: 'ask', stdin: 'pipe' });
    await flush();
    await clock.advance(100); // first look: the prompt is new output
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await clock.advance(100); // second: no growth, waiting (1 of 2)
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await clock.advance(100); // third: two in a row
    expect(ex.get(t.id)?.awaitingInput).toBe(true);
    expect(wanted).toEqual([t.id]);
    await clock.advance(300); // still waiting: the event does not repeat
    expect(wanted).toEqual([t.id]);

    fake.write(t.id, 'stdout', 'more');
    await clock.advance(100);
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await clock.advance(200);
    expect(ex.get(t.id)?.awaitingInput).toBe(true);
    expect(wanted).toEqual([t.id, t.id]);

    await ex.write(t.id, 'ada\n');
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await clock.advance(100); // one look after the write is not enough
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await clock.advance(100);
    expect(ex.get(t.id)?.awaitingInput).toBe(true);
    expect(wanted).toHaveLength(3);
    fake.complete(t.id);
    expect((await ex.wait(t.id)).awaitingInput).toBeUndefined();
    await ex.shutdown();
  });

  it('needs the two looks in a row: one in between that does not say so starts the count again', async () => {
    const { ex, fake, clock } = fakeExecutor({ outputPollMs: 100 });
    fake.script('flicker', { hang: true });
    const t = await ex.submit({ command: 'flicker', stdin: 'pipe' });
    await flush();
    for (let i = 0; i < 5; i++) {
      fake.awaitInput(t.id, true);
      await clock.advance(100);
      fake.awaitInput(t.id, false);
      await clock.advance(100);
    }
    expect(ex.get(t.id)?.awaitingInput).toBeUndefined();
    await ex.shutdown();
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackgroundExecutor } from '../../src/executor.js';
import { PriorityScheduler } from '../../src/scheduler/priority.js';
import { FakeTransport, ManualClock } from '../../src/testing/index.js';
import type { LaunchRequest } from '../../src/transports/types.js';

const req = (taskId: string, extra: Partial<LaunchRequest> = {}, command = `cmd ${taskId}`): LaunchRequest =>
  ({ taskId, attempt: 1, command, detached: false, ...extra });
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function setup(options: ConstructorParameters<typeof FakeTransport>[0] = {}) {
  const clock = new ManualClock(1000);
  return { clock, fake: new FakeTransport({ clock, ...options }) };
}

describe('FakeTransport input', () => {
  it('declares stdin and tty unless told otherwise', () => {
    expect(setup().fake.capabilities).toEqual({ stdin: true, tty: true });
    expect(setup({ capabilities: { tty: false } }).fake.capabilities).toEqual({ stdin: true, tty: false });
  });

  it('records what a piped attempt was sent, in order, and its close', async () => {
    const { fake } = setup();
    fake.script('cat', { hang: true });
    const h = await fake.start(req('t', { stdin: 'pipe' }, 'cat'));
    const bytes = new Uint8Array([104, 105]);
    await fake.writeStdin(h, bytes);
    bytes[0] = 0; // the caller's buffer is copied
    await fake.writeStdin(h, Buffer.from(' there\n'));
    expect(fake.input('t')).toMatchObject({ text: 'hi there\n', closed: false });
    expect(fake.input('t')!.chunks.map((c) => c.toString())).toEqual(['hi', ' there\n']);
    await fake.closeStdin(h);
    await fake.closeStdin(h); // idempotent
    expect(fake.input('t')!.closed).toBe(true);
    await expect(fake.writeStdin(h, Buffer.from('late'))).rejects.toMatchObject({ code: 'STDIN_CLOSED' });
    expect(fake.calls.filter((c) => c.method === 'writeStdin' || c.method === 'closeStdin').map((c) => c.method))
      .toEqual(['writeStdin', 'writeStdin', 'closeStdin', 'closeStdin', 'writeStdin']);
    expect(fake.input('nope')).toBeUndefined();
  });

  it('refuses writes to an attempt not piped, ended or unknown', async () => {
    const { fake } = setup();
    fake.script('x', { hang: true });
    const plain = await fake.start(req('plain', {}, 'x'));
    await expect(fake.writeStdin(plain, Buffer.from('a'))).rejects.toMatchObject({ code: 'STDIN_NOT_PIPED' });
    const piped = await fake.start(req('piped', { stdin: 'pipe' }, 'x'));
    fake.complete('piped');
    await expect(fake.writeStdin(piped, Buffer.from('a'))).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
    await fake.closeStdin(piped); // a no-op once ended
    await expect(fake.writeStdin({ ...piped, taskId: 'ghost' }, Buffer.from('a'))).rejects.toMatchObject({ code: 'TASK_NOT_RUNNING' });
  });

  it('answers lines through onLine, ends through exit(), and holds a write while onInput is busy', async () => {
    const { fake } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const seen: string[] = [];
    fake.script('ask', {
      hang: true,
      stdout: 'name? ',
      awaitingInput: true,
      onInput: (chunk) => (chunk.toString() === 'slow\n' ? gate : undefined),
      onLine(line, task) {
        seen.push(line);
        if (line === 'bye') return task.exit(3);
        task.write('stdout', `hello ${line}\nname? `);
      },
    });
    const h = await fake.start(req('t', { stdin: 'pipe' }, 'ask'));
    expect(await fake.poll(h)).toMatchObject({ state: 'running', awaitingInput: true, stdoutBytes: 6 });
    await fake.writeStdin(h, Buffer.from('ad'));
    await fake.writeStdin(h, Buffer.from('a\nbo'));
    await fake.writeStdin(h, Buffer.from('b\n'));
    let done = false;
    const slow = fake.writeStdin(h, Buffer.from('slow\n')).then(() => { done = true; });
    await flush();
    expect(done).toBe(false);
    release();
    await slow;
    fake.awaitInput('t', false);
    expect((await fake.poll(h)).awaitingInput).toBeUndefined();
    await fake.writeStdin(h, Buffer.from('bye\n'));
    expect(await fake.wait(h)).toMatchObject({ exitCode: 3 });
    expect(seen).toEqual(['ada', 'bob', 'slow', 'bye']);
    const out = await fake.read(h, 'stdout', 0, 1000);
    expect(out.data.toString()).toBe('name? hello ada\nname? hello bob\nname? hello slow\nname? ');
  });

  it('feeds input given up front, then end-of-file, before a scripted end', async () => {
    const { fake } = setup();
    const events: string[] = [];
    fake.script('sum', {
      exitCode: 0,
      onLine: (line, task) => { events.push(`line ${line}`); task.write('stdout', `${line.length}\n`); },
      onEof: () => { events.push('eof'); },
    });
    const h = await fake.start(req('t', { stdin: Buffer.from('ab\ncde') }, 'sum'));
    expect(await fake.wait(h)).toMatchObject({ exitCode: 0 });
    expect(events).toEqual(['line ab', 'line cde', 'eof']);
    expect(fake.input('t')).toMatchObject({ text: 'ab\ncde', closed: true });
    expect((await fake.read(h, 'stdout', 0, 100)).data.toString()).toBe('2\n3\n');
    // With a pipe, onEof runs at closeStdin().
    fake.script('cat', { hang: true, onInput: (c, task) => task.write('stdout', c), onEof: (task) => task.exit(0) });
    const c = await fake.start(req('c', { stdin: 'pipe' }, 'cat'));
    await fake.writeStdin(c, Buffer.from([0, 255, 10]));
    await fake.closeStdin(c);
    expect(await fake.wait(c)).toMatchObject({ exitCode: 0 });
    expect([...(await fake.read(c, 'stdout', 0, 10)).data]).toEqual([0, 255, 10]);
  });

  it('merges stderr into stdout on a tty attempt and records the size', async () => {
    const { fake } = setup();
    fake.script('tty', { hang: true, stdout: 'a', stderr: 'b' });
    const h = await fake.start(req('t', { tty: { cols: 100, rows: 30 } }, 'tty'));
    fake.write('t', 'stderr', 'c');
    expect(await fake.poll(h)).toMatchObject({ stdoutBytes: 3, stderrBytes: 0 });
    expect(fake.started[0]!.tty).toEqual({ cols: 100, rows: 30 });
  });
});

describe('docs/testing.md input example', () => {
  it('runs, and the doc shows exactly this code', async () => {
    const clock = new ManualClock();
    const fake = new FakeTransport({ clock });
    const ex = new BackgroundExecutor({ transports: { local: fake }, scheduler: new PriorityScheduler({ clock }) });
    // --- docs:begin
fake.script('./confirm.sh', {
  hang: true,
  stdout: 'Delete 3 files? [y/N] ',
  awaitingInput: true,
  onLine: (line, task) => {
    task.write('stdout', line === 'y' ? 'deleted\n' : 'kept\n');
    task.exit(line === 'y' ? 0 : 1);
  },
});
const task = await ex.submit({ command: './confirm.sh', stdin: 'pipe' });
await new Promise((resolve) => ex.once('task:started', resolve));
await ex.write(task.id, 'y\n');
expect((await ex.wait(task.id)).exitCode).toBe(0);
expect(fake.input(task.id)?.text).toBe('y\n');
    // --- docs:end
    expect((await ex.readOutput(task.id)).text).toBe('Delete 3 files? [y/N] deleted\n');
    await ex.shutdown();
    const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const code = self.slice(self.indexOf('// --- docs:begin\n') + 18, self.indexOf('    // --- docs:end'));
    const doc = readFileSync(fileURLToPath(new URL('../../docs/testing.md', import.meta.url)), 'utf8');
    expect(doc).toContain(`\`\`\`ts\n${code}\`\`\``);
  });
});

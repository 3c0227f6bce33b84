// LocalTransport's waiting-for-input look (input-wait.ts) with programs that read their input
// on another descriptor than fd 0: a password prompt on the terminal through /dev/tty (python's
// getpass, `read </dev/tty`), and a duplicate of a stdin pipe after fd 0 was closed. And what
// must not count: a read of a pipe the program made itself, a socket wait on a terminal.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { LocalTransport } from '../../src/transports/local.js';
import { newRoot, readAll, registerCleanup, req, transports, until } from './_local-fixture.js';

registerCleanup();

const tty = { cols: 80, rows: 24 };
const py = (code: string): string => `python3 -c '${code}'`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A server that accepts and never answers: a client blocked in recv waits on a socket.
let server: Server;
let port = 0;
const clients: Socket[] = [];
beforeAll(async () => {
  server = createServer((socket) => clients.push(socket));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const socket of clients) socket.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

describe.each([
  ['the spawn helper', { spawnHelper: true }, false],
  ['direct spawn', { spawnHelper: false }, false],
  ['the detached wrapper', { spawnHelper: false }, true],
])('LocalTransport waiting for input through %s', (_name, options, detached) => {
  function transport(): LocalTransport {
    const t = new LocalTransport({ root: newRoot(), ...options });
    transports.push(t);
    return t;
  }

  async function answered(t: LocalTransport, h: TransportHandle, input: string, expected: RegExp): Promise<void> {
    await until(async () => (await t.poll(h)).awaitingInput === true, 'the task to wait for input');
    await t.writeStdin(h, Buffer.from(input));
    const exit = await t.wait(h);
    expect(exit.exitCode).toBe(0);
    expect((await readAll(t, h, 'stdout')).toString()).toMatch(expected);
  }

  it('counts a password prompt read through /dev/tty on a terminal (getpass, read </dev/tty)', async () => {
    const t = transport();
    const getpass = await t.start(req(py('import getpass; print("got=" + getpass.getpass("Password: "))'), { stdin: 'pipe', tty, detached }));
    const devTty = await t.start(req('printf "pw: "; read x </dev/tty; echo "got=$x"', { stdin: 'pipe', tty, detached }));
    await answered(t, getpass, 'secret\n', /Password: .*got=secret/s);
    await answered(t, devTty, 'abc\n', /got=abc/);
  });

  it('counts a read of a duplicate of the stdin pipe after fd 0 was closed', async () => {
    const t = transport();
    const h = await t.start(req(py('import os; fd = os.dup(0); os.close(0); print("got=" + os.read(fd, 100).decode(), end="")'), { stdin: 'pipe', detached }));
    await answered(t, h, 'dup\n', /^got=dup\n$/);
  });

  it('does not count a read of a pipe of its own, nor a socket wait or a sleep on a terminal', async () => {
    const t = transport();
    const ownPipe = await t.start(req(py('import os; r, w = os.pipe(); print("blocking", flush=True); os.read(r, 1)'), { stdin: 'pipe', detached }));
    const socketTty = await t.start(req(py(`import socket; s = socket.create_connection(("127.0.0.1", ${port})); print("blocking", flush=True); s.recv(1)`), { stdin: 'pipe', tty, detached }));
    const sleepTty = await t.start(req('echo blocking; sleep 60', { stdin: 'pipe', tty, detached }));
    for (const h of [ownPipe, socketTty, sleepTty]) {
      await until(async () => (await readAll(t, h, 'stdout')).toString().includes('blocking'), 'the task to print its marker');
    }
    for (let i = 0; i < 10; i++) {
      for (const h of [ownPipe, socketTty, sleepTty]) expect((await t.poll(h)).awaitingInput).toBe(false);
      await sleep(30);
    }
    for (const h of [ownPipe, socketTty, sleepTty]) await t.kill(h, { graceMs: 100 });
  });
});

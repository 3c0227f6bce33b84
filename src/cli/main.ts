#!/usr/bin/env node
// `bgexec`: see and steer the tasks kept in a bgexec JSON store (see docs/cli.md).
import { runCli } from './run-cli.js';

const controller = new AbortController();
let interrupts = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // The first signal ends the command cleanly (run: kills its tasks); a second one forces it.
    if (++interrupts > 1) process.exit(130);
    controller.abort();
  });
}
// `bgexec ls | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

const color = process.stdout.isTTY === true && !('NO_COLOR' in process.env && process.env.NO_COLOR !== '');
const code = await runCli(
  process.argv.slice(2),
  {
    out: (text) => void process.stdout.write(text),
    // Waits while stdout's buffer is full, so `logs` of a large stream into a slow pipe holds
    // one slice in memory, not the whole output.
    flush: () => (process.stdout.writableNeedDrain ? new Promise<void>((resolve) => process.stdout.once('drain', () => resolve())) : Promise.resolve()),
    err: (text) => void process.stderr.write(text),
    color,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    env: process.env,
    cwd: process.cwd(),
    now: () => Date.now(),
    stdin: process.stdin,
  },
  controller.signal,
);
// Exit once what was written is flushed: `mcp` leaves stdin open, and nothing else must linger.
process.exitCode = code;
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

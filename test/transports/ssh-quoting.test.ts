// Every value a caller passes (command line, argv, cwd, environment) reaches the remote process
// byte for byte over real SSH, and nothing runs that the caller did not ask for.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { SshTransport } from '../../src/transports/ssh/ssh-transport.js';
import type { LaunchRequest } from '../../src/transports/types.js';
import { contractTaskId } from './_contract.js';
import { q } from './_shell.js';
import { describeSkipped, skipReason, sshd, sshTransport } from './_ssh-fixture.js';

// A directory every user may write to: if an injection ran, its canary file would appear here.
const base = mkdtempSync(join(tmpdir(), 'bgexec-quote-'));
chmodSync(base, 0o777);
const canary = join(base, 'CANARY');
afterAll(() => rmSync(base, { recursive: true, force: true }));

const NASTY = [
  `$(touch ${canary})`, `\`touch ${canary}\``, `'; touch ${canary}; '`, `"; touch ${canary}; #`, `\ntouch ${canary}\n`,
  `' $(touch ${canary}) '`, `\\'; touch ${canary}`, '*', '/*', '?', '[a-z]*', '~', '~root', '-n', '-e', '--', '-', '--help',
  '$HOME', '${PATH}', '$0', '$$', '!', '%s%n', '\\', '\\\\n', "'", '"', "''", 'a\nb', '\r\n', '\t', ' lead', 'trail ',
  'héllo wörld ✓ 𝄞 🚀', '\u00a0', '}', '{', ';', '&', '|', '>', '<', '#', '\x01\x7f', 'end\\',
];

// Random values: full Unicode (no lone surrogates, which UTF-8 cannot carry), no NUL, mixed with
// the strings above; dangerous pieces glued to random text too.
const value = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.constantFrom(...NASTY),
    fc.tuple(fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 8 })).map(([a, b]) => a + b),
  )
  .map((s) => s.replaceAll('\0', ''));
// A directory name: no '/', not '.' or '..', and short enough for any file system.
const dirName = value.map((s) => `d${s.replaceAll('/', '_')}`.slice(0, 40));

// All at once: the transport queues the calls on its sessions, and one poll covers every attempt.
function runAll(t: SshTransport, reqs: LaunchRequest[]): Promise<Buffer[]> {
  return Promise.all(reqs.map(async (req) => {
    const h = await t.start(req);
    const exit = await t.wait(h);
    expect(exit.exitCode).toBe(0);
    const out = (await t.read(h, 'stdout', 0, 1 << 20)).data;
    await t.cleanup(h);
    return out;
  }));
}

if (skipReason !== undefined) describeSkipped('SshTransport quoting');
else {
  describe('SshTransport quoting over real SSH', () => {
    it('round-trips random commands, argv, cwd and env values exactly; no canary appears', async () => {
      const t = sshTransport(await sshd());
      try {
        const samples = fc.sample(fc.record({ cmd: value, env: value, dir: dirName, args: fc.array(value, { maxLength: 4 }) }), { seed: 4242, numRuns: 48 });
        const shellReqs: LaunchRequest[] = [];
        const argReqs: LaunchRequest[] = [];
        for (const [i, s] of samples.entries()) {
          const cwd = join(base, `${i}`, s.dir);
          mkdirSync(cwd, { recursive: true, mode: 0o755 });
          chmodSync(join(base, `${i}`), 0o755);
          // The command line is itself a quoted literal of the random value: it prints the
          // value only if every byte of the command survived the trip.
          const command = `printf '%s\\0' "$BGX_V"; pwd; printf '\\0%s' ${q(s.cmd)}`;
          shellReqs.push({ taskId: contractTaskId(), attempt: 1, command, cwd, env: { BGX_V: s.env }, detached: false });
          argReqs.push({ taskId: contractTaskId(), attempt: 1, command: 'printf', args: ['%s\\0', s.cmd, ...s.args], detached: false });
        }
        const shellOuts = await runAll(t, shellReqs);
        for (const [i, out] of shellOuts.entries()) {
          const s = samples[i]!;
          const text = out.toString('utf8');
          const first = text.indexOf('\0');
          const second = text.indexOf('\0', first + 1);
          expect(text.slice(0, first)).toBe(s.env);
          expect(text.slice(first + 1, second)).toBe(`${join(base, `${i}`, s.dir)}\n`);
          expect(text.slice(second + 1)).toBe(s.cmd);
        }
        const argOuts = await runAll(t, argReqs);
        for (const [i, out] of argOuts.entries()) {
          const s = samples[i]!;
          expect(out.toString('utf8')).toBe([s.cmd, ...s.args].map((a) => `${a}\0`).join(''));
        }
        expect(existsSync(canary)).toBe(false);
        expect(readdirSync(base).filter((n) => !/^\d+$/.test(n))).toEqual([]);
      } finally {
        await t.close();
      }
    }, 120_000); // 96 remote attempts: on a loaded 2-core machine this alone can take 30 s

    it('env values never change the remote script itself; the task PATH applies to the command only', async () => {
      const t = sshTransport(await sshd());
      try {
        const env = { _l: `touch ${canary}`, _sh: `touch ${canary}`, _w: `touch ${canary}`, _d: '/', IFS: '/', PATH: `${base}:/usr/bin:/bin` };
        const h = await t.start({ taskId: contractTaskId(), attempt: 1, command: 'printf "%s|%s" "$_l" "$PATH"', env, detached: false });
        expect(await t.wait(h)).toMatchObject({ exitCode: 0 });
        expect((await t.read(h, 'stdout', 0, 1000)).data.toString()).toBe(`touch ${canary}|${base}:/usr/bin:/bin`);
        expect(existsSync(canary)).toBe(false);
        await t.cleanup(h);
      } finally {
        await t.close();
      }
    });

    it('rejects NUL bytes, bad ids, bad env names and dangerous hosts before anything runs', async () => {
      const s = await sshd();
      const t = sshTransport(s);
      try {
        const base = { taskId: contractTaskId(), attempt: 1, detached: false };
        await expect(t.start({ ...base, command: 'echo a\0b' })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
        await expect(t.start({ ...base, command: 'true', env: { V: 'a\0' } })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
        await expect(t.start({ ...base, command: 'true', env: { 'A;touch x': '1' } })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
        await expect(t.start({ ...base, taskId: 'x;rm -rf ~', command: 'true' })).rejects.toMatchObject({ code: 'SPAWN_FAILED' });
        await expect(t.poll({ kind: 'ssh', taskId: 'a', attempt: 1, runDir: '/home/x/jobs/../../etc', startedAt: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        const { SshTransport } = await import('../../src/transports/ssh/ssh-transport.js');
        expect(() => new SshTransport({ host: '-oProxyCommand=touch /tmp/x' })).toThrow(/host/);
        expect(() => new SshTransport({ host: 'h', user: '-oX' })).toThrow(/user/);
        expect(existsSync(canary)).toBe(false);
      } finally {
        await t.close();
      }
    });
  });
}

// Task input in a real Vagrant machine (docker provider, project `shared`, machine `one`): the
// same remote wrapper and scripts as over SSH, on the machine's own shell, /proc and tools
// (`script` from util-linux, `base64` from coreutils).
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { TransportHandle } from '../../src/task.js';
import { VagrantTransport } from '../../src/transports/vagrant.js';
import { contractTaskId } from './_contract.js';
import { describeDockerSkipped, dockerSkipReason, eventually, useVagrantDocker } from './_vagrant-docker-fixture.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

if (dockerSkipReason !== undefined) describeDockerSkipped(`VagrantTransport stdin on a real machine (${dockerSkipReason})`);
else {
  const machines = useVagrantDocker('shared');
  let transport: VagrantTransport | undefined;
  // One transport for the file: each vagrant process costs seconds.
  const t = (): VagrantTransport => (transport ??= new VagrantTransport(machines().options('one')));
  afterAll(async () => {
    await transport?.close();
  });
  const stdout = async (h: TransportHandle): Promise<string> => (await t().read(h, 'stdout', 0, 1 << 20)).data.toString('utf8');

  describe('VagrantTransport stdin (docker provider)', { timeout: 180_000 }, () => {
    it('answers a prompt once the poll says the task waits for input; echoes 1 MiB byte-exact; EOF by closeStdin', async () => {
      const p = await t().start({ taskId: contractTaskId(), attempt: 1, command: 'printf "name? "; read n; echo "hello $n"', detached: false, stdin: 'pipe' });
      await eventually('awaitingInput', async () => ((await t().poll(p)).awaitingInput === true ? true : undefined));
      await t().writeStdin(p, Buffer.from('vagrant\n'));
      expect(await t().wait(p)).toMatchObject({ exitCode: 0 });
      expect(await stdout(p)).toBe('name? hello vagrant\n');

      const c = await t().start({ taskId: contractTaskId(), attempt: 1, command: 'cat', detached: false, stdin: 'pipe' });
      const data = randomBytes(1 << 20);
      for (let off = 0; off < data.length; off += 300_000) await t().writeStdin(c, data.subarray(off, off + 300_000));
      await t().closeStdin(c);
      expect(await t().wait(c)).toMatchObject({ exitCode: 0 });
      expect(sha((await t().read(c, 'stdout', 0, 2 << 20)).data)).toBe(sha(data));
      for (const h of [p, c]) await t().cleanup(h);
    });

    it('runs on a terminal and reads input given up front', async () => {
      const y = await t().start({ taskId: contractTaskId(), attempt: 1, command: 'test -t 0 && echo tty; stty size', detached: false, tty: { cols: 90, rows: 20 } });
      const d = await t().start({ taskId: contractTaskId(), attempt: 1, command: 'cat; echo "[eof]"', detached: false, stdin: Buffer.from('given\n') });
      expect(await t().wait(y)).toMatchObject({ exitCode: 0 });
      expect(await t().wait(d)).toMatchObject({ exitCode: 0 });
      expect(await stdout(y)).toBe('tty\r\n20 90\r\n');
      expect(await stdout(d)).toBe('given\n[eof]\n');
      for (const h of [y, d]) await t().cleanup(h);
    });
  });
}

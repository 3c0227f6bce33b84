// A detached attempt whose executor dies between spawning the wrapper and reading its
// handshake (the crash window around spawn) must still run its command and record the
// command's own exit code — never a SIGPIPE status of a command that did not run.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startWrapper } from '../../src/transports/job-protocol/wrapper.js';
import { eventually } from '../proc.js';
import { logLines, runCleanups, tempDir } from './_helpers.js';

afterEach(runCleanups);

describe('detached wrapper without a handshake reader', () => {
  it('runs the command anyway and records its exit code, with SIGPIPE back at its default', async () => {
    const root = tempDir();
    const log = join(root, 'log');
    const dirs: string[] = [];
    for (let i = 0; i < 8; i++) {
      const runDir = join(root, `t-${i}`);
      mkdirSync(runDir);
      dirs.push(runDir);
      // The last step shows the command's SIGPIPE disposition: default kills it (141).
      const command = `echo "ran ${i}" >> '${log}'; [ ${i} -lt 4 ] && exit 3; kill -PIPE $$; exit 0`;
      const child = startWrapper({ runDir, command }, { ...process.env, BGEXEC_TASK_ID: 'hs', BGEXEC_ATTEMPT: String(i + 1) });
      // The starter is gone before it could read the handshake.
      child.stdout!.destroy();
      await new Promise((r) => child.once('exit', r));
    }
    expect(await eventually(() => dirs.every((d) => existsSync(join(d, 'exit'))))).toBe(true);
    expect(dirs.map((d) => readFileSync(join(d, 'exit'), 'utf8'))).toEqual([...Array(4).fill('3\n'), ...Array(4).fill('141\n')]);
    expect(logLines(log).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `ran ${i}`));
  });
});

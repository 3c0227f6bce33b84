// Restart detection for machines that share their host's boot id (containers, e.g. Vagrant's
// docker provider): the remote boot token is `<boot id>@<pid 1 start time>`, and a token whose
// second half changed is a restart (`machine_restarted`) even though the boot id did not.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decideState, restartOf } from '../../src/transports/ssh/attempt.js';
import { buildPollScript } from '../../src/transports/ssh/remote-scripts.js';
import type { TransportHandle } from '../../src/task.js';

const BOOT = 'b07ec840-621b-4626-bb73-2fdaf58d3fd0';
const OTHER = '0c3a6f0e-1111-4222-8333-944455556666';

describe('restart detection by boot token', () => {
  it('the poll script reports the boot id and pid 1\'s start time', () => {
    const out = execFileSync('sh', ['-s'], { input: buildPollScript([]) }).toString();
    const line = out.split('\n').find((l) => l.startsWith('B '));
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync('/proc/1/stat', 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    expect(line).toBe(`B ${bootId}@${start}`);
  });

  it('same boot id, new pid 1: machine_restarted; new boot id: boot_id_changed; same or unknown: nothing', () => {
    expect(restartOf(`${BOOT}@100`, `${BOOT}@100`)).toBeUndefined();
    expect(restartOf(`${BOOT}@100`, `${BOOT}@250`)).toBe('machine_restarted');
    expect(restartOf(`${BOOT}@100`, `${OTHER}@100`)).toBe('boot_id_changed');
    expect(restartOf(`${BOOT}@100`, `${OTHER}@250`)).toBe('boot_id_changed');
    // Tokens of older versions (no `@` part) compare by boot id only.
    expect(restartOf(BOOT, `${BOOT}@250`)).toBeUndefined();
    expect(restartOf(BOOT, `${OTHER}@250`)).toBe('boot_id_changed');
    expect(restartOf('unknown', `${BOOT}@1`)).toBeUndefined();
    expect(restartOf('unknown@1', 'unknown@2')).toBe('machine_restarted');
    expect(restartOf(undefined, `${BOOT}@1`)).toBeUndefined();
  });

  it('an attempt whose pid looks alive in a restarted container is lost, not running', () => {
    const handle: TransportHandle = { kind: 'vagrant', taskId: 't', attempt: 1, startedAt: 0, bootId: `${BOOT}@100` };
    const running = { t: 'J' as const, leaf: 't-1', state: 'R' as const, killreq: false };
    expect(decideState(running, handle, `${BOOT}@100`, 5)).toBeUndefined();
    expect(decideState(running, handle, `${BOOT}@999`, 5)).toMatchObject({ state: 'lost', reason: 'machine_restarted', endedAt: 5 });
    const dead = { t: 'J' as const, leaf: 't-1', state: 'D' as const, killreq: false, hadPid: true };
    expect(decideState(dead, handle, `${BOOT}@999`, 5)).toMatchObject({ state: 'lost', reason: 'machine_restarted' });
  });
});

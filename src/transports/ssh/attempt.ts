import type { TransportHandle } from '../../task.js';
import { exitInfoFromMarker, lostExit, parseExitFile } from '../job-protocol/markers.js';
import type { ExitInfo } from '../types.js';
import { newWatchedAttempt, type WatchedAttempt } from '../round-poller.js';
import type { ReplyItem } from './reply.js';

/** What this process knows about one remote attempt it watches. */
export interface Attempt extends WatchedAttempt {
  /** Bytes mirrored locally per stream. */
  out: number;
  err: number;
  /** Sizes the host last reported. */
  remoteOut: number;
  remoteErr: number;
  /** The host reported a stream cut at maxOutputBytes. */
  limitReached?: boolean;
  /** The host reported its end; final once the mirror has every byte. */
  ended?: ExitInfo;
  /** The run directory was removed. */
  gone: boolean;
  /**
   * Consecutive rounds in which the host said every process of the attempt waits for input and
   * no output came (attempts with an input pipe or a terminal only).
   */
  inputRounds?: number;
  /** A kill that could not be delivered (host away), sent again once it answers. */
  pendingKill?: { signal: string; graceMs: number };
}

/** Whether the poll asks the host if the attempt waits for input: it has an input pipe or a terminal. */
export function takesInput(handle: TransportHandle): boolean {
  return handle['stdin'] === 'pipe' || handle['tty'] === true;
}

/** A fresh record for an attempt, not yet seen by any poll. */
export function newAttempt(handle: TransportHandle, runDir: string, leaf: string): Attempt {
  return { ...newWatchedAttempt(handle, runDir, leaf), out: 0, err: 0, remoteOut: 0, remoteErr: 0, gone: false, ...(takesInput(handle) ? { inputRounds: 0 } : {}) };
}

/**
 * How the host changed between two boot tokens (`<boot id>[@<pid 1 start time>]`, see
 * remote-scripts.ts): `boot_id_changed` (the kernel rebooted), `machine_restarted` (same kernel
 * boot, a new pid 1: a container that was stopped and started again), or undefined (same, or
 * cannot tell). A token without the `@` part (written by an older version) matches on the boot
 * id alone.
 */
export function restartOf(before: string | undefined, now: string | undefined): 'boot_id_changed' | 'machine_restarted' | undefined {
  if (before === undefined || now === undefined) return undefined;
  const [kernelBefore = '', initBefore] = before.split('@');
  const [kernelNow = '', initNow] = now.split('@');
  const known = (k: string) => k !== '' && k !== 'unknown';
  if (known(kernelBefore) && known(kernelNow) && kernelBefore !== kernelNow) return 'boot_id_changed';
  if (initBefore !== undefined && initNow !== undefined && initBefore !== initNow) return 'machine_restarted';
  return undefined;
}

/**
 * Decides an attempt's state from a `J` line of the job protocol: exit marker → exited; alive on the
 * same boot → running (undefined); a kill was requested → killed; else lost. A different boot
 * without a marker is `boot_id_changed` (or `machine_restarted`, see {@link restartOf}) whatever
 * the pid says: the pid is from another boot.
 */
export function decideState(j: Extract<ReplyItem, { t: 'J' }>, handle: TransportHandle, bootId: string | undefined, now: number): ExitInfo | undefined {
  if (j.state === 'E') {
    const marker = parseExitFile(`${j.exit}\n`);
    return marker ? exitInfoFromMarker(marker, j.killreq, now) : lostExit('bad_exit_marker', now);
  }
  if (j.state === 'G') return lostExit('run_dir_removed', now);
  const restart = restartOf(handle.bootId, bootId);
  if (restart !== undefined) return lostExit(restart, now);
  if (j.state === 'R') return undefined;
  if (j.killreq) return { state: 'exited', exitCode: null, signal: 'SIGKILL', endedAt: now };
  return lostExit(j.hadPid ? 'no_exit_marker' : 'spawn_interrupted', now);
}

/** True once an ended attempt's mirror holds every byte the host reported (or nothing is left to fetch). */
export function mirrorComplete(a: Attempt): boolean {
  return a.gone || (a.out >= a.remoteOut && a.err >= a.remoteErr);
}

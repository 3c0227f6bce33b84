// Vitest global setup for the Vagrant docker-provider machine: nothing is started here (the test
// files that need the machine bring it up themselves, so a run without them costs nothing), but
// at the end of the run everything this run started is taken down: machines, containers,
// dockerd, its bridge. The image stays cached for the next run. A dockerd already running when
// the run began (a developer keeping the machine up, BGEXEC_VAGRANT_KEEP=1) is left alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { runToken } from './run-token.js';
import { VAGRANT_DOCKER_SCRIPT } from './vagrant-docker.js';

const PIDFILE = `${process.env['BGEXEC_VAGRANT_DIR'] ?? '/tmp/bgexec-vagrant'}/docker/dockerd.pid`;
const STARTED_BY = `${process.env['BGEXEC_VAGRANT_DIR'] ?? '/tmp/bgexec-vagrant'}/docker/started-by`;

function dockerdRunning(): boolean {
  try {
    const pid = Number(readFileSync(PIDFILE, 'utf8').trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Remembers whether the machine was up before the run; the returned teardown stops what the run started. */
export default function setup(): () => void {
  const upBefore = dockerdRunning();
  const token = runToken();
  return () => {
    if (upBefore || process.env['BGEXEC_VAGRANT_KEEP'] === '1' || !existsSync(PIDFILE) || !dockerdRunning()) return;
    // Started by another run going on at the same time: not ours to stop.
    let startedBy = '';
    try {
      startedBy = readFileSync(STARTED_BY, 'utf8').trim();
    } catch {
      // no mark: an older harness; stop it as before
    }
    if (startedBy !== '' && startedBy !== token) return;
    try {
      execFileSync('bash', [VAGRANT_DOCKER_SCRIPT, 'down'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 180_000 });
    } catch (err) {
      console.warn(`vagrant-docker.sh down failed: ${String(err)}`);
    }
  };
}

#!/bin/sh
# Stops the one-node test cluster that slurm-up.sh started (slurmd, slurmctld, munged), by the
# pids in their pid files, and removes its state. Jobs still running are killed with it.
# Idempotent; takes the same lock as slurm-up.sh.
set -u
D=${BGX_SLURM_DIR:-/tmp/bgexec-slurm}
[ -d "$D" ] || exit 0
exec 9>"$D/lock"
flock 9

stop() {
  [ -s "$1" ] || return 0
  p=$(cat "$1")
  case $p in ''|*[!0-9]*) return 0 ;; esac
  kill -TERM "$p" 2>/dev/null || return 0
  i=0
  # A zombie counts as gone: in a container, PID 1 may never reap the daemon.
  while kill -0 "$p" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$p/stat" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$1"
}

export SLURM_CONF="$D/slurm.conf"
# Ends every job first, so that slurmd does not leave job steps (and their processes) behind.
[ -s "$D/slurmctld.pid" ] && timeout 5 scancel -u root >/dev/null 2>&1 || true
stop "$D/slurmd.pid"
stop "$D/slurmctld.pid"
stop "$D/munged.pid"
# slurmstepd processes outlive slurmd by design; those of this cluster carry its config path.
for f in $(grep -ls '^slurmstepd' /proc/[0-9]*/cmdline 2>/dev/null); do
  q=${f#/proc/}; q=${q%/cmdline}
  grep -qs "$D" "/proc/$q/environ" 2>/dev/null && kill -KILL "$q" 2>/dev/null
done
rm -rf "$D/ctld" "$D/spool" "$D/munge/munge.socket" "$D/munge/munge.socket.lock"
echo stopped

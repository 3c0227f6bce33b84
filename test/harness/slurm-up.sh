#!/bin/sh
# Brings up a one-node Slurm cluster on this machine for the Slurm transport tests, from nothing:
# installs the Debian packages when they are missing, writes a private configuration under
# $BGX_SLURM_DIR (default /tmp/bgexec-slurm), and starts munged, slurmctld and slurmd directly
# (no systemd: Debian's policy keeps the packages' postinst from starting them). Idempotent and
# safe to run concurrently (flock): a second call finds the cluster up and only checks it.
# Clients use it with SLURM_CONF=$BGX_SLURM_DIR/slurm.conf. Prints "ready <seconds>" on success.
# Stop it with slurm-down.sh. Needs root.
set -eu
D=${BGX_SLURM_DIR:-/tmp/bgexec-slurm}
mkdir -p "$D"
exec 9>"$D/lock"
flock 9

t0=$(date +%s%N)
say() { printf '%s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "slurm-up: needs root"; exit 3; }

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { say "slurm-up: slurm-wlm is missing and there is no apt-get"; exit 3; }
  say "slurm-up: installing slurm-wlm slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends slurm-wlm slurm-client munge >"$D/apt.log" 2>&1 ||
    { apt-get update >>"$D/apt.log" 2>&1 && apt-get install -y --no-install-recommends slurm-wlm slurm-client munge >>"$D/apt.log" 2>&1; } ||
    { say "slurm-up: apt-get failed, see $D/apt.log"; exit 3; }
fi

export SLURM_CONF="$D/slurm.conf"
# Alive: the pid exists and is not a zombie (in a container, PID 1 may never reap a daemon).
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$(cat "$1")/stat" 2>/dev/null; }

# The cluster answers and its node takes jobs: nothing to do.
if alive "$D/munged.pid" && alive "$D/slurmctld.pid" && alive "$D/slurmd.pid" &&
  timeout 5 sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  echo "ready 0"
  exit 0
fi

mkdir -p "$D/munge" "$D/ctld" "$D/spool" "$D/log"

# munge: a key of its own (the package's, when present, is left alone), a private socket.
if [ ! -s "$D/munge/munge.key" ]; then
  dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
fi
chown -R root:root "$D/munge"
chmod 755 "$D/munge"
chmod 400 "$D/munge/munge.key"
if ! alive "$D/munged.pid"; then
  rm -f "$D/munge/munge.socket" "$D/munge/munge.socket.lock"
  # As root (--force): the private key and socket belong to root, like the daemons that use them.
  # 9>&-: a daemon must not inherit the lock, or the next caller would wait for it forever.
  munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" 9>&-
  i=0; while [ ! -S "$D/munge/munge.socket" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  cp "$D/munge/munged.pid" "$D/munged.pid"
fi

cpus=$(nproc)
mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$mem" ] || mem=1024
# Ports of their own, so that a cluster already on this machine is not disturbed.
cat >"$D/slurm.conf" <<EOF
ClusterName=bgexec
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerNode=16
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MessageTimeout=10
KillWait=2
MinJobAge=300
ReturnToService=2
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:32
EOF
cat >"$D/cgroup.conf" <<EOF
CgroupPlugin=autodetect
CgroupMountpoint=/sys/fs/cgroup
ConstrainCores=no
ConstrainRAMSpace=no
ConstrainDevices=no
EOF

if ! alive "$D/slurmctld.pid"; then
  # -i: ignore state left by an earlier run that was not stopped cleanly.
  slurmctld -i -f "$D/slurm.conf" 9>&- || { say "slurm-up: slurmctld failed, see $D/log/slurmctld.log"; tail -20 "$D/log/slurmctld.log" >&2; exit 4; }
fi
if ! alive "$D/slurmd.pid"; then
  slurmd -f "$D/slurm.conf" 9>&- || { say "slurm-up: slurmd failed, see $D/log/slurmd.log"; tail -20 "$D/log/slurmd.log" >&2; exit 4; }
fi

# Ready once the node is idle (bounded: about 30 s).
i=0
until timeout 2 sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; do
  i=$((i + 1))
  if [ $i -ge 100 ] || ! alive "$D/slurmctld.pid" || ! alive "$D/slurmd.pid"; then
    say "slurm-up: node never became idle"; sinfo -N -l >&2 || true
    tail -20 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 || true
    exit 4
  fi
  [ $((i % 25)) -ne 0 ] || scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
  sleep 0.2
done
# Which test run started the daemons: only its end stops them (test/harness/run-token.ts).
printf '%s\n' "${BGEXEC_TEST_RUN:-}" > "$D/started"
t1=$(date +%s%N)
echo "ready $(( (t1 - t0) / 1000000 ))ms"

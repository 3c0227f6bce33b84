#!/usr/bin/env bash
# A real Vagrant machine for the tests: Vagrant's docker provider, a private dockerd (its own
# socket, data root and bridge), and a Debian image built here by debootstrap from the mirror the
# machine's apt sources already use. Idempotent and safe to run from several processes at once
# (one flock around everything).
#
#   vagrant-docker.sh up [PROJECT]     dockerd + image + `vagrant up` of PROJECT (default `shared`);
#                                      prints KEY=VALUE lines (cwd, VAGRANT_HOME, DOCKER_HOST, PATH)
#   vagrant-docker.sh env [PROJECT]    the same lines, without starting anything
#   vagrant-docker.sh down [--remove-image]
#                                      destroys the machines and containers, stops dockerd, removes
#                                      its bridge and iptables chains; the image (and the debootstrap
#                                      cache) only with --remove-image
#
# Projects: `shared` has machines `one` and `two`; `life` has machine `default` (the lifecycle
# tests halt, reload and destroy it, so it is kept apart from the machines other tests use).
# Network: containers sit on the bridge this script creates, with no IP forwarding and no NAT,
# so they reach the host and each other only; ssh goes through Vagrant's own forward of port 22
# to a port on 127.0.0.1.
set -euo pipefail

BASE=${BGEXEC_VAGRANT_DIR:-/tmp/bgexec-vagrant}
IMAGE=bgexec/vagrant-debian:1
BRIDGE=bgexec-br0
BRIDGE_CIDR=172.31.251.1/24
SOCK=$BASE/docker/docker.sock
DOCKER=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
export DOCKER_HOST=unix://$SOCK
# Debian's docker CLI first: another `docker` may sit earlier on PATH.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
export VAGRANT_HOME=$BASE/vagrant-home
export VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_NO_COLOR=1 VAGRANT_DEFAULT_PROVIDER=docker

log() { printf '[vagrant-docker %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs what is missing (CI starts fresh). Only as root with apt-get; otherwise says what lacks.
ensure_packages() {
  local need=""
  [ -x "$DOCKERD" ] && [ -x "$DOCKER" ] || need="$need docker.io"
  command -v debootstrap >/dev/null || need="$need debootstrap"
  command -v vagrant >/dev/null || need="$need vagrant"
  command -v ip >/dev/null || need="$need iproute2"
  [ -n "$need" ] || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing:$need"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
  else
    die "missing:$need (and cannot install: not root or no apt-get)"
  fi
}

docker_ok() { [ -S "$SOCK" ] && "$DOCKER" info >/dev/null 2>&1; }

ensure_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && return 0
  ip link add "$BRIDGE" type bridge
  ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

ensure_dockerd() {
  docker_ok && return 0
  ensure_bridge
  mkdir -p "$BASE/docker/data" "$BASE/docker/exec"
  # No iptables rules, no NAT, no IP forwarding: nothing leaves the bridge.
  log "starting dockerd"
  setsid "$DOCKERD" --host "$DOCKER_HOST" --data-root "$BASE/docker/data" --exec-root "$BASE/docker/exec" \
    --pidfile "$BASE/docker/dockerd.pid" --bridge "$BRIDGE" --iptables=false --ip-masq=false --ip-forward=false \
    --storage-driver overlay2 </dev/null >"$BASE/docker/dockerd.log" 2>&1 9>&- &
  # Which test run started dockerd: only its end stops it (test/harness/run-token.ts).
  printf '%s\n' "${BGEXEC_TEST_RUN:-}" > "$BASE/docker/started-by"
  for _ in $(seq 1 300); do
    docker_ok && return 0
    kill -0 $! 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$BASE/docker/dockerd.log" >&2 || true
  die "dockerd did not come up (log: $BASE/docker/dockerd.log)"
}

# The Debian mirror and suite of this machine's apt sources (deb822 first, then sources.list).
apt_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(sed -n 's/^[Uu][Rr][Ii][Ss]:[[:space:]]*//p' "$f" | tr ' ' '\n' | grep -v -e security -e '^$' | head -n 1 || true)
    [ -z "$uri" ] || break
  done
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i !~ /^\[/ && $i ~ /:\/\//) { if ($i !~ /security/) { print $i; exit } break } }')
  fi
  [ -n "$uri" ] || die "no Debian mirror in /etc/apt/sources.list*"
  printf '%s\n' "$uri"
}

insecure_key() {
  local k
  for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub /usr/share/vagrant/keys/vagrant.pub; do
    [ -f "$k" ] && { printf '%s\n' "$k"; return 0; }
  done
  die "Vagrant's insecure public key (keys/vagrant.pub) not found"
}

ensure_image() {
  "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  local suite mirror root pub
  suite=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-bookworm}")
  mirror=$(apt_mirror)
  pub=$(insecure_key)
  root=$BASE/rootfs
  rm -rf "$root"
  log "debootstrap $suite from $mirror"
  debootstrap --variant=minbase --include=openssh-server,sudo,procps "$suite" "$root" "$mirror" >"$BASE/debootstrap.log" 2>&1 ||
    { tail -20 "$BASE/debootstrap.log" >&2; die "debootstrap failed (log: $BASE/debootstrap.log)"; }
  chroot "$root" useradd -m -s /bin/bash vagrant
  install -d -m 700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
  install -m 600 -o 1000 -g 1000 "$pub" "$root/home/vagrant/.ssh/authorized_keys"
  chroot "$root" chown -R vagrant:vagrant /home/vagrant
  printf 'vagrant ALL=(ALL) NOPASSWD: ALL\n' >"$root/etc/sudoers.d/vagrant"
  chmod 440 "$root/etc/sudoers.d/vagrant"
  # Host keys are made at container start, so no two machines share one.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/usr/local/sbin/bgexec-init" <<'EOF'
#!/bin/sh
ssh-keygen -A >/dev/null
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
EOF
  chmod 755 "$root/usr/local/sbin/bgexec-init"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  log "docker import $IMAGE"
  tar -C "$root" -c . | "$DOCKER" import -c 'CMD ["/usr/local/sbin/bgexec-init"]' - "$IMAGE" >/dev/null
  rm -rf "$root"
}

machines_of() {
  case $1 in
    shared) echo "one two" ;;
    life) echo "default" ;;
    *) die "unknown project $1 (shared or life)" ;;
  esac
}

write_project() {
  local dir=$BASE/projects/$1 m
  mkdir -p "$dir"
  {
    echo '# Written by test/harness/vagrant-docker.sh: docker-provider machines of the bgexec tests.'
    echo 'Vagrant.configure("2") do |config|'
    echo '  config.ssh.username = "vagrant"'
    echo '  config.ssh.insert_key = false'
    echo '  config.vm.synced_folder ".", "/vagrant", disabled: true'
    echo '  config.vm.provider "docker" do |d|'
    echo "    d.image = \"$IMAGE\""
    echo '    d.has_ssh = true'
    echo '  end'
    for m in $(machines_of "$1"); do echo "  config.vm.define \"$m\""; done
    echo 'end'
  } >"$dir/Vagrantfile.new"
  mv "$dir/Vagrantfile.new" "$dir/Vagrantfile"
}

print_env() {
  echo "cwd=$BASE/projects/$1"
  echo "VAGRANT_HOME=$VAGRANT_HOME"
  echo "DOCKER_HOST=$DOCKER_HOST"
  echo "PATH=$PATH"
  echo "machines=$(machines_of "$1")"
}

cmd_up() {
  local project=${1:-shared}
  machines_of "$project" >/dev/null
  ensure_packages
  mkdir -p "$BASE"
  exec 9>"$BASE/lock"
  flock 9
  ensure_dockerd
  ensure_image
  write_project "$project"
  # `vagrant up` of machines already running only checks them; the run marker tells the teardown
  # of this test run that it has something to stop.
  (cd "$BASE/projects/$project" && vagrant up --provider=docker $(machines_of "$project") >"$BASE/up-$project.log" 2>&1) ||
    { tail -30 "$BASE/up-$project.log" >&2; die "vagrant up $project failed (log: $BASE/up-$project.log)"; }
  print_env "$project"
}

cmd_down() {
  local remove_image=0 p c
  [ "${1:-}" = --remove-image ] && remove_image=1
  mkdir -p "$BASE"
  exec 9>"$BASE/lock"
  flock 9
  if docker_ok; then
    for p in "$BASE"/projects/*/; do
      [ -f "$p/Vagrantfile" ] || continue
      (cd "$p" && vagrant destroy -f >/dev/null 2>&1) || log "vagrant destroy in $p failed; removing its containers directly"
    done
    # The daemon is private: every container on it is ours.
    for c in $("$DOCKER" ps -aq); do "$DOCKER" rm -f "$c" >/dev/null 2>&1 || true; done
    [ "$remove_image" = 0 ] || "$DOCKER" rmi -f "$IMAGE" >/dev/null 2>&1 || true
  fi
  rm -rf "$BASE/projects"
  local pidfile=$BASE/docker/dockerd.pid pid
  if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping dockerd ($pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  # The containerd that dockerd started, if it outlived it.
  pid=$(cat "$BASE/docker/exec/containerd/containerd.pid" 2>/dev/null || true)
  case $pid in ''|*[!0-9]*) ;; *) kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true ;; esac
  # Mounts left under the data root would keep the next rm from working.
  { grep -o " $BASE/docker/[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE" 2>/dev/null || true
  # dockerd runs with --iptables=false; chains an earlier run with iptables left are removed anyway.
  if command -v iptables >/dev/null; then
    for table in filter nat; do
      for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^DOCKER/ { print $2 }'); do
        iptables -t "$table" -S 2>/dev/null | awk -v c="$chain" '$1=="-A" && $0 ~ ("-j " c "( |$)") { sub(/^-A/, "-D"); print }' |
          while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
        iptables -t "$table" -F "$chain" 2>/dev/null || true
        iptables -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  fi
  rm -f "$SOCK" "$pidfile"
  if [ "$remove_image" = 1 ]; then rm -rf "$BASE/docker" "$BASE/vagrant-home" "$BASE/rootfs"; fi
  log "down"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  env) shift; print_env "${1:-shared}" ;;
  down) shift; cmd_down "$@" ;;
  *) echo "usage: $0 up [shared|life] | env [shared|life] | down [--remove-image]" >&2; exit 2 ;;
esac

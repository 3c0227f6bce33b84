// The spawn helper's program. It is Perl (5.10 or later, core modules POSIX and Fcntl only), not
// sh: POSIX sh cannot give a background job its own session without an extra `setsid` exec, an
// asynchronous list of a non-interactive shell has SIGINT and SIGQUIT ignored for good, and
// `wait` folds "killed by signal n" into "exit 128+n". Perl forks, calls setsid(), resets the
// signal state and execs with the exact errno of a failure, and waitpid() gives the exact status.
// Hosts without `perl` use direct spawn (see client.ts).
//
// Protocol (see protocol.ts): requests on stdin are frames "<byte length>\n<fields>", every field
// NUL-terminated, so no value is ever parsed by a shell; events on stdout are ASCII lines.
// Requests:
//   B <K=V>…                              base environment of every task (sent once, first)
//   S <serial> <runDir> <cwd> <limit> <flags> <n> <K=V>×n <argv>…   claim runDir (mkdir), create
//                                          an empty pid file, fork, setsid, chdir, exec; stdout/
//                                          stderr are pipes this process copies into out/err
//                                          (created on their first byte), cut at <limit> bytes.
//                                          <flags> `v` (volatile: nobody will recover the attempt):
//                                          no pid file, no exit marker, and the run directory is
//                                          created only when a file must go into it
//   R <serial> <marker>                   the executor has reaped the leftovers: once both pipes
//                                          are closed, turn `pid` into the `exit` marker <marker>
//   C <serial>                            close the task's pipes now (the drain bound has passed)
//   I <serial> <runDir> <cwd> <limit> <flags> <input> <n> <K=V>×n <argv>…   as S, with standard
//                                          input: <input> `p`: the FIFO `in`, held open by a holder
//                                          process (pid in `in.pid`, ended with the leader);
//                                          `d<hex>`: the regular file `in` holding those bytes
// Events:
//   READY <pid> | S <serial> <pid> | F <serial> <reason> <errno>
//   X <serial> <wait status> <0|1 alone: no process the tasks left behind exists at all>
//   E <serial> ok|err|none|made <stdout bytes> <stderr bytes> <0|1 cut>   (ok/err: the exit marker
//                                          was written or not; none/made, volatile attempts: the run
//                                          directory was never created / was created)
// `F` reasons: exists (the run directory was there: already started), mkdir, busy (out of fds or
// processes: nothing ran and the run directory is gone again), cwd_missing, spawn_failed.
//
// Cost per task (this process is where local throughput goes once Node does not fork): a fork
// write-protects every page of this process, and the first write to each page afterwards is a
// page fault (about a hundred per task here, each costly in a VM). So the child runs as little
// Perl as possible before its exec: its environment is set in this process's own %ENV before
// the fork and inherited, and its stdin is a /dev/null descriptor opened once.

/** Source of the spawn helper, run as `perl -e`. */
export const HELPER_SCRIPT = String.raw`
use strict; use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_RDONLY O_RDWR O_CREAT O_EXCL O_APPEND);
# SIGPIPE keeps its default: the only pipe this process writes is its stdout to the executor, and
# when that is gone this process has nothing left to do (emit() exits too). A disposition left
# at its default needs no reset in each child before its exec.
# Whatever this process was started with ignored goes back to its default here, once: the
# children inherit the dispositions (and exec resets the caught SIGCHLD below).
$SIG{$_} = 'DEFAULT' for grep { defined $SIG{$_} && $SIG{$_} eq 'IGNORE' } keys %SIG;
my (%task, %bypid, %rfd, %holders, @undo);
# The holder of an input FIFO (see the I request): it holds the FIFO open read-write and ends
# when the task's leader does (pidfd_open, 434 on every architecture; else a 1 s poll), so that
# the input ends with the task even if this helper is gone.
my $HOLDER = 'my $p = shift; my $fd = syscall(434, $p + 0, 0); if ($fd >= 0) { my $r = ""; vec($r, $fd, 1) = 1; 1 until select(my $o = $r, undef, undef, undef) > 0; exit 0 } sleep 1 while kill 0, $p;';
my $next_input;
$SIG{CHLD} = sub {};
# An empty signal mask, set once here: Perl's fork() gives the child this process's mask (and
# exec resets the caught SIGCHLD), so the child needs no call of its own for either.
my $EMPTY = POSIX::SigSet->new();
POSIX::sigprocmask(POSIX::SIG_SETMASK(), $EMPTY);
# Every task without input gets this as its stdin (close-on-exec here; dup2 clears that flag).
open(my $NULL, '<', '/dev/null') or die "/dev/null: $!";
# A child subreaper (prctl PR_SET_CHILD_SUBREAPER) adopts every orphaned descendant of its tasks,
# so "my children are exactly my live task leaders" proves that no task left a process behind,
# and the executor can skip its /proc scan for leftovers. The prctl syscall number is per
# architecture; elsewhere the scan always runs.
my $subreaper = 0;
{
  my $arch = (POSIX::uname())[4] // '';
  my $n = $arch eq 'x86_64' ? 157 : $arch =~ /^(aarch64|riscv64)$/ ? 167 : $arch =~ /^(i[3-6]86|arm)/ ? 172 : undef;
  $subreaper = 1 if defined $n && -e "/proc/$$/task/$$/children" && syscall($n, 36, 1, 0, 0, 0) == 0;
}
my $CHILDREN = "/proc/$$/task/$$/children";
sub alone {
  return 0 unless $subreaper;
  sysopen(my $c, $CHILDREN, O_RDONLY) or return 0;
  my $kids = '';
  1 while sysread($c, $kids, 65536, length $kids);
  close $c;
  for (split ' ', $kids) { return 0 unless $bypid{$_} || $holders{$_} }
  return 1;
}
my $in = '';
my $out = '';
my $round = 0;
sub errname { my $n = 0 + $!; local $! = $n; for my $k (keys %!) { return $k if $!{$k} } return "E$n" }
# A child whose chdir or exec failed reports why on the close-on-exec pipe, and goes.
sub child_fail { my ($fh, $what) = @_; my $e = errname(); syswrite($fh, "$what $e\n"); POSIX::_exit(127) }
# Events are collected and written once per loop round (flush), not one write per line.
sub emit { $out .= $_[0] }
sub flush {
  my $o = 0;
  while ($o < length $out) {
    my $n = syswrite(STDOUT, $out, length($out) - $o, $o);
    if (!defined $n) { next if $!{EINTR} || $!{EAGAIN}; POSIX::_exit(0) }
    $o += $n;
  }
  $out = '';
}
sub drop_fd { my $fh = $_[0]; delete $rfd{fileno $fh}; close $fh }
# The previous task's variables leave %ENV before the next fork (after a fork, writes here cost
# copies while the child has not exec'd yet; before it they are plain writes).
sub restore_env {
  while (my $u = pop @undo) { if (defined $u->[1]) { $ENV{$u->[0]} = $u->[1] } else { delete $ENV{$u->[0]} } }
}
# A volatile attempt's run directory, created when the first file must go into it.
sub ensure_dir {
  my $t = $_[0];
  return 1 unless $t->{lazy};
  $t->{lazy} = 0;
  return 1 if mkdir($t->{dir}, 0700) || $!{EEXIST};
  return 0;
}
sub start_task {
  my ($s, $dir, $cwd, $limit, $flags, $nenv, @rest) = @_;
  my $input = $next_input; $next_input = undef;
  my @env = splice(@rest, 0, $nenv);
  my $vol = $flags =~ /v/ ? 1 : 0;
  # A volatile attempt without input needs no directory before its first byte of output.
  my $lazy = $vol && !defined $input;
  unless ($lazy || mkdir $dir, 0700) { emit("F $s " . ($!{EEXIST} ? 'exists' : 'mkdir') . ' ' . errname() . "\n"); return }
  my ($pfh, $or, $ow, $er, $ew, $cr, $cw, $hold);
  my $busy = sub {
    my $e = errname(); close $_ for grep { defined } ($pfh, $or, $ow, $er, $ew, $cr, $cw, $hold);
    unless ($lazy) { unlink "$dir/pid", "$dir/in"; rmdir $dir }
    emit("F $s busy $e\n");
  };
  # An empty pid file before the fork says "may have run" to recovery (spawn_unconfirmed); the
  # pid goes into it after the exec, and at the end its inode becomes the exit marker. out and
  # err are created on their first byte: a task without output costs two inodes, not four.
  unless ($vol) { sysopen($pfh, "$dir/pid", O_WRONLY | O_CREAT, 0600) or return $busy->() }
  (pipe($or, $ow) && pipe($er, $ew) && pipe($cr, $cw)) or return $busy->();
  if (defined $input && $input eq 'p') {
    # Held read-write until the holder has it: the task's read-only open then never blocks.
    (POSIX::mkfifo("$dir/in", 0600) && sysopen($hold, "$dir/in", O_RDWR)) or return $busy->();
  } elsif (defined $input) {
    my $data = pack('H*', substr($input, 1));
    sysopen(my $d, "$dir/in", O_WRONLY | O_CREAT | O_EXCL, 0600) or return $busy->();
    my $off = 0;
    while ($off < length $data) {
      my $w = syswrite($d, $data, length($data) - $off, $off);
      if (!defined $w) { next if $!{EINTR}; close $d; return $busy->() }
      $off += $w;
    }
    close $d or return $busy->();
  }
  # Everything the child needs is ready before the fork: its environment in %ENV, its argv,
  # its descriptors' numbers, this task's record.
  restore_env();
  for (@env) {
    my $i = index($_, '='); my $k = substr($_, 0, $i);
    push @undo, [$k, $ENV{$k}];
    $ENV{$k} = substr($_, $i + 1);
  }
  my ($fo, $fe, $fc, $fn) = (fileno $ow, fileno $ew, fileno $cw, fileno $NULL);
  my $inpath = defined $input ? "$dir/in" : undef;
  my $prog = $rest[0];
  my $t = { s => $s, dir => $dir, pfh => $pfh, or => $or, er => $er, cr => $cr, vol => $vol, lazy => $lazy,
            lim => ($limit eq '' ? -1 : 0 + $limit), no => 0, ne => 0, open => 2 };
  my $pid = fork();
  unless (defined $pid) { restore_env(); return $busy->() }
  if ($pid == 0) {
    # Until its exec, each page this child writes is copied (copy-on-write): as little Perl as
    # possible runs here.
    POSIX::setsid();
    child_fail($cw, 'cwd_missing') if $cwd ne '' && !chdir $cwd;
    if (defined $inpath) { $fn = POSIX::open($inpath, POSIX::O_RDONLY()) // child_fail($cw, 'spawn_failed') }
    (defined POSIX::dup2($fn, 0) && defined POSIX::dup2($fo, 1) && defined POSIX::dup2($fe, 2)) or child_fail($cw, 'spawn_failed');
    POSIX::close($fn) if defined $inpath && $fn > 2;
    { no warnings 'exec'; exec { $prog } @rest; }
    child_fail($cw, 'spawn_failed');
  }
  close $ow; close $ew; close $cw;
  $t->{pid} = $pid;
  if ($hold) {
    # Its own session, stdio on the FIFO and /dev/null (never the output pipes), the attempt's
    # markers as its whole environment (closeStdin checks them before ending it).
    my @mk = grep { /^BGEXEC_(?:TASK_ID|ATTEMPT)=/ } @env;
    my $h = fork();
    if (defined $h && $h == 0) {
      POSIX::setsid();
      my $null = POSIX::open('/dev/null', POSIX::O_RDWR());
      POSIX::dup2(fileno $hold, 0); POSIX::dup2($null, 1); POSIX::dup2($null, 2);
      %ENV = map { split /=/, $_, 2 } @mk;
      { no warnings 'exec'; exec { $^X } 'bgexec-stdin', '-e', $HOLDER, $pid; }
      POSIX::_exit(127);
    }
    if (defined $h) {
      $holders{$h} = 1; $t->{holder} = $h;
      if (open(my $ip, '>', "$dir/in.pid")) { print $ip "$h\n"; close $ip }
    } else {
      # No holder, no input: the task would read end-of-file at once. It ends as killed.
      kill 'KILL', $pid;
    }
    close $hold;
  }
  $task{$s} = $t; $bypid{$pid} = $t;
  # Tagged with the loop round: a descriptor opened after this round's select() may reuse the
  # number of one closed meanwhile whose bit is set, and a read of it would block the loop.
  $rfd{fileno $cr} = [$t, 'c', $round]; $rfd{fileno $or} = [$t, 'or', $round]; $rfd{fileno $er} = [$t, 'er', $round];
}
sub confirm {
  my $t = $_[0];
  my $n = sysread($t->{cr}, my $buf, 512);
  return if !defined $n && ($!{EINTR} || $!{EAGAIN});
  drop_fd($t->{cr}); $t->{cr} = undef;
  if ($n) {
    chomp $buf; $t->{failed} = 1;
    for (qw(or er)) { drop_fd($t->{$_}) if $t->{$_} }
    close $t->{pfh} if $t->{pfh};
    delete $task{$t->{s}};
    return emit("F $t->{s} $buf\n");
  }
  if ($t->{pfh}) { syswrite($t->{pfh}, "$t->{pid} $t->{pid}\n"); close $t->{pfh}; delete $t->{pfh} }
  emit("S $t->{s} $t->{pid}\n");
  emit("X $t->{s} $t->{st} $t->{alone}\n") if defined $t->{st};
}
sub reap {
  my @ended;
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    if (delete $holders{$pid}) { next }
    my $t = delete $bypid{$pid} or next;
    # The input ends with the leader (an unreaped child: its pid cannot be another's).
    kill 'TERM', $t->{holder} if $t->{holder} && $holders{$t->{holder}};
    next if $t->{failed};
    $t->{st} = $?;
    push @ended, $t;
  }
  return unless @ended;
  # One look at this process's children serves every leader reaped in this pass.
  my $alone = alone();
  for my $t (@ended) {
    $t->{alone} = $alone;
    emit("X $t->{s} $t->{st} $alone\n") unless defined $t->{cr};
  }
}
sub finish {
  my $t = $_[0];
  return unless $t->{rel} && $t->{open} == 0 && !$t->{done};
  $t->{done} = 1;
  close $t->{ofh} if $t->{ofh}; close $t->{efh} if $t->{efh};
  my $d = $t->{dir}; my $ok;
  if ($t->{vol}) {
    $ok = $t->{lazy} ? 'none' : 'made';
  } else {
    $ok = 'err';
    rename("$d/pid", "$d/exit.pending");
    if (open(my $m, '>', "$d/exit.pending")) { print $m $t->{marker}; $ok = 'ok' if close($m) && rename("$d/exit.pending", "$d/exit") }
  }
  emit("E $t->{s} $ok $t->{no} $t->{ne} " . ($t->{cut} ? 1 : 0) . "\n");
  delete $task{$t->{s}};
}
sub close_out { my ($t, $k) = @_; return unless $t->{$k}; drop_fd($t->{$k}); $t->{$k} = undef; $t->{open}--; finish($t) }
sub copy_out {
  my ($t, $k) = @_;
  my $n = sysread($t->{$k}, my $buf, 131072);
  if (!defined $n) { return if $!{EINTR} || $!{EAGAIN}; return close_out($t, $k) }
  return close_out($t, $k) if $n == 0;
  my ($fk, $ck, $name) = $k eq 'or' ? ('ofh', 'no', 'out') : ('efh', 'ne', 'err');
  # Opened on the first byte; a file that cannot be opened (disk full) drops the stream's output,
  # as a failed write does below: the task goes on.
  unless (exists $t->{$fk}) { my $new; $t->{$fk} = ensure_dir($t) && sysopen($new, "$t->{dir}/$name", O_WRONLY | O_CREAT | O_APPEND, 0600) ? $new : undef }
  my $fh = $t->{$fk} or return;
  my $part = $n;
  $part = $t->{lim} - $t->{$ck} if $t->{lim} >= 0 && $t->{$ck} + $n > $t->{lim};
  my $off = 0;
  while ($off < $part) {
    my $w = syswrite($fh, $buf, $part - $off, $off);
    if (!defined $w) { next if $!{EINTR}; close $fh; $t->{$fk} = undef; return }
    $off += $w;
  }
  $t->{$ck} += $part;
  return if $part == $n;
  $t->{cut} = 1;
  if (open(my $l, '>>', "$t->{dir}/limit")) { print $l "limit\n"; close $l }
  close $fh; $t->{$fk} = undef;
  close_out($t, $k);
}
sub request {
  my @f = split /\0/, $_[0], -1; pop @f;
  my $op = shift(@f) // '';
  if ($op eq 'S') { start_task(@f) }
  elsif ($op eq 'I') { $next_input = splice(@f, 5, 1); start_task(@f) }
  elsif ($op eq 'R') { my $t = $task{$f[0]} or return; $t->{rel} = 1; $t->{marker} = $f[1]; finish($t) }
  elsif ($op eq 'C') { my $t = $task{$f[0]} or return; close_out($t, 'or'); close_out($t, 'er') }
  elsif ($op eq 'B') { restore_env(); %ENV = (); for (@f) { my $i = index($_, '='); $ENV{substr($_, 0, $i)} = substr($_, $i + 1) } }
}
emit("READY $$\n");
while (1) {
  $round++;
  reap();
  flush() if length $out;
  my $rin = ''; vec($rin, 0, 1) = 1; vec($rin, $_, 1) = 1 for keys %rfd;
  # A SIGCHLD that lands between reap() and select() would be seen only at the next event:
  # while tasks run, look again after 50 ms at the latest.
  my $n = select(my $rout = $rin, undef, undef, %bypid ? 0.05 : undef);
  next if $n <= 0;
  if (vec($rout, 0, 1)) {
    my $r = sysread(STDIN, $in, 262144, length $in);
    POSIX::_exit(0) if defined $r ? $r == 0 : !($!{EINTR} || $!{EAGAIN});
    while ((my $nl = index($in, "\n")) >= 0) {
      my $len = substr($in, 0, $nl);
      last if length($in) < $nl + 1 + $len;
      request(substr($in, $nl + 1, $len));
      substr($in, 0, $nl + 1 + $len) = '';
    }
  }
  for my $fd (keys %rfd) {
    next unless vec($rout, $fd, 1);
    my $e = $rfd{$fd} or next;
    next if $e->[2] == $round;
    if ($e->[1] eq 'c') { confirm($e->[0]) } else { copy_out($e->[0], $e->[1]) }
  }
}
`;

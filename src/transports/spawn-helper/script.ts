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
//                                          an empty pid file; the forker forks, setsid, chdir,
//                                          exec; stdout/stderr are pipes this process copies into
//                                          out/err (created on their first byte), cut at <limit>.
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
//   READY <pid> <forker pid> | S <serial> <pid> | F <serial> <reason> <errno>
//   X <serial> <wait status> <0|1 alone: no process the tasks left behind exists at all>
//   E <serial> ok|err|none|made <stdout bytes> <stderr bytes> <0|1 cut>   (ok/err: the exit marker
//                                          was written or not; none/made, volatile attempts: the run
//                                          directory was never created / was created)
// `F` reasons: exists (the run directory was there: already started), mkdir, busy (out of fds or
// processes: nothing ran and the run directory is gone again), cwd_missing, spawn_failed.
//
// Cost per task (this process is where local throughput goes once Node does not fork): a fork
// write-protects every private page of the forking process, and its first write to each page
// afterwards is a page fault (about a hundred per task when this loop forked, each costly in a
// VM). So this process never forks a task: it prepares everything (run directory, pid file,
// pipes, input file) and hands the fork to the forker (forker.ts), a small Perl process started
// at boot whose loop writes few pages; it is the tasks' parent and child subreaper. Requests read
// in one round reach the forker together, so it forks them back to back. The forker reopens the
// task's pipe ends through /proc/<this pid>/fd, and this process closes its own write ends once
// the forker has reported the fork (`P`): end-of-file on the confirm pipe still means "exec'd".
import { FORKER_SCRIPT } from './forker.js';

/** Source of the spawn helper, run as `perl -e`. */
export const HELPER_SCRIPT = String.raw`
use strict; use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_RDONLY O_RDWR O_CREAT O_EXCL O_APPEND O_NONBLOCK F_SETFL);
# SIGPIPE keeps its default: the only pipes this process writes are its stdout to the executor
# and the forker's request pipe; when either reader is gone this process has nothing left to do.
# Whatever this process was started with ignored goes back to its default here, once: the
# forker and the tasks inherit the dispositions (and exec resets the caught SIGCHLD below).
$SIG{$_} = 'DEFAULT' for grep { defined $SIG{$_} && $SIG{$_} eq 'IGNORE' } keys %SIG;
my (%task, %bypid, %rfd, %holders);
# The holder of an input FIFO (see the I request): it holds the FIFO open read-write and ends
# when the task's leader does (pidfd_open, 434 on every architecture; else a 1 s poll), so that
# the input ends with the task even if this helper is gone.
my $HOLDER = 'my $p = shift; my $fd = syscall(434, $p + 0, 0); if ($fd >= 0) { my $r = ""; vec($r, $fd, 1) = 1; 1 until select(my $o = $r, undef, undef, undef) > 0; exit 0 } sleep 1 while kill 0, $p;';
my $next_input;
$SIG{CHLD} = sub {};
# An empty signal mask, set once here: the forker and, through it, every task inherit it.
my $EMPTY = POSIX::SigSet->new();
POSIX::sigprocmask(POSIX::SIG_SETMASK(), $EMPTY);
my $FORKER = <<'BGEXEC_FORKER';
${FORKER_SCRIPT}
BGEXEC_FORKER
# The forker: requests go out on $FQ, non-blocking and queued in $fout (this process never waits
# on a forker that may be waiting on it); replies come in on $FR.
my ($FQ, $FR, $forker);
{
  my ($qr, $rw);
  (pipe($qr, $FQ) && pipe($FR, $rw)) or die "pipe: $!";
  my $me = $$;
  $forker = fork() // die "fork: $!";
  if ($forker == 0) {
    POSIX::dup2(fileno $qr, 0); POSIX::dup2(fileno $rw, 1);
    { no warnings 'exec'; exec { $^X } 'bgexec-forker', '-e', $FORKER, $me, fileno $FQ; }
    POSIX::_exit(127);
  }
  close $qr; close $rw;
  # No READY before the forker is: a helper without one is unusable (the executor spawns directly).
  my $hello = '';
  1 while length($hello) < 2 && sysread($FR, $hello, 2 - length $hello, length $hello);
  POSIX::_exit(1) unless $hello eq "R\n";
  fcntl($FQ, F_SETFL, O_NONBLOCK) or die "fcntl: $!";
}
my ($in, $out, $fin, $fout) = ('', '', '', '');
my $round = 0;
sub errname { my $n = 0 + $!; local $! = $n; for my $k (keys %!) { return $k if $!{$k} } return "E$n" }
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
sub to_forker { my $p = join("\0", @_) . "\0"; $fout .= length($p) . "\n" . $p }
# Requests are written as far as the forker's pipe takes them; the rest waits for select().
sub flush_forker {
  my $n = syswrite($FQ, $fout);
  if (defined $n) { substr($fout, 0, $n) = '' } elsif (!($!{EAGAIN} || $!{EINTR})) { POSIX::_exit(0) }
}
sub drop_fd { my $fh = $_[0]; delete $rfd{fileno $fh}; close $fh }
# A volatile attempt's run directory, created when the first file must go into it.
sub ensure_dir {
  my $t = $_[0];
  return 1 unless $t->{lazy};
  $t->{lazy} = 0;
  return 1 if mkdir($t->{dir}, 0700) || $!{EEXIST};
  return 0;
}
# Nothing ran (out of descriptors or processes): everything the launch made goes again.
sub busy {
  my ($t, $e) = @_;
  for (qw(cr or er)) { drop_fd($t->{$_}) if $t->{$_} }
  close $_ for grep { defined } ($t->{pfh}, $t->{hold}, @{$t->{w} || []});
  unless ($t->{lazy}) { unlink "$t->{dir}/pid", "$t->{dir}/in"; rmdir $t->{dir} }
  delete $task{$t->{s}};
  emit("F $t->{s} busy $e\n");
}
sub start_task {
  my ($s, $dir, $cwd, $limit, $flags, $nenv, @rest) = @_;
  my $input = $next_input; $next_input = undef;
  my $vol = $flags =~ /v/ ? 1 : 0;
  # A volatile attempt without input needs no directory before its first byte of output.
  my $lazy = $vol && !defined $input;
  unless ($lazy || mkdir $dir, 0700) { emit("F $s " . ($!{EEXIST} ? 'exists' : 'mkdir') . ' ' . errname() . "\n"); return }
  my $t = { s => $s, dir => $dir, vol => $vol, lazy => $lazy, lim => ($limit eq '' ? -1 : 0 + $limit), no => 0, ne => 0, open => 2 };
  my ($or, $ow, $er, $ew, $cr, $cw);
  # An empty pid file before the fork says "may have run" to recovery (spawn_unconfirmed); the
  # pid goes into it after the exec, and at the end its inode becomes the exit marker. out and
  # err are created on their first byte: a task without output costs two inodes, not four.
  unless ($vol) { sysopen($t->{pfh}, "$dir/pid", O_WRONLY | O_CREAT, 0600) or return busy($t, errname()) }
  unless (pipe($or, $ow) && pipe($er, $ew) && pipe($cr, $cw)) { my $e = errname(); close $_ for grep { defined } ($or, $ow, $er, $ew, $cr, $cw); return busy($t, $e) }
  @$t{qw(or er cr)} = ($or, $er, $cr);
  $t->{w} = [$ow, $ew, $cw];
  if (defined $input && $input eq 'p') {
    # Held read-write until the holder has it: the task's read-only open then never blocks.
    (POSIX::mkfifo("$dir/in", 0600) && sysopen($t->{hold}, "$dir/in", O_RDWR)) or return busy($t, errname());
  } elsif (defined $input) {
    my $data = pack('H*', substr($input, 1));
    sysopen(my $d, "$dir/in", O_WRONLY | O_CREAT | O_EXCL, 0600) or return busy($t, errname());
    my $off = 0;
    while ($off < length $data) {
      my $w = syswrite($d, $data, length($data) - $off, $off);
      if (!defined $w) { next if $!{EINTR}; my $e = errname(); close $d; return busy($t, $e) }
      $off += $w;
    }
    close $d or return busy($t, errname());
  }
  # The holder's environment: the attempt's markers (closeStdin checks them before ending it).
  $t->{mk} = [grep { /^BGEXEC_(?:TASK_ID|ATTEMPT)=/ } @rest[0 .. $nenv - 1]] if $t->{hold};
  to_forker('S', $s, fileno $ow, fileno $ew, fileno $cw, defined $input ? "$dir/in" : '', $cwd, $nenv, @rest);
  $task{$s} = $t;
  # Tagged with the loop round: a descriptor opened after this round's select() may reuse the
  # number of one closed meanwhile whose bit is set, and a read of it would block the loop.
  $rfd{fileno $cr} = [$t, 'c', $round]; $rfd{fileno $or} = [$t, 'or', $round]; $rfd{fileno $er} = [$t, 'er', $round];
}
# The forker's report of a fork: the write ends it reopened can go; the holder starts now.
sub forked {
  my ($s, $pid, $e) = @_;
  my $t = $task{$s} or return;
  return busy($t, $e // 'EAGAIN') if $pid < 0;
  close $_ for @{delete $t->{w}};
  if ($t->{failed}) { delete $task{$s}; return }
  $t->{pid} = $pid; $bypid{$pid} = $t;
  my $hold = delete $t->{hold} or return;
  # Its own session, stdio on the FIFO and /dev/null (never the output pipes), the attempt's
  # markers as its whole environment.
  my $h = fork();
  if (defined $h && $h == 0) {
    POSIX::setsid();
    my $null = POSIX::open('/dev/null', POSIX::O_RDWR());
    POSIX::dup2(fileno $hold, 0); POSIX::dup2($null, 1); POSIX::dup2($null, 2);
    %ENV = map { split /=/, $_, 2 } @{$t->{mk}};
    { no warnings 'exec'; exec { $^X } 'bgexec-stdin', '-e', $HOLDER, $pid; }
    POSIX::_exit(127);
  }
  if (defined $h) {
    $holders{$h} = 1; $t->{holder} = $h;
    if (open(my $ip, '>', "$t->{dir}/in.pid")) { print $ip "$h\n"; close $ip }
  } else {
    # No holder, no input: the task would read end-of-file at once. It ends as killed.
    kill 'KILL', $pid;
  }
  close $hold;
}
sub confirm {
  my $t = $_[0];
  my $n = sysread($t->{cr}, my $buf, 512);
  return if !defined $n && ($!{EINTR} || $!{EAGAIN});
  drop_fd($t->{cr}); $t->{cr} = undef;
  if ($n) {
    # The child's chdir or exec failed (it may be reported before the fork itself).
    chomp $buf; $t->{failed} = 1;
    for (qw(or er)) { drop_fd($t->{$_}) if $t->{$_} }
    close $t->{pfh} if $t->{pfh};
    delete $task{$t->{s}} unless $t->{w};
    return emit("F $t->{s} $buf\n");
  }
  # End-of-file: every write end is closed, so the fork was reported and the child exec'd.
  if ($t->{pfh}) { syswrite($t->{pfh}, "$t->{pid} $t->{pid}\n"); close $t->{pfh}; delete $t->{pfh} }
  emit("S $t->{s} $t->{pid}\n");
  emit("X $t->{s} $t->{st} $t->{alone}\n") if defined $t->{st};
}
# A task leader the forker reaped.
sub ended {
  my ($pid, $st, $alone) = @_;
  my $t = delete $bypid{$pid} or return;
  # The input ends with the leader (an unreaped child: its pid cannot be another's).
  kill 'TERM', $t->{holder} if $t->{holder} && $holders{$t->{holder}};
  return if $t->{failed};
  $t->{st} = $st; $t->{alone} = $alone;
  emit("X $t->{s} $st $alone\n") unless defined $t->{cr};
}
sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    # Without its forker this helper cannot start or follow tasks: it goes, and is restarted.
    POSIX::_exit(0) if $pid == $forker;
    delete $holders{$pid};
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
  elsif ($op eq 'B') { to_forker('B', @f) }
}
sub reply {
  my @f = split / /, $_[0];
  if ($f[0] eq 'P') { forked(@f[1 .. $#f]) } elsif ($f[0] eq 'X') { ended(@f[1 .. 3]) }
}
emit("READY $$ $forker\n");
my ($STDIN_FD, $FQ_FD, $FR_FD) = (0, fileno $FQ, fileno $FR);
while (1) {
  $round++;
  reap();
  flush_forker() if length $fout;
  flush() if length $out;
  my $rin = ''; vec($rin, $_, 1) = 1 for $STDIN_FD, $FR_FD, keys %rfd;
  my $win; if (length $fout) { $win = ''; vec($win, $FQ_FD, 1) = 1 }
  # Holders are this process's children: a SIGCHLD that lands between reap() and select() is
  # seen after 50 ms at the latest.
  my $n = select(my $rout = $rin, $win, undef, %holders ? 0.05 : undef);
  next if $n <= 0;
  if (vec($rout, $FR_FD, 1)) {
    my $r = sysread($FR, $fin, 65536, length $fin);
    POSIX::_exit(0) if defined $r ? $r == 0 : !($!{EINTR} || $!{EAGAIN});
    while ((my $nl = index($fin, "\n")) >= 0) { reply(substr($fin, 0, $nl)); substr($fin, 0, $nl + 1) = '' }
  }
  if (vec($rout, $STDIN_FD, 1)) {
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

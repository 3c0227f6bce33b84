// The spawn helper's forker: a second, small Perl process (started by the helper, see script.ts)
// that is the parent of every task. It exists because of what a fork costs: fork()
// write-protects every private page of the forking process, and each page the process writes
// before its next fork is then a page fault (on a VM, tens of microseconds each). The helper's
// loop (event parsing, files, output copying, bookkeeping) wrote about a hundred pages between
// two forks. This loop reads the requests that arrived together, prepares all of them (parsing,
// descriptors), then forks them back to back, and only then does its bookkeeping: between two
// forks of a batch it writes a handful of pages, and the rest is paid once per batch.
//
// Requests on stdin (from the helper), frames "<byte length>\n<fields>", each field NUL-terminated:
//   B <K=V>…                                   base environment of every task
//   S <serial> <out> <err> <confirm> <input> <cwd> <n> <K=V>×n <argv>…
//       <out> <err> <confirm>: numbers of the helper's descriptors of the task's pipe write ends,
//       opened here through /proc/<helper>/fd (a pipe reopened that way is the same pipe);
//       <input>: path of the task's standard input, or empty for /dev/null.
// Replies on stdout: `R` once ready; `P <serial> <pid>` after each fork (`P <serial> -1 <errno>`:
// nothing forked); `X <pid> <wait status> <0|1 alone>` for each task leader reaped. The child
// reports a failed chdir or exec on the confirm pipe (close-on-exec: end-of-file means exec'd).

/** Source of the forker, run by the spawn helper as `perl -e <source> <helper pid> <probe fd>`. */
export const FORKER_SCRIPT = String.raw`
use strict; use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_RDONLY);
my ($helper, $probe) = @ARGV;
$SIG{CHLD} = sub {};
# Perl starts with SIGFPE ignored and puts it back only in its own exec; execve() below would pass
# the ignored disposition on to the task.
$SIG{FPE} = 'DEFAULT';
# Every task without input gets this as its stdin (close-on-exec here; dup2 clears that flag).
open(my $NULL, '<', '/dev/null') or POSIX::_exit(1);
my $arch = (POSIX::uname())[4] // '';
# O_CLOEXEC, which Fcntl does not export (Linux's value everywhere but on alpha, parisc, sparc).
my $CLOEXEC = $arch =~ /^(alpha|parisc|hppa)/ ? 0x200000 : $arch =~ /^sparc/ ? 0x400000 : 0x80000;
# The pipes cross through /proc/<helper>/fd; where that does not work (no /proc, a kernel that
# refuses), no R: the executor spawns directly. <probe> is the helper's end of this pipe.
{
  my $fd = POSIX::open("/proc/$helper/fd/$probe", O_WRONLY | $CLOEXEC);
  POSIX::_exit(1) unless defined $fd;
  POSIX::close($fd);
}
# A child subreaper (prctl PR_SET_CHILD_SUBREAPER, numbered per architecture): orphans of the
# tasks come here, so "my children are exactly my live task leaders" proves that no task left a
# process behind, and the executor skips its /proc scan. Elsewhere the scan always runs.
my $subreaper = 0;
{
  my $n = $arch eq 'x86_64' ? 157 : $arch =~ /^(aarch64|riscv64)$/ ? 167 : $arch =~ /^(i[3-6]86|arm)/ ? 172 : undef;
  $subreaper = 1 if defined $n && -e "/proc/$$/task/$$/children" && syscall($n, 36, 1, 0, 0, 0) == 0;
}
my $CHILDREN = "/proc/$$/task/$$/children";
# execve(2), called directly where its number is known: Perl's exec needs the task's variables in
# this process's %ENV, and setting them in the child (a fresh copy of each page it writes) cost
# more than the rest of the child together. The environment is passed as an array of pointers.
my $EXECVE = $arch eq 'x86_64' ? 59 : $arch =~ /^(aarch64|riscv64)$/ ? 221 : $arch =~ /^(i[3-6]86|arm)/ ? 11 : undef;
# The base environment as "K=V" strings (kept: the pointers of a request point into them), and
# where each name is.
my (@BASE, %BI);
my %live;
my $in = '';
my $out = "R\n";
sub alone {
  return 0 unless $subreaper;
  sysopen(my $c, $CHILDREN, O_RDONLY) or return 0;
  my $kids = '';
  1 while sysread($c, $kids, 65536, length $kids);
  close $c;
  for (split ' ', $kids) { return 0 unless $live{$_} }
  return 1;
}
# The program execve() is to run, or undef where only Perl's exec (execvp: relative PATH entries,
# no PATH, anything unusual) gives the exact behaviour.
sub resolve {
  my ($prog, $path) = @_;
  return $prog if index($prog, '/') >= 0;
  return undef if $prog eq '' || !defined $path;
  for my $d (split /:/, $path, -1) {
    return undef if substr($d, 0, 1) ne '/';
    my $f = "$d/$prog";
    next unless -e $f;
    return -f _ && -x _ ? $f : undef;
  }
  return undef;
}
sub errname { my $n = 0 + $!; local $! = $n; for my $k (keys %!) { return $k if $!{$k} } return "E$n" }
sub child_fail { my ($fd, $what) = @_; my $m = "$what " . errname() . "\n"; POSIX::write($fd, $m, length $m); POSIX::_exit(127) }
# The child: everything was prepared before the fork, and each page it writes before its exec is
# a copy, so it runs as little Perl as possible.
sub child {
  my $r = $_[0];
  POSIX::setsid();
  child_fail($r->[3], 'cwd_missing') if $r->[5] ne '' && !chdir $r->[5];
  my $fn = fileno $NULL;
  if ($r->[4] ne '') { $fn = POSIX::open($r->[4], POSIX::O_RDONLY()) // child_fail($r->[3], 'spawn_failed') }
  (defined POSIX::dup2($fn, 0) && defined POSIX::dup2($r->[1], 1) && defined POSIX::dup2($r->[2], 2)) or child_fail($r->[3], 'spawn_failed');
  POSIX::close($fn) if $r->[4] ne '' && $fn > 2;
  syscall($EXECVE, $r->[8], $r->[9], $r->[10]) if defined $r->[8];
  # Not executed that way (or no way to try): Perl's exec, with its PATH search, gives the
  # exact outcome and errno.
  for (@{$r->[6]}) { my $i = index($_, '='); $ENV{substr($_, 0, $i)} = substr($_, $i + 1) }
  { no warnings 'exec'; exec { $r->[7][0] } @{$r->[7]}; }
  child_fail($r->[3], 'spawn_failed');
}
my @pids;
while (1) {
  my @ended;
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { push @ended, "$pid $?" if delete $live{$pid} }
  if (@ended) { my $a = alone(); $out .= "X $_ $a\n" for @ended }
  my $o = 0;
  while ($o < length $out) {
    my $n = syswrite(STDOUT, $out, length($out) - $o, $o);
    if (!defined $n) { next if $!{EINTR}; POSIX::_exit(0) }
    $o += $n;
  }
  $out = '';
  my $rin = ''; vec($rin, 0, 1) = 1;
  # A SIGCHLD that lands between the reap and select() is seen at the next event: while tasks
  # run, look again after 50 ms at the latest.
  next if select($rin, undef, undef, %live ? 0.05 : undef) <= 0;
  my $r = sysread(STDIN, $in, 65536, length $in);
  # The helper is gone: the tasks run on (their own sessions), and their parent goes.
  POSIX::_exit(0) if defined $r ? $r == 0 : !$!{EINTR};
  my @batch;
  while ((my $nl = index($in, "\n")) >= 0) {
    my $len = substr($in, 0, $nl);
    last if length($in) < $nl + 1 + $len;
    my @f = split /\0/, substr($in, $nl + 1, $len), -1; pop @f;
    substr($in, 0, $nl + 1 + $len) = '';
    my $op = shift(@f) // '';
    if ($op eq 'S') {
      # Prepared before any fork: [serial, out fd, err fd, confirm fd, input path, cwd, [K=V…],
      # [argv…], program for execve, argv pointers, envp pointers].
      my ($s, $o, $e, $c, $inpath, $cwd, $nenv, @argv) = @f;
      # Close-on-exec, all three: a task must not keep the pipes of the others of its batch
      # (dup2 onto 1 and 2 clears the flag on the task's own).
      my ($fo, $fe, $fc) = map { POSIX::open("/proc/$helper/fd/$_", O_WRONLY | $CLOEXEC) } $o, $e, $c;
      if (defined $fo && defined $fe && defined $fc) {
        my @env = splice(@argv, 0, $nenv);
        my ($prog, $argvp, $envp);
        if (defined $EXECVE) {
          my ($path, %drop) = ($ENV{PATH});
          for (@env) {
            my $k = substr($_, 0, index($_, '='));
            $drop{$BI{$k}} = 1 if exists $BI{$k};
            $path = substr($_, length($k) + 1) if $k eq 'PATH';
          }
          $prog = resolve($argv[0], $path);
          if (defined $prog) {
            # pack 'p': pointers to the strings themselves, which live as long as the request.
            $envp = pack('p*', (%drop ? @BASE[grep { !$drop{$_} } 0 .. $#BASE] : @BASE), @env, undef);
            $argvp = pack('p*', @argv, undef);
          }
        }
        push @batch, [$s, $fo, $fe, $fc, $inpath, $cwd, \@env, \@argv, $prog, $argvp, $envp];
      } else {
        $out .= "P $s -1 " . errname() . "\n";
        POSIX::close($_) for grep { defined } $fo, $fe, $fc;
      }
    }
    elsif ($op eq 'B') {
      %ENV = (); @BASE = @f; %BI = ();
      for my $j (0 .. $#f) { my $i = index($f[$j], '='); my $k = substr($f[$j], 0, $i); $ENV{$k} = substr($f[$j], $i + 1); $BI{$k} = $j }
    }
  }
  next unless @batch;
  # Back to back: between two forks only this loop writes memory.
  for my $i (0 .. $#batch) {
    my $pid = fork();
    child($batch[$i]) if defined $pid && $pid == 0;
    $pids[$i] = $pid // -1;
  }
  for my $i (0 .. $#batch) {
    my ($p, $pid) = ($batch[$i], $pids[$i]);
    POSIX::close($_) for @$p[1, 2, 3];
    if ($pid > 0) { $live{$pid} = 1; $out .= "P $p->[0] $pid\n" } else { $out .= "P $p->[0] -1 EAGAIN\n" }
  }
}
`;

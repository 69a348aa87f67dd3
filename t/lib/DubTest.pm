package DubTest;

# Test harness in the manner of nginx's own tests: each test file starts
# its own nginx on reserved ports in a temporary directory, drives it with
# real ffmpeg/ffprobe, fails on [alert], [crit], [emerg], a crashed
# worker or sanitizer output in the logs, and always stops what it
# started.
#
# Ports come from port(): each is held by a lock file for the life of the
# test file (as nginx-tests' port() does), from a range below the
# kernel's ephemeral ports, so test files running in parallel never get
# the same one and no outgoing connection takes it either.
#
# The log check needs no call: done_testing() stops every nginx still
# running and checks its logs as one more test; a test that dies fails
# on its logs too.  stop_ok() does the same earlier, by name.
#
# Environment:
#   TEST_NGINX_BINARY   nginx to run (default /usr/sbin/nginx)
#   TEST_NGINX_STATIC   1: the binary has nginx-rtmp and this module built
#                       in (the sanitizer build), load no modules
#   TEST_NGINX_MODULES  the lines that load the modules, in place of those
#                       of the build (t/deb.t: the installed package's)
#   TEST_NGINX_LEAVE    1: keep the temporary directory
#   TEST_NGINX_VERBOSE  1: print nginx's error log on failure
#   TEST_DUB_ALL        1 (set by "make test"): a test whose build output
#                       is missing fails instead of skipping

use strict;
use warnings;
no warnings qw(exec);

use Cwd qw(abs_path);
use Fcntl qw(:flock);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG setsid);
use Time::HiRes qw(time sleep);
use Test::More;

our $TOP = abs_path(dirname(__FILE__) . '/../..');

# the sanitizer build: leaks are checked, nginx's own kept memory is not
$ENV{ASAN_OPTIONS} //= 'detect_leaks=1:abort_on_error=0:'
    . 'detect_stack_use_after_return=0';
$ENV{LSAN_OPTIONS} //= "suppressions=$TOP/t/lsan.supp:print_suppressions=0";
$ENV{UBSAN_OPTIONS} //= 'print_stacktrace=1';
our @PIDS;
my @INSTANCES;
my %PORTS;              # port => the lock file's handle

sub new {
    my ($class, %args) = @_;

    my $self = bless {
        http_listen_opts => $args{http_listen} // '',
        dub_log_level => $args{dub_log_level} // 'debug',
        rtmp    => $args{rtmp} // '',
        rtmp_main => $args{rtmp_main} // '',
        http    => $args{http},
        main    => $args{main} // '',
        workers => $args{workers} // 1,
        shutdown_timeout => exists $args{shutdown_timeout}
                            ? $args{shutdown_timeout} : '30s',
        binary  => $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx',
        dir     => tempdir('dub-test-XXXXXX', TMPDIR => 1,
                           CLEANUP => !$ENV{TEST_NGINX_LEAVE}),
    }, $class;

    $self->{rtmp_port} = port();
    $self->{http_port} = port();
    $self->{vars} = {};

    # workers of a root master run as an unprivileged user
    chmod 0755, $self->{dir};
    make_path("$self->{dir}/logs", "$self->{dir}/hls", "$self->{dir}/rec",
              "$self->{dir}/tmp", { mode => 0777 });
    chmod 0777, map { "$self->{dir}/$_" } qw(hls rec tmp);

    push @INSTANCES, $self;
    return $self;
}

sub dir { $_[0]{dir} }
sub rtmp_port { $_[0]{rtmp_port} }
sub http_port { $_[0]{http_port} }

sub url {
    my ($self, $path) = @_;
    return "rtmp://127.0.0.1:$self->{rtmp_port}/$path";
}

# A port nobody else uses while this test file runs: a random one below
# the ephemeral range, not listened on, and locked in a shared directory
# until the test file exits.
sub port {
    my $dir = '/tmp/nginx-dub-test-ports';
    mkdir $dir, 01777 and chmod 01777, $dir;

    my ($low) = (read_proc('/proc/sys/net/ipv4/ip_local_port_range')
                 // '32768') =~ /(\d+)/;
    $low = 32768 if $low < 12000;

    for (1 .. 1000) {
        my $port = 10000 + int(rand($low - 10000));
        next if $PORTS{$port};

        open my $lock, '>', "$dir/$port" or next;
        unless (flock($lock, LOCK_EX | LOCK_NB)) {
            close $lock;
            next;
        }

        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
            Listen => 1, ReuseAddr => 1);
        unless ($s) {
            close $lock;
            next;
        }
        close $s;

        $PORTS{$port} = $lock;
        return $port;
    }

    die "no free port\n";
}

sub read_proc {
    my ($file) = @_;
    open my $fh, '<', $file or return undef;
    local $/;
    return scalar <$fh>;
}

sub modules {
    return '' if $ENV{TEST_NGINX_STATIC};
    return "$ENV{TEST_NGINX_MODULES}\n" if $ENV{TEST_NGINX_MODULES};
    my $so = "$TOP/build/ngx_rtmp_dub_module.so";
    die "$so is missing: run make\n" unless -f $so;
    return "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n"
         . "load_module $so;\n";
}

# Values for %%NAME%% in the configuration: $t->set(STS => $sts->url)
sub set {
    my ($self, %vars) = @_;
    $self->{vars}{$_} = $vars{$_} for keys %vars;
    return $self;
}

# Replaces parts of the configuration given to new(): rtmp, rtmp_main,
# http, main, workers, http_listen, shutdown_timeout (worker_shutdown_timeout;
# default 30s, undef: none)
sub set_conf {
    my ($self, %conf) = @_;
    for my $k (keys %conf) {
        die "set_conf: unknown part $k\n" unless $k =~
            /^(rtmp|rtmp_main|http|main|workers|http_listen|shutdown_timeout|
              dub_log_level)$/x;
        $self->{$k eq 'http_listen' ? 'http_listen_opts' : $k} = $conf{$k};
    }
    return $self;
}

sub binary { $_[0]{binary} }

sub subst {
    my ($self, $text) = @_;
    my %v = (RTMP_PORT => $self->{rtmp_port}, HTTP_PORT => $self->{http_port},
             TESTDIR => $self->{dir}, TOP => $TOP, %{ $self->{vars} });
    $text =~ s/%%(\w+)%%/exists $v{$1} ? $v{$1}
                          : die "no value for %%$1%% (\$t->set)\n"/ge;
    return $text;
}

sub conf_text {
    my ($self, %over) = @_;
    my $rtmp = $over{rtmp} // $self->{rtmp};
    my $http = exists $over{http} ? $over{http} : $self->{http};

    my $shutdown = defined $self->{shutdown_timeout}
        ? "worker_shutdown_timeout $self->{shutdown_timeout};" : '';

    my $conf = modules() . <<"EOF";
error_log $self->{dir}/logs/error.log info;
pid $self->{dir}/nginx.pid;
daemon off;
master_process on;
worker_processes $self->{workers};
$shutdown
$self->{main}

events {
    worker_connections 1024;
}

rtmp {
    # the module's per-fragment lines, for the tests that follow them
    dub_error_log $self->{dir}/logs/error.log $self->{dub_log_level};
$self->{rtmp_main}

    server {
        listen 127.0.0.1:%%RTMP_PORT%%;

$rtmp
    }
}
EOF

    if (defined $http) {
        $conf .= <<"EOF";

http {
    access_log off;
    client_body_temp_path $self->{dir}/tmp;
    proxy_temp_path $self->{dir}/tmp;
    fastcgi_temp_path $self->{dir}/tmp;
    uwsgi_temp_path $self->{dir}/tmp;
    scgi_temp_path $self->{dir}/tmp;

    server {
        listen 127.0.0.1:%%HTTP_PORT%% $self->{http_listen_opts};

$http
    }
}
EOF
    }

    return $self->subst($conf);
}

sub write_conf {
    my ($self, %over) = @_;
    my $file = "$self->{dir}/nginx.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $self->conf_text(%over);
    close $fh;
    return $file;
}

# nginx -t: returns (exit code, output)
sub test_conf {
    my ($self, %over) = @_;
    my $file = $self->write_conf(%over);
    my $out = `$self->{binary} -t -p $self->{dir}/ -c $file 2>&1`;
    return ($? >> 8, $out);
}

# Starts nginx with the test's configuration, or with "conf" (a file)
# and "args" (more command-line arguments), from the directory "chdir";
# returns when it listens on the RTMP port.
sub run {
    my ($self, %o) = @_;
    my $file = $o{conf} // $self->write_conf;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        chdir $o{chdir} if $o{chdir};
        open STDOUT, '>', "$self->{dir}/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        exec $self->{binary}, '-p', "$self->{dir}/", '-c', $file,
            @{ $o{args} // [] };
        POSIX::_exit(127);
    }

    $self->{pid} = $pid;
    $self->{ran} = 1;
    delete $self->{checked};

    my $deadline = time + 60;
    while (time < $deadline) {
        if (waitpid($pid, WNOHANG) == $pid) {
            delete $self->{pid};
            die "nginx exited at start:\n" . $self->read_file('logs/stderr.log')
                . $self->read_file('logs/error.log');
        }
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $self->{rtmp_port});
        if ($s && $self->workers >= $self->{workers}) {
            close $s;
            return $self;
        }
        sleep 0.05;
    }

    die "nginx did not listen on $self->{rtmp_port}";
}

# Reloads the configuration (SIGHUP) and waits until the new workers run
# and the old ones have been told to quit; returns true if they did.
sub reload {
    my ($self, $timeout) = @_;
    my $re = qr/start worker process (\d+)/;
    my $before = () = $self->log_lines($re);
    kill 'HUP', $self->{pid};
    return $self->wait_for(sub {
        my $started = () = $self->log_lines($re);
        return $started >= $before + $self->{workers};
    }, $timeout // 30);
}

# Calls "cond" every 50 ms until it returns true (then returns that) or
# "timeout" seconds pass (then returns false).
sub wait_for {
    my ($self, $cond, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (1) {
        my $r = $cond->();
        return $r if $r;
        return 0 if time >= $deadline;
        sleep 0.05;
    }
}

# Waits until "count" (default 1) players asked nginx-rtmp for the
# stream "name" since nginx started; nginx-rtmp attaches a player in the
# event that logs its "play" command.
sub wait_player {
    my ($self, $name, $timeout, $count) = @_;
    my $re = qr/ play: name='\Q$name\E'/;
    return $self->wait_for(sub {
        my $n = () = $self->log_lines($re);
        return $n >= ($count // 1);
    }, $timeout);
}

# Stops nginx and checks its logs.  Returns the problems found.
sub stop {
    my ($self, %opts) = @_;
    $self->{checked} = 1;
    my $pid = delete $self->{pid} or return;
    my $deadline = time + ($opts{timeout} // 60);

    if ($ENV{TEST_NGINX_STATIC} && !$opts{graceful}) {
        # The sanitizer build: each worker is told to stop fast by itself,
        # then the master to stop gracefully (its new workers are idle).
        # nginx's master kills a worker still there about 1.5 s after it
        # asked it to stop fast, and a sanitizer build on a busy machine
        # (its leak check at exit) may take longer than that.
        my @w = $self->workers($pid);
        kill 'TERM', @w;
        while (time < $deadline && grep { kill 0, $_ } @w) {
            sleep 0.05;
        }
        kill 'QUIT', $pid;

    } else {
        kill $opts{graceful} ? 'QUIT' : 'TERM', $pid;
    }
    while (time < $deadline) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    if (kill 0, $pid) {
        kill 'KILL', -$pid;
        waitpid($pid, 0);
        return ("nginx did not stop");
    }

    return $self->problems;
}

sub problems {
    my ($self) = @_;
    my @bad;

    for my $f ('logs/error.log', 'logs/stderr.log') {
        for (split /\n/, $self->read_file($f)) {
            push @bad, $_ if /\[(alert|crit|emerg)\]/
                || /exited on signal/
                || /AddressSanitizer|LeakSanitizer|runtime error:/
                || /^==\d+==/;
        }
    }

    return @bad;
}

# stops nginx and reports the log check as one test
sub stop_ok {
    my ($self, $name, %opts) = @_;
    my @bad = $self->stop(%opts);
    ok(!@bad, $name // 'no alert, crit, emerg or crash in the logs')
        or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
    diag($self->read_file('logs/error.log'))
        if @bad && $ENV{TEST_NGINX_VERBOSE};
    return !@bad;
}

# Every nginx the test ran and did not check itself: stopped, and its
# logs checked as one test each (before done_testing counts), or, if the
# test died, reported and made to fail.
sub check_all {
    my ($in_end) = @_;
    my $bad = 0;
    for my $t (@INSTANCES) {
        next if $t->{checked} || !$t->{ran};
        if (!$in_end) {
            $t->stop_ok;
            next;
        }
        my @bad = $t->stop(timeout => 10);
        next unless @bad;
        Test::More::diag("nginx in $t->{dir}:\n" . join "\n",
                         @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
        $bad++;
    }
    return $bad;
}

{
    no warnings 'redefine';
    my $done = \&Test::Builder::done_testing;
    *Test::Builder::done_testing = sub { check_all(0); goto &$done };
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

sub error_log { $_[0]->read_file('logs/error.log') }

# lines of the error log matching a regex
sub log_lines {
    my ($self, $re) = @_;
    return grep { /$re/ } split /\n/, $self->error_log;
}

# waits until the error log has a line matching the regex
sub wait_log {
    my ($self, $re, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (time < $deadline) {
        return 1 if $self->log_lines($re);
        sleep 0.1;
    }
    return 0;
}

# The fragments an STS left unanswered when the connection went (their
# ids) all fall back as sts_unavailable, and only fragments that were
# sent do (one on its way, or whose answer was still being read, may join
# them).  One test; returns how many fell back so.
sub lost_in_flight_ok {
    my ($self, $stream, $unanswered, $name) = @_;
    my @fb = map { /fragment (\S+) falls back/ ? $1 : () } $self->log_lines(
        qr/"\Q$stream\E" segment \d+ fragment \S+ falls back to its original audio: sts_unavailable/);
    my %fb = map { $_ => 1 } @fb;
    my @missing = grep { !$fb{$_} } @$unanswered;
    my @unsent = grep { !$self->log_lines(
        qr/"\Q$stream\E" fragment \Q$_\E seq \d+ sent to session/) } @fb;
    ok(@$unanswered && !@missing && !@unsent, "$name: the " . @$unanswered
       . ' unanswered fall back as sts_unavailable (' . @fb . ' in all)')
        or diag("not so: @missing; not sent: @unsent");
    return scalar @fb;
}

# A build output the test needs is missing: under "make test"
# (TEST_DUB_ALL) that fails the test file, elsewhere it skips it.
sub missing {
    my ($why) = @_;
    if ($ENV{TEST_DUB_ALL}) {
        plan(tests => 1);
        fail($why);
        exit 1;
    }
    plan(skip_all => $why);
}

# The rest of the test file runs on the sanitizer build (make asan)
sub use_sanitizer_build {
    my $nginx = "$TOP/build/asan/nginx";
    missing("no sanitizer build $nginx (make asan)") unless -x $nginx;
    $ENV{TEST_NGINX_BINARY} = $nginx;
    $ENV{TEST_NGINX_STATIC} = 1;
}

sub fixture {
    my ($name) = @_;
    my $f = "$TOP/fixtures/out/$name.flv";
    die "$f is missing: run make fixtures\n" unless -f $f;
    return $f;
}

sub spawn {
    my ($self, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/logs/$log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd;
        POSIX::_exit(127);
    }
    push @PIDS, $pid;
    return $pid;
}

# ffmpeg pushing a fixture in real time; input options, then an array
# reference of output options if any
sub publish {
    my ($self, $fixture, $path, @extra) = @_;
    my $src = $fixture =~ m{/} ? $fixture : fixture($fixture);
    my $out = (@extra && ref $extra[-1]) ? pop @extra : [];
    return $self->spawn("publish.log", 'ffmpeg', '-nostdin', '-hide_banner',
        '-loglevel', 'error', '-re', @extra, '-i', $src, '-c', 'copy',
        @$out, '-f', 'flv', $self->url($path));
}

# ffmpeg playing a stream into a file, codec copy
sub play {
    my ($self, $path, $file, @extra) = @_;
    return $self->spawn("play.log", 'ffmpeg', '-nostdin', '-hide_banner',
        '-loglevel', 'error', '-y', @extra, '-i', $self->url($path),
        '-map', '0', '-c', 'copy', '-f', 'flv', $file);
}

# Watches a stream with ffprobe from now on; the file it returns gets the
# wall time (epoch seconds) of the first packet that arrives, then the
# number of packets when the stream ends.
sub watch_first_packet {
    my ($self, $path) = @_;
    my $file = "$self->{dir}/first-" . ($path =~ s{/}{-}gr);
    my $url = $self->url($path);

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open my $p, '-|', "stdbuf -oL ffprobe -v error -analyzeduration 0 "
            . "-probesize 32 -show_packets -show_entries packet=pts_time "
            . "-of csv=p=0 '$url' 2>/dev/null" or POSIX::_exit(1);
        my $n = 0;
        while (<$p>) {
            if ($n++ == 0) {
                open my $fh, '>', $file;
                printf $fh "%.3f\n", time;
                close $fh;
            }
        }
        open my $fh, '>>', $file;
        print $fh "$n\n";
        close $fh;

        # not exit(): the END block would stop what the parent started
        POSIX::_exit(0);
    }
    push @PIDS, $pid;

    return ($pid, $file);
}

# The echo STS (sts/echo/server.js) with its command-line options;
# returns an object with port, pid, url(nsp), control(), stats().
# the echo STS (sts/echo/) with these options
sub sts {
    my ($self, @opts) = @_;
    return $self->start_sts("$TOP/sts/echo/server.js", @opts);
}

# the speech STS (sts/speech/) on a reserved port: local stages by
# default, or the HTTP APIs its options name
sub speech_sts {
    my ($self, @opts) = @_;
    return $self->start_sts("$TOP/sts/speech/server.js", @opts);
}

# the stand-ins of the speech services' HTTP APIs
# (t/tools/speech-standins.js) on a reserved port: ->call('GET',
# '/_requests') has what they were asked, ->call('POST', '/_rules', [...])
# makes them fail
sub speech_standins {
    my ($self, @opts) = @_;
    return $self->start_sts("$TOP/t/tools/speech-standins.js", @opts);
}

sub start_sts {
    my ($self, $script, @opts) = @_;
    my $n = ++$self->{nsts};

    # a reserved port in place of "any": the STS can be restarted on it
    my ($i) = grep { $opts[$_] eq '--port' } 0 .. $#opts - 1;
    if (!defined $i) {
        push @opts, '--port', port();
    } elsif ($opts[$i + 1] eq '0') {
        $opts[$i + 1] = port();
    }

    my $out = "$self->{dir}/logs/sts$n.out";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out;
        open STDERR, '>>', "$self->{dir}/logs/sts$n.log";
        exec 'node', $script, @opts;
        POSIX::_exit(127);
    }
    push @PIDS, $pid;

    my $deadline = time + 60;
    my $port;
    while (time < $deadline) {
        ($port) = $self->read_file($out) =~ /^listening (\d+)/m;
        last if $port;
        die "STS $script exited:\n" . $self->read_file("logs/sts$n.log")
            if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    die "STS $script did not start" unless $port;

    return DubTest::STS->new(port => $port, pid => $pid, harness => $self,
                             script => $script, opts => \@opts, n => $n);
}

# GET on the test's HTTP port: (status, body, headers)
sub http_get {
    my ($self, $path) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)
        ->get("http://127.0.0.1:$self->{http_port}$path");
    return ($r->{status}, $r->{content}, $r->{headers});
}

# /metrics parsed: { 'name{labels}' => value }, and the text
sub metrics {
    my ($self, $path) = @_;
    my ($status, $body, $headers) = $self->http_get($path // '/metrics');
    die "metrics: $status\n" unless $status == 200;
    my %m;
    for (split /\n/, $body) {
        next if /^#/ || !/\S/;
        my ($k, $v) = /^(\S+(?:\{.*\})?) (\S+)$/ or next;
        $m{$k} = $v;
    }
    return wantarray ? (\%m, $body, $headers) : \%m;
}

# promtool check metrics on a text: (ok, output)
sub promtool_check {
    my ($self, $text) = @_;
    my $file = "$self->{dir}/metrics-" . ++$self->{nprom} . '.txt';
    open my $fh, '>', $file or die;
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < '$file' 2>&1`;
    return ($? == 0, $out);
}

# Watches a stream: every packet's arrival (epoch s) and timestamp go to
# the file returned, a line each, until the stream ends.
sub watch_packets {
    my ($self, $path) = @_;
    my $file = "$self->{dir}/arrivals-" . ($path =~ s{/}{-}gr);
    my $url = $self->url($path);

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setsid();
        open STDIN, '<', '/dev/null';
        open my $p, '-|', "stdbuf -oL ffprobe -v error -analyzeduration 0 "
            . "-probesize 32 -show_packets -show_entries "
            . "packet=codec_type,dts_time -of csv=p=0 '$url' 2>/dev/null"
            or POSIX::_exit(1);
        open my $fh, '>', $file;
        $fh->autoflush(1);
        while (<$p>) {
            chomp;
            printf $fh "%.3f,%s\n", time, $_;
        }
        close $fh;
        POSIX::_exit(0);
    }
    push @PIDS, $pid;

    return ($pid, $file);
}

# the longest wait between two packets seen by watch_packets, ms, after
# the first one; and how many packets
sub max_arrival_gap {
    my ($self, $file) = @_;
    my ($last, $max, $n) = (undef, 0, 0);
    for (split /\n/, $self->read_file($file)) {
        my ($t) = split /,/;
        $n++;
        $max = $t - $last if defined $last && $t - $last > $max;
        $last = $t;
    }
    return (int($max * 1000), $n);
}

# the pids of nginx's worker processes
sub workers {
    my ($self, $pid) = @_;
    $pid //= $self->{pid};
    return map { /^(\d+)$/ ? $1 : () } `pgrep -P $pid`;
}

# CPU time (user + system, s; with "children", that of the children it
# waited for too) and resident size (kB) of a process; empty if it is gone
sub proc_usage {
    my ($pid, $children) = @_;
    open my $st, '<', "/proc/$pid/stat" or return;
    my @f = split / /, <$st> =~ s/^.*\) //r;
    open my $sf, '<', "/proc/$pid/status" or return;
    my ($rss) = join('', <$sf>) =~ /^VmRSS:\s+(\d+)/m;
    my $ticks = $f[11] + $f[12] + ($children ? $f[13] + $f[14] : 0);
    return ($ticks / POSIX::sysconf(POSIX::_SC_CLK_TCK()), $rss // 0);
}

# the bucket of nginx_dub_event_loop_lag_seconds that holds the quantile
# "q" of the samples taken between two scrapes; and how many there were
sub lag_quantile {
    my ($m, $before, $q) = @_;
    my $h = 'nginx_dub_event_loop_lag_seconds';
    my $n = $m->{"${h}_count"} - ($before->{"${h}_count"} // 0);
    for my $le (qw(0.001 0.002 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 +Inf)) {
        my $k = "${h}_bucket{le=\"$le\"}";
        return ($le, $n) if $m->{$k} - ($before->{$k} // 0) >= $q * $n;
    }
    return ('+Inf', $n);
}

# is the process still running (reaping it, if not)
sub running {
    my ($self, $pid) = @_;
    return 0 if exists $self->{exited}{$pid};
    my $r = waitpid($pid, WNOHANG);
    if ($r == $pid) {
        my $status = $?;
        @PIDS = grep { $_ != $pid } @PIDS;
        $self->{exited}{$pid} = ($status & 127) ? -($status & 127)
                                                : $status >> 8;
        return 0;
    }
    return $r == 0;
}

# waits for a process; returns its exit status, or undef on timeout
sub wait_exit {
    my ($self, $pid, $timeout) = @_;
    return $self->{exited}{$pid} if exists $self->{exited}{$pid};
    my $deadline = time + ($timeout // 60);
    while (time < $deadline) {
        my $r = waitpid($pid, WNOHANG);
        if ($r == $pid) {
            my $status = $?;
            @PIDS = grep { $_ != $pid } @PIDS;
            # killed by a signal: its number, negative
            return ($status & 127) ? -($status & 127) : $status >> 8;
        }
        return undef if $r < 0;
        sleep 0.05;
    }
    return undef;
}

sub kill_proc {
    my ($self, $pid, $sig) = @_;
    kill $sig // 'TERM', -$pid;
    kill $sig // 'TERM', $pid;
}

# per-packet list of a media file: [stream, pts, size, md5, dts]
sub packets {
    my ($file) = @_;
    my @p;
    open my $fh, '-|', 'ffmpeg', '-nostdin', '-v', 'error', '-i', $file,
        '-map', '0', '-c', 'copy', '-f', 'framemd5', '-'
        or die "ffmpeg: $!";
    while (<$fh>) {
        next if /^#/;
        chomp;
        my @f = map { s/^\s+//r } split /,/;
        push @p, [ $f[0], $f[2], $f[4], $f[5], $f[1] ];
    }
    close $fh;
    return \@p;
}

# packets of one stream: stream index 0 = first stream in the file
sub stream_packets {
    my ($packets, $codec_index) = @_;
    return [ grep { $_->[0] == $codec_index } @$packets ];
}

sub probe {
    my ($file, @entries) = @_;
    my $what = join ',', @entries;
    my $out = `ffprobe -v error -show_entries $what -of default=nw=1 '$file' 2>&1`;
    my %r;
    for (split /\n/, $out) {
        $r{$1} //= $2 if /^(\w+)=(.*)$/;
    }
    return \%r;
}

# codec names per stream index
sub streams {
    my ($file) = @_;
    my $out = `ffprobe -v error -show_entries stream=index,codec_name -of csv=p=0 '$file' 2>&1`;
    my %s;
    for (split /\n/, $out) {
        my ($i, $c) = split /,/;
        $s{$c} = $i if defined $c;
    }
    return \%s;
}

# tests that "out" carries every packet of "in", byte for byte, in order,
# with the same timestamps (shifted by "offset" ms)
sub is_same_media {
    my ($in, $out, $name, %o) = @_;
    my $pin = packets($in);
    my $pout = packets($out);
    my $sin = streams($in);
    my $sout = streams($out);
    my $offset = $o{offset} // 0;

    is(join(',', sort keys %$sout), join(',', sort keys %$sin),
       "$name: same streams");

    for my $codec (sort keys %$sin) {
        my $a = stream_packets($pin, $sin->{$codec});
        my $b = defined $sout->{$codec}
            ? stream_packets($pout, $sout->{$codec}) : [];

        my ($same, $pts) = (0, 0);
        for my $i (0 .. $#$a) {
            last unless $b->[$i] && $a->[$i][3] eq $b->[$i][3]
                        && $a->[$i][2] == $b->[$i][2];
            $same++;
            $pts++ if $a->[$i][1] + $offset == $b->[$i][1];
        }

        ok($same == @$a && @$b == @$a && $pts == @$a,
           "$name: $codec packets identical and in time")
            or diag("$codec: in " . @$a . ", out " . @$b
                    . ", identical $same, same time $pts");
    }
}

# tests that "out" holds the first packets of "in", identical, for each
# stream, and at least "min" ms of them; returns the packet counts
sub is_prefix_media {
    my ($in, $out, $name, $min) = @_;
    my $pin = packets($in);
    my $pout = packets($out);
    my $sin = streams($in);
    my $sout = streams($out);
    my %n;

    for my $codec (sort keys %$sin) {
        my $a = stream_packets($pin, $sin->{$codec});
        my $b = defined $sout->{$codec}
            ? stream_packets($pout, $sout->{$codec}) : [];

        my $same = 0;
        for my $i (0 .. $#$b) {
            last unless $a->[$i] && $a->[$i][3] eq $b->[$i][3]
                        && $a->[$i][1] == $b->[$i][1];
            $same++;
        }

        my $ms = @$b ? $b->[-1][1] : 0;
        ok($same == @$b && $ms >= $min,
           "$name: $codec output is the input's first ${ms} ms")
            or diag("$codec: out " . @$b . ", identical $same, "
                    . "last at $ms ms");
        $n{$codec} = scalar @$b;
    }

    return \%n;
}

# the audio of a media file as 16-bit mono PCM at "rate", in a file
sub pcm {
    my ($file, $rate) = @_;
    my $out = "$file.$rate.s16";
    system("ffmpeg -nostdin -v error -y -i '$file' -map 0:a -ac 1 -ar $rate "
           . "-f s16le '$out'") == 0 or die "cannot decode $file";
    return $out;
}

# build/tools/audio-probe: one array of numbers per line of output
sub audio_probe {
    my ($pcm, @args) = @_;
    my $tool = "$TOP/build/tools/audio-probe";
    die "$tool is missing: run make tools\n" unless -x $tool;
    my @rows;
    open my $fh, '-|', "'$tool' @args < '$pcm'" or die "$tool: $!";
    while (<$fh>) {
        chomp;
        push @rows, [ split ' ' ];
    }
    close $fh;
    return \@rows;
}

# [pts ms, size] of one stream's packets, in decode order
sub stream_times {
    my ($file, $codec) = @_;
    my $s = streams($file);
    return [] unless defined $s->{$codec};
    return [ map { [ $_->[4], $_->[2] ] }
             @{ stream_packets(packets($file), $s->{$codec}) } ];
}

# The captions ffmpeg's own decoder reads out of a file's H.264 stream
# (lavfi movie, subcc): [start ms, end ms, text] per caption, times as
# the file has them; field 1 (CC1), or field 2 (CC3) with field => 2.
# The text is UTF-8 bytes, its rows joined by a space.
sub captions {
    my ($file, %o) = @_;
    my @field = ($o{field} // 1) == 2 ? ('-data_field', 'second') : ();
    my $out = "$file.cc" . ($o{field} // 1) . '.srt';
    system('ffmpeg', '-nostdin', '-v', 'error', '-y', @field, '-copyts',
           '-f', 'lavfi', '-i', "movie=$file\[out0+subcc]", '-map', '0:s',
           '-c:s', 'srt', '-f', 'srt', $out) == 0
        or die "ffmpeg cannot read the captions of $file\n";
    open my $fh, '<', $out or die "$out: $!";
    my $srt = do { local $/; <$fh> };
    close $fh;

    my @cues;
    for my $cue (split /\r?\n\r?\n/, $srt) {
        my ($h1, $m1, $s1, $ms1, $h2, $m2, $s2, $ms2, $text) = $cue =~
            /(\d+):(\d+):(\d+),(\d+) --> (\d+):(\d+):(\d+),(\d+)\r?\n(.*)/s
            or next;
        $text =~ s/<[^>]*>|\{\\[^}]*\}//g;
        $text =~ s/\\h/ /g;
        $text = join ' ', grep { length } map { s/^\s+|\s+$//gr }
                split /\r?\n|\\N/, $text;
        push @cues, [ (($h1 * 60 + $m1) * 60 + $s1) * 1000 + $ms1,
                      (($h2 * 60 + $m2) * 60 + $s2) * 1000 + $ms2, $text ];
    }
    return \@cues;
}

# The AVC video tags of an FLV file: [dts ms, pts ms, [NAL unit, ...]]
# each, NAL units as bytes; with sei => 0, without the caption SEIs
# (nal_unit_type 6, payload type 4, "GA94").  Returns the tags and how
# many caption SEIs there were.
sub flv_avc_nalus {
    my ($file, %o) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    my $flv = do { local $/; <$fh> };
    close $fh;
    die "$file: not FLV\n" unless substr($flv, 0, 3) eq 'FLV';

    my ($off, $size, @tags) = (unpack('N', substr($flv, 5, 4)) + 4, 4);
    my $nsei = 0;

    while ($off + 11 <= length $flv) {
        my ($type, $s24, $ts, $ext) = unpack('C a3 a3 C', substr($flv, $off));
        my $len = unpack('N', "\0$s24");
        my $body = substr($flv, $off + 11, $len);
        $off += 11 + $len + 4;
        next unless ($type & 0x1f) == 9 && $len >= 5
                    && (ord($body) & 0x0f) == 7;

        my $pkt = ord substr($body, 1, 1);
        if ($pkt == 0) {
            $size = (ord(substr($body, 9, 1)) & 3) + 1;
            next;
        }
        next unless $pkt == 1;

        my $dts = unpack('N', "\0$ts") | ($ext << 24);
        my $cts = unpack('N', "\0" . substr($body, 2, 3));
        $cts -= 1 << 24 if $cts & 0x800000;

        my ($p, @nalus) = (5);
        while ($p + $size <= $len) {
            my $n = unpack($size == 4 ? 'N' : $size == 2 ? 'n' : 'C',
                           substr($body, $p, $size));
            my $nal = substr($body, $p + $size, $n);
            $p += $size + $n;
            if ((ord($nal) & 0x1f) == 6 && substr($nal, 1, 1) eq "\x04"
                && index($nal, 'GA94') > 0)
            {
                $nsei++;
                next unless $o{sei} // 1;
            }
            push @nalus, $nal;
        }
        push @tags, [ $dts, $dts + $cts, \@nalus ];
    }
    return wantarray ? (\@tags, $nsei) : \@tags;
}

sub cleanup {
    for my $pid (@PIDS) {
        kill 'KILL', -$pid;
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    @PIDS = ();

    for my $t (@INSTANCES) {
        next unless $t->{pid};
        kill 'KILL', -$t->{pid};
        kill 'KILL', $t->{pid};
        waitpid($t->{pid}, 0);
        delete $t->{pid};
    }
}

END {
    my $status = $?;
    my $bad = check_all(1);
    cleanup();
    $? = $status || ($bad ? 1 : 0);
}

$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 1 };


package DubTest::STS;

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;

sub new {
    my ($class, %a) = @_;
    return bless { %a, http => HTTP::Tiny->new(timeout => 10) }, $class;
}

sub port { $_[0]{port} }
sub pid { $_[0]{pid} }

# the module's URL for it: http://127.0.0.1:PORT/NSP
sub url {
    my ($self, $nsp) = @_;
    return "http://127.0.0.1:$self->{port}" . ($nsp // '/sts');
}

sub call {
    my ($self, $method, $path, $body) = @_;
    my $r = $self->{http}->request($method,
        "http://127.0.0.1:$self->{port}$path",
        $body ? { content => encode_json($body),
                  headers => { 'Content-Type' => 'application/json' } }
              : {});
    die "echo STS $method $path: $r->{status} $r->{content}\n"
        unless $r->{success};
    return $r->{content} =~ /^\s*[\[{]/ ? decode_json($r->{content}) : undef;
}

sub control { my ($self, %c) = @_; return $self->call('POST', '/control', \%c) }
sub stats { $_[0]->call('GET', '/stats') }
sub reset { $_[0]->call('POST', '/reset', {}) }
sub disconnect { $_[0]->call('POST', '/disconnect', {}) }
sub backpressure { my ($self, %b) = @_; $self->call('POST', '/backpressure', \%b) }
sub emit { my ($self, %e) = @_; $self->call('POST', '/emit', \%e) }
sub flood { my ($self, %f) = @_; $self->call('POST', '/flood', \%f) }

# An event sent in band by a Socket.IO client of the test's own
# (t/tools/sio-emit.js), for the echo STS's config:error_simulation and
# simulate:disconnect: returns {event, payload} of the "reply" event, or
# {acked => true} without one.
sub inband {
    my ($self, $event, $payload, $reply) = @_;
    open my $fh, '-|', 'node', "$DubTest::TOP/t/tools/sio-emit.js",
        $self->url, $event, encode_json($payload), $reply // ()
        or die "node: $!\n";
    my $out = do { local $/; <$fh> };
    close $fh;
    die "in-band $event to the echo STS failed\n" if $? || !$out;
    return decode_json($out);
}

sub kill {
    my ($self, $sig) = @_;
    kill $sig // 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    @DubTest::PIDS = grep { $_ != $self->{pid} } @DubTest::PIDS;
}

# the same server again on the same port, after kill()
sub restart {
    my ($self) = @_;
    my @opts = @{ $self->{opts} };
    for my $i (0 .. $#opts - 1) {
        $opts[$i + 1] = $self->{port} if $opts[$i] eq '--port';
    }
    my $again = $self->{harness}->start_sts($self->{script}, @opts);
    %$self = (%$self, pid => $again->{pid});
    return $self;
}

1;

#!/usr/bin/perl

# The thread pool of the audio work: by default the module declares its
# own pool "dub" with a thread per core; a "thread_pool dub" line the
# configuration has is used as written; "dub_thread_pool" names another
# pool, and an undeclared one fails nginx -t.  Counted as the threads of
# the running worker: the event loop and the pool's.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $cores = `getconf _NPROCESSORS_ONLN` + 0 || 1;

sub rtmp {
    my ($extra, $sts) = @_;
    $extra //= '';
    $sts //= 'http://127.0.0.1:9/';
    return <<"EOF";
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_url $sts;
            $extra
        }

        application dubbed {
            live on;
        }
EOF
}

# the worker's threads once they are all up (nginx starts the pools'
# threads as the worker starts, before it accepts anything)
sub threads_of {
    my ($t, $want) = @_;
    my ($worker) = $t->workers;
    return -1 unless $worker;
    my $n = 0;
    $t->wait_for(sub {
        opendir my $d, "/proc/$worker/task" or return 0;
        $n = grep { /^\d+$/ } readdir $d;
        return $n == $want;
    }, 10);
    return $n;
}

# the scheduling policy of each thread of a process (/proc: 0 normal,
# 3 batch), or its nice value
sub policies {
    my ($pid, $field) = @_;
    my %p;
    opendir my $d, "/proc/$pid/task" or return;
    for my $tid (grep { /^\d+$/ } readdir $d) {
        open my $f, '<', "/proc/$pid/task/$tid/stat" or next;
        my @f = split / /, <$f> =~ s/^.*\) //r;
        $p{$tid} = $f[$field // 38];
    }
    return %p;
}

# the default: "dub", a thread per core; its threads run the audio work
# as batch work, the event loop as before

my $t = DubTest->new(rtmp => rtmp('', '%%STS%%'));
my $sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url);
$t->run;
is(threads_of($t, 1 + $cores), 1 + $cores,
   "the default pool has a thread per core ($cores)");

my ($worker) = $t->workers;
$t->publish('short', 'live/s');
my %pol;
$t->wait_for(sub { %pol = policies($worker); grep { $_ == 3 } values %pol },
             60);
ok((grep { $_ == 3 } values %pol), 'a thread that did audio work is SCHED_BATCH')
    or diag(explain \%pol);
is($pol{$worker}, 0, 'the event loop keeps the normal policy');

# 10 nice levels below the worker (at most 19), the event loop's own
# unchanged: the one this test runs at
my $base = getpriority(0, 0);
my $low = $base + 10 > 19 ? 19 : $base + 10;
my %nice = policies($worker, 16);
my @batch = grep { $pol{$_} == 3 } keys %pol;
is($nice{$worker}, $base, "the event loop at nice $base");
ok(@batch && !grep({ $nice{$_} != $low } @batch),
   "the threads that did audio work at nice $low")
    or diag(explain \%nice);
$t->stop_ok;

# with worker_priority (which sets the nice value, not adds to it), the
# pool threads stay 10 below the worker

$t = DubTest->new(main => 'worker_priority -4;', rtmp => rtmp('', '%%STS%%'));
$sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url);
$t->run;
($worker) = $t->workers;
$t->publish('short', 'live/s');
$t->wait_for(sub { %pol = policies($worker); grep { $_ == 3 } values %pol },
             60);
%nice = policies($worker, 16);
@batch = grep { $pol{$_} == 3 } keys %pol;
is($nice{$worker}, -4, 'worker_priority -4: the event loop at -4');
ok(@batch && !grep({ $nice{$_} != 6 } @batch),
   'worker_priority -4: the audio threads at 6')
    or diag(explain \%nice);
$t->stop_ok;

# declared by the configuration: used as written

$t = DubTest->new(main => 'thread_pool dub threads=3;', rtmp => rtmp());
$t->run;
is(threads_of($t, 4), 4, '"thread_pool dub threads=3" is used as written');
$t->stop_ok;

# another pool by name

$t = DubTest->new(main => 'thread_pool audio threads=5;',
                  rtmp => rtmp('dub_thread_pool audio;'));
$t->run;
is(threads_of($t, 6), 6, 'dub_thread_pool names a declared pool');
$t->stop_ok;

# nginx's own "default" when named, declared or not

$t = DubTest->new(main => 'thread_pool default threads=2;',
                  rtmp => rtmp('dub_thread_pool default;'));
$t->run;
is(threads_of($t, 3), 3, 'dub_thread_pool default uses nginx\'s default pool');
$t->stop_ok;

# an undeclared pool by name fails nginx -t

my ($rc, $out) = $t->test_conf(main => '', rtmp => rtmp('dub_thread_pool nope;'));
isnt($rc, 0, 'an undeclared pool fails nginx -t');
like($out, qr/unknown thread pool "nope"/, 'naming it') or diag($out);

# the default pool, declared by the module in two applications, once

($rc, $out) = $t->test_conf(main => '', rtmp => rtmp() . <<'EOF');
        application live2 {
            live on;
            dub on;
            dub_output_app dubbed2;
            dub_sts_url http://127.0.0.1:9/;
        }

        application dubbed2 {
            live on;
        }
EOF
is($rc, 0, 'two dubbing applications share the module\'s pool') or diag($out);

done_testing;

#!/usr/bin/perl

# The reconnection schedule, timed from the STS side: a listener that
# accepts and drops each connection records when the module comes back.
# The waits follow "dub_sts_reconnect", then its last interval for ever.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use IO::Socket::INET;
use POSIX qw(setsid);
use Time::HiRes qw(time sleep);

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_url http://127.0.0.1:%%DROP%%/sts;
            dub_sts_reconnect 1s 2s 3s;
        }

        application dubbed {
            live on;
        }
EOF

my $port = DubTest::port();
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => $port, Listen => 16, ReuseAddr => 1) or die $!;
my $times = $t->dir . '/accepts';

my $pid = fork // die;
if ($pid == 0) {
    setsid();
    open my $fh, '>', $times or POSIX::_exit(1);
    $fh->autoflush(1);
    while (my $c = $listener->accept) {
        printf $fh "%.3f\n", time;
        close $c;
    }
    POSIX::_exit(0);
}
push @DubTest::PIDS, $pid;
close $listener;

$t->set(DROP => $port);
$t->run;

my $pub = $t->publish('short', 'live/r');
is($t->wait_exit($pub, 30), 0, 'published while the STS drops every connection');

ok($t->wait_for(sub { (() = $t->read_file($times) =~ /\n/g) >= 6 }, 20),
   'the module keeps coming back');
my @at = split /\n/, $t->read_file($times);

my @want = (1, 2, 3, 3, 3);
my @got = map { $at[$_ + 1] - $at[$_] } 0 .. ($#at > 5 ? 4 : $#at - 1);

# never early; late by what the machine takes to see the drop and run the
# timer (a few ms when idle), well under the next step of the schedule
for my $i (0 .. $#got) {
    ok($got[$i] >= $want[$i] - 0.02 && $got[$i] < $want[$i] + 0.5,
       sprintf("attempt %d after %.3f s, schedule %.1f s", $i + 2, $got[$i],
               $want[$i]));
}

ok(scalar $t->log_lines(qr/"live\/r" STS reconnect attempt 3 in 3000ms/),
   'each attempt is logged with its wait');

ok($t->wait_log(qr/"dubbed\/r" output done/, 15), 'output drained');

my @fb = $t->log_lines(qr/"live\/r" segment \d+ out with original audio/);
ok(@fb >= 5, 'every segment goes out with its original audio');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# A graceful stop (SIGQUIT) while the output drains.  With
# worker_shutdown_timeout 3s the worker ends within the timeout and a
# margin, however much of the delay is left and although the publisher is
# still connected: the output session is closed, and so is the publisher
# (nginx-rtmp would keep it, and the worker, until it leaves).  Without a
# timeout the drain finishes: the player gets the whole stream.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time);

my $rtmp = <<'EOF';
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay %%DELAY%%;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

# worker_shutdown_timeout 3s, a 60 s publisher, 10 s of delay

my $t = DubTest->new(shutdown_timeout => '3s', rtmp => $rtmp);
my $sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url, DELAY => '10s');
$t->run;

my $file = $t->dir . '/cut.flv';
my $player = $t->play('dubbed/q', $file);
ok($t->wait_player('q', 20), 'player waits');

my $pub = $t->publish('main', 'live/q');
ok($t->wait_log(qr/dub: "dubbed\/q" output started/, 30), 'output started');
ok($t->wait_log(qr/segment \d+ fragment \S+ out with dubbed audio/, 30),
   'dubbing');

my ($worker) = $t->workers;
my $t0 = time;
my @bad = $t->stop(graceful => 1, timeout => 60);
my $took = time - $t0;

# the worker ends 3 s after the signal (a few hundred ms more when
# idle; its exit, and a sanitizer build's leak check, take longer on a
# busy machine); without the timeout honoured it would drain the 60 s
# stream
ok($took >= 3 - 0.1 && $took < 3 + 15, sprintf('SIGQUIT: nginx ended in '
   . '%.1f s, worker_shutdown_timeout 3s', $took));
ok(!kill(0, $worker), 'the worker is gone');
ok(!@bad, 'no alert, crit, emerg or crash in the logs')
    or diag(join "\n", @bad);
my $cut = qr/dub: "live\/q" worker shutdown timeout: output "dubbed\/q"/;
ok($t->log_lines(qr/$cut closed with \d+ bytes not sent, publisher closed/),
   'the cut is logged');
ok(defined $t->wait_exit($pub, 10), 'the publisher was disconnected');
is($t->wait_exit($player, 10), 0, 'the player saw the end of the stream');
my $n = DubTest::stream_times($file, 'h264');
ok(@$n >= 30, 'what went out is readable (' . scalar(@$n) . ' video packets)');

# no timeout: the drain finishes

my $u = DubTest->new(shutdown_timeout => undef, rtmp => $rtmp);
$u->set(STS => $sts->url, DELAY => '6s');
$u->run;

$file = $u->dir . '/all.flv';
$player = $u->play('dubbed/q', $file);
ok($u->wait_player('q', 20), 'player waits');

$pub = $u->publish('short', 'live/q');
ok($u->wait_log(qr/dub: "dubbed\/q" output started/, 30), 'output started');

$t0 = time;
@bad = $u->stop(graceful => 1, timeout => 60);
$took = time - $t0;

ok(!@bad, 'no alert, crit, emerg or crash in the logs')
    or diag(join "\n", @bad);
is($u->wait_exit($pub, 10), 0, 'the publisher went on to its end');
is($u->wait_exit($player, 10), 0, 'the player saw the end of the stream');
ok($took > 6, sprintf('nginx ended after the drain (%.1f s)', $took));

for my $codec ('h264', 'aac') {
    my $in = DubTest::stream_times(DubTest::fixture('short'), $codec);
    my $out = DubTest::stream_times($file, $codec);
    is(scalar @$out, scalar @$in, "$codec: every packet out after SIGQUIT");
}

is(scalar $u->log_lines(qr/worker shutdown timeout/), 0, 'nothing cut');

done_testing;

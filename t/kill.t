#!/usr/bin/perl

# The publisher is SIGKILLed in the middle of a segment: the partial
# segment still goes out, the output drains and ends, nothing is left
# behind, and a new publish of the same name works.  t/sanitizer-*.t run
# this under ASAN/UBSAN with leak checking.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $out1 = $t->dir . '/out1.flv';
my $player = $t->play('dubbed/k', $out1);
ok($t->wait_player('k', 30), 'player waits');

# ffmpeg says how far it sent: killed once past 7.2 s, in segment 3
my $progress = $t->dir . '/progress';
my $pub = $t->publish('main', 'live/k', '-progress', $progress,
                      '-stats_period', '0.1');

ok($t->wait_log(qr/"live\/k" segment 2 cut/, 20), 'three segments cut');
ok($t->wait_for(sub {
    my @us = $t->read_file($progress) =~ /^out_time_us=(\d+)/mg;
    return @us && $us[-1] >= 7_200_000;
}, 30), 'the publisher sent 7.2 s');
$t->kill_proc($pub, 'KILL');
$t->wait_exit($pub, 5);

ok($t->wait_log(qr/"live\/k" publisher left/, 10), 'publisher left');

my ($last) = $t->log_lines(qr/"live\/k" segment 3 cut:/);
like($last // '', qr/cut: 1[0-9]{3}ms at 6000ms.*, last/,
     'partial segment over 1 s closed as the last');

is($t->wait_exit($player, 20), 0, 'output drained and ended');
ok($t->wait_log(qr/"dubbed\/k" output done/, 5), 'bridge done');
ok(scalar $t->log_lines(qr/"live\/k" segment 3 out with original audio: not_configured/),
   'partial segment went out');

DubTest::is_prefix_media(DubTest::fixture('main'), $out1, 'killed', 7000);

# the same name again, after the drain

my $out2 = $t->dir . '/out2.flv';
$player = $t->play('dubbed/k', $out2);
ok($t->wait_player('k', 30, 2), 'second player waits');
$pub = $t->publish('short', 'live/k');

is($t->wait_exit($pub, 30), 0, 'published again');
is($t->wait_exit($player, 20), 0, 'second output ended');
DubTest::is_same_media(DubTest::fixture('short'), $out2, 'republished');

$t->stop_ok;

done_testing;

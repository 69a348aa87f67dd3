#!/usr/bin/perl

# Echo mode, the STS answering each fragment with its own audio after 0 to
# 500 ms: the output's audio is the input's, re-encoded, in the same
# place all along (no drift), with the same sync bounds as in tone mode.

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
            dub_delay 12s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'echo', '--latency-min-ms', 0,
                  '--latency-max-ms', 500);
$t->set(STS => $sts->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/e', $out);
ok($t->wait_player('e', 30), 'player waits');

my $pub = $t->publish($looped, 'live/e');
is($t->wait_exit($pub, 60), 0, 'published 36 s');
is($t->wait_exit($player, 30), 0, 'output ended');

my @d = $t->log_lines(qr/"live\/e" segment \d+ fragment \S+ out with dubbed/);
is(scalar @d, 18, 'all 18 segments dubbed');
is(scalar $t->log_lines(qr/out with original audio/), 0, 'no fallback');

my @rtt = map { /success in (\d+)ms/ ? $1 : () }
          $t->log_lines(qr/"live\/e" fragment \S+ seq \d+ processed/);
my ($min, $max) = (sort { $a <=> $b } @rtt)[0, -1];
ok($max - $min > 200, "the STS latency varied ($min to $max ms)");

# every audio frame where it was, no gap, no overlap

my $ain = DubTest::stream_times($looped, 'aac');
my $aout = DubTest::stream_times($out, 'aac');
is(scalar @$aout, scalar @$ain, 'as many audio frames as the input');
is(scalar(grep { !$aout->[$_] || $aout->[$_][0] != $ain->[$_][0] }
          0 .. $#$ain), 0, 'every audio frame at its original timestamp');

# the sound itself: each second of the output against the input

my $a = DubTest::pcm($out, 16000);
my $b = DubTest::pcm($looped, 16000);
my $lag = DubTest::audio_probe($a, 'lag', 16000, 1000, 200, $b);
my @voiced = grep { $_->[2] > 0.6 } @$lag;
my @off = grep { abs($_->[1]) > 2 } @voiced;
ok(@voiced >= 25 && !@off, 'output audio aligned with the input in every '
   . 'voiced second (' . @voiced . '), lags: '
   . join(' ', map { $_->[1] } @off));

my ($first, $last) = ($voiced[0][1], $voiced[-1][1]);
ok(abs($last - $first) <= 1, "no drift from start to end ($first, $last ms)");

$t->stop_ok;

done_testing;

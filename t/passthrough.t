#!/usr/bin/perl

# The 60 s fixture through a "dub on" application without an STS: every
# segment falls back to its original audio, so the output is the input,
# packet for packet, "dub_delay" later.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time);

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/main', $out);
my ($watch, $first) = $t->watch_first_packet('dubbed/main');

ok($t->wait_player('main', 30, 2), 'players wait for output');

my $t0 = time;
my $pub = $t->publish('main', 'live/main');

is($t->wait_exit($pub, 90), 0, 'publisher pushed 60 s');
is($t->wait_exit($player, 40), 0, 'player ended with the output');
$t->wait_exit($watch, 10);

my ($first_at, $nprobe) = split /\n/, $t->read_file($first);
my $delay = $first_at - $t0;
# not before the delay, however fast; after it by what the machine takes
# to start ffmpeg and to schedule the players (under a second when idle)
ok($delay >= 14 - 0.05 && $delay < 14 + 5, sprintf("first output tag 14 s after "
   . "the publisher started (%.3f s)", $delay));

my $in = DubTest::packets(DubTest::fixture('main'));
my $got = DubTest::packets($out);

my $sin = DubTest::streams(DubTest::fixture('main'));
my $sout = DubTest::streams($out);

for my $codec ('h264', 'aac') {
    my $a = DubTest::stream_packets($in, $sin->{$codec});
    my $b = DubTest::stream_packets($got, $sout->{$codec});

    is(scalar @$b, scalar @$a, "$codec: same packet count");

    my $same = 0;
    for my $i (0 .. $#$a) {
        last unless $b->[$i] && $a->[$i][3] eq $b->[$i][3]
                    && $a->[$i][2] == $b->[$i][2];
        $same++;
    }
    is($same, scalar @$a, "$codec: packets byte-identical, in order");

    my $pts_same = grep { $b->[$_] && $a->[$_][1] == $b->[$_][1] } 0 .. $#$a;
    is($pts_same, scalar @$a, "$codec: same timestamps");
}

my $din = DubTest::probe(DubTest::fixture('main'), 'format=duration')
    ->{duration};
my $dout = DubTest::probe($out, 'format=duration')->{duration};
ok(abs($din - $dout) <= 0.1, "output lasts as long as the input")
    or diag("in $din s, out $dout s");

my @cuts = $t->log_lines(qr/"live\/main" segment \d+ (?:fragment \S+ )?cut/);
is(scalar @cuts, 10, '10 segments cut');
is(scalar $t->log_lines(qr/"live\/main" segment \d+ out with original/),
   10, 'each segment went out with its original audio');
ok($t->wait_log(qr/"dubbed\/main" output done/, 5), 'output ended cleanly');

$t->stop_ok;

done_testing;

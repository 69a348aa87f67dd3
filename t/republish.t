#!/usr/bin/perl

# A stream that republishes under the same name while its output is still
# draining: the same output session goes on, the second publisher's media
# follows the first's with continuous, increasing timestamps.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/r', $out);
ok($t->wait_player('r', 30), 'player waits');

my $pub = $t->publish('short', 'live/r');
is($t->wait_exit($pub, 30), 0, 'first publish');

my $gap0 = time;
$pub = $t->publish('short', 'live/r');
is($t->wait_exit($pub, 30), 0, 'second publish');

ok(scalar $t->log_lines(qr/"live\/r" publishing, .* \(continued\)/),
   'second publisher continues the output');
is($t->wait_exit($player, 20), 0, 'one output, ended after both');

is(scalar $t->log_lines(qr/"dubbed\/r" output started/), 1,
   'output session started once');

my $in = DubTest::packets(DubTest::fixture('short'));
my $got = DubTest::packets($out);
my $sin = DubTest::streams(DubTest::fixture('short'));
my $sout = DubTest::streams($out);

for my $codec ('h264', 'aac') {
    my $a = DubTest::stream_packets($in, $sin->{$codec});
    my $b = DubTest::stream_packets($got, $sout->{$codec});

    is(scalar @$b, 2 * @$a, "$codec: both publishes in the output");

    my $same = grep { $b->[$_] && $b->[$_ + @$a]
                      && $a->[$_][3] eq $b->[$_][3]
                      && $a->[$_][3] eq $b->[$_ + @$a][3] } 0 .. $#$a;
    is($same, scalar @$a, "$codec: each copy identical to the input");

    my $mono = grep { $b->[$_][4] > $b->[$_ - 1][4] } 1 .. $#$b;
    is($mono, $#$b, "$codec: decode timestamps increase throughout");

    my $jump = $b->[scalar @$a][1] - $b->[$#$a][1];
    ok($jump > 0 && $jump < 2000,
       "$codec: second publish follows by the wall-clock gap")
        or diag("jump $jump ms");
}

$t->stop_ok;

done_testing;

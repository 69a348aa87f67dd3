#!/usr/bin/perl

# What an encoder may do mid-stream: new sequence headers (another
# resolution and audio format without reconnecting), and timestamps that
# wrap (FLV writers wrap at 2^31 ms).  The output stays intact and
# decodable.

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
            dub_segment 6s;
            dub_segment_stagger off;
            dub_delay 8s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $sw = $t->dir . '/switch.flv';
my $wr = $t->dir . '/wrap.flv';
my $p1 = $t->play('dubbed/switch', $sw);
my $p2 = $t->play('dubbed/wrap', $wr);
ok($t->wait_player('switch', 30) && $t->wait_player('wrap', 30),
   'players wait');

my $pub1 = $t->publish('switch', 'live/switch');

# 31-bit wrap 3.6 s into the stream
my $pub2 = $t->publish('short', 'live/wrap', ['-output_ts_offset', '2147480']);

# a player joining after the switch gets the new headers: once the
# output reached the segment that starts with them
ok($t->wait_log(qr/"live\/switch" segment 2 .*out with/, 40),
   'the output reached the switch');
my $late = $t->dir . '/late.flv';
my $p3 = $t->play('dubbed/switch', $late, '-t', '2');

is($t->wait_exit($pub1, 30), 0, 'switch published');
is($t->wait_exit($pub2, 30), 0, 'wrap published');
is($t->wait_exit($p1, 20), 0, 'switch output ended');
is($t->wait_exit($p2, 20), 0, 'wrap output ended');
is($t->wait_exit($p3, 20), 0, 'late player ended');

DubTest::is_same_media(DubTest::fixture('switch'), $sw, 'switch');

my $errors = `ffmpeg -nostdin -v error -i $sw -f null - 2>&1`;
is($errors, '', 'switch: whole output decodes');

my $late_v = DubTest::probe($late, 'stream=width,height');
is($late_v->{width}, 320, 'late player gets the new video headers');

ok(scalar $t->log_lines(qr/"live\/switch" segment 2 cut: .*new headers/),
   'segment with the new headers noted');

DubTest::is_same_media(DubTest::fixture('short'), $wr, 'wrap');

my @cuts = $t->log_lines(qr/"live\/wrap" segment \d+ (?:fragment \S+ )?cut/);
is(scalar @cuts, 2, 'wrap: two segments, as without the wrap');
like($cuts[0] // "", qr/cut: 6000ms at 21474799\d\dms/,
     'wrap: first cut 6 s in, across the wrap');

$t->stop_ok;

done_testing;

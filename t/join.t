#!/usr/bin/perl

# The output is a normal live stream: a player that joins 20 s in decodes
# it (sequence headers, then a keyframe), and HLS and record on the
# output application work as for any other stream.

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
            dub_delay 4s;
        }

        application dubbed {
            live on;
            play_restart on;

            hls on;
            hls_path %%TESTDIR%%/hls;
            hls_fragment 2s;
            hls_playlist_length 60s;
            hls_cleanup off;

            record all;
            record_path %%TESTDIR%%/rec;
        }
EOF

$t->run;

my $t0 = time;
my $pub = $t->publish('short', 'live/j', '-stream_loop', '2');

# 20 s into the output
sleep 0.1 while time < $t0 + 4 + 20;

my $late = $t->dir . '/late.txt';
my $player = $t->spawn('late.log', 'ffmpeg', '-nostdin', '-hide_banner',
    '-loglevel', 'error', '-i', $t->url('dubbed/j'), '-t', '4', '-map', '0',
    '-f', 'framemd5', $late);

is($t->wait_exit($player, 30), 0, 'late player decoded 4 s');

my (%type, %frames);
for (split /\n/, $t->read_file($late)) {
    $type{$1} = $2 if /^#media_type (\d+): (\w+)/;
    next if /^#/;
    $frames{$type{(split /,/)[0]} // 'unknown'}++;
}

ok(($frames{video} // 0) >= 100, 'late player decoded video frames')
    or diag("frames: " . join ' ', %frames);
ok(($frames{audio} // 0) >= 150, 'late player decoded audio frames')
    or diag("frames: " . join ' ', %frames);
is($t->read_file('logs/late.log'), '', 'late player saw no decoding error');

is($t->wait_exit($pub, 60), 0, 'publisher done');
ok($t->wait_log(qr/"dubbed\/j" output done/, 20), 'output drained');

my $m3u8 = $t->dir . '/hls/j.m3u8';
ok(-s $m3u8, 'HLS playlist written');
my $s = DubTest::streams($m3u8);
ok(defined $s->{h264} && defined $s->{aac}, 'ffprobe reads the playlist')
    or diag(`ffprobe -v error -show_streams $m3u8 2>&1`);
my @ts = grep { /\.ts$/ } split /\n/, $t->read_file($m3u8);
ok(@ts >= 10, 'HLS fragments for the whole stream (' . @ts . ')');

my $rec = $t->dir . '/rec/j.flv';
my $d = DubTest::probe($rec, 'format=duration')->{duration} // 0;
ok(abs($d - 36) < 0.5, "record of the output lasts 36 s ($d)");
$s = DubTest::streams($rec);
ok(defined $s->{h264} && defined $s->{aac}, 'record has video and audio');

$t->stop_ok;

done_testing;

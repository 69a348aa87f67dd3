#!/usr/bin/perl

# The output is a normal live stream: a player that joins 20 s in decodes
# it (sequence headers, then a keyframe), and HLS, record and push on the
# output application work as for any other stream.

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

            hls on;
            hls_path %%TESTDIR%%/hls;
            hls_fragment 2s;
            hls_playlist_length 60s;
            hls_cleanup off;

            record all;
            record_path %%TESTDIR%%/rec;

            push rtmp://127.0.0.1:%%RTMP_PORT%%/remote;
        }

        application remote {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $remote = $t->dir . '/remote.flv';
my $rplayer = $t->play('remote/j', $remote);
ok($t->wait_player('j', 30), 'player waits');

my $pub = $t->publish('short', 'live/j', '-stream_loop', '2');

# 20 s into the output
ok($t->wait_log(qr/"live\/j" segment 10 .*out with/, 60),
   'the output is 20 s in');

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

# the video starts at the next keyframe (a 2 s GOP): at least 2 of the 4 s
ok(($frames{video} // 0) >= 50, 'late player decoded video frames ('
   . ($frames{video} // 0) . ')')
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

# pushed by nginx-rtmp to another application, as to a remote server:
# the packets of the record of the output, from the first keyframe after
# the push connected (as for any live stream) to the end

is($t->wait_exit($rplayer, 20), 0, 'player of the pushed copy done');
my %hashes;
for my $f ($rec, $remote) {
    my $v = DubTest::streams($f)->{h264};
    $hashes{$f} = join ' ', map { $_->[3] }
                  @{ DubTest::stream_packets(DubTest::packets($f), $v) };
}
my $n = () = $hashes{$rec} =~ / /g;
my $m = () = $hashes{$remote} =~ / /g;
ok($n > 1000 && $m > 0.9 * $n
   && substr($hashes{$rec}, -length $hashes{$remote}) eq $hashes{$remote},
   "push: the pushed copy has the output's last $m of $n video packets");

$t->stop_ok;

done_testing;

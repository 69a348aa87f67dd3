#!/usr/bin/perl

# An encoder that sends faster than real time: up to a few seconds ahead
# of the wall clock (1.5 times real time, here 4 s ahead at the end) the
# output is still paced on the media clock; all at once, what runs more
# than 6 s ahead is re-based to the wall clock (its timestamps cannot hold
# the output back); past "dub_max_buffer" the publisher is dropped with a
# clear error while what was buffered still goes out.

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
            dub_delay 3s;
        }

        application small {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 5s;
            dub_max_buffer 1m;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

sub blast {
    my ($fixture, $path, @rate) = @_;
    return $t->spawn('publish.log', 'ffmpeg', '-nostdin', '-loglevel',
        'error', @rate, '-i', DubTest::fixture($fixture), '-c', 'copy', '-f',
        'flv', $t->url($path));
}

my $out = $t->dir . '/burst.flv';
my $player = $t->play('dubbed/b', $out);
ok($t->wait_player('b', 30), 'player waits');

my $t0 = time;
my $pub = blast('short', 'live/b', '-readrate', 1.5);
is($t->wait_exit($pub, 30), 0, 'burst published');
# 12 s at 1.5 times real time (in 8 s)
ok(time - $t0 < 10, 'the encoder sent 12 s faster than real time');
is($t->wait_exit($player, 30), 0, 'output ended');
my $took = time - $t0;
ok($took > 3 + 11.5, "output paced in real time (ended after $took s)");
DubTest::is_same_media(DubTest::fixture('short'), $out, 'burst');

# all at once: every packet still goes out, in order, but the stream ends
# at most 6 s later than one sent in real time would

$out = $t->dir . '/blast.flv';
$player = $t->play('dubbed/a', $out);
ok($t->wait_player('a', 30), 'player waits');

$pub = blast('short', 'live/a');
is($t->wait_exit($pub, 30), 0, 'blast published');
my $sent = time;
is($t->wait_exit($player, 30), 0, 'output ended');
$took = time - $sent;
ok($took < 3 + 6 + 3, "not held back by the timestamps (ended $took s "
   . 'after the publisher)');

my $short = DubTest::fixture('short');

for my $codec ('h264', 'aac') {
    my $in = DubTest::stream_packets(DubTest::packets($short),
        DubTest::streams($short)->{$codec});
    my $o = DubTest::stream_packets(DubTest::packets($out),
        DubTest::streams($out)->{$codec});
    my $same = grep { $o->[$_] && $o->[$_][3] eq $in->[$_][3] } 0 .. $#$in;
    my $back = grep { $o->[$_][4] < $o->[$_ - 1][4] } 1 .. $#$o;
    ok($same == @$in && @$o == @$in && !$back, "$codec: every packet, in "
       . "order, timestamps monotonic ($same of " . scalar(@$in) . ')');
}

$out = $t->dir . '/over.flv';
$player = $t->play('dubbed/o', $out);
ok($t->wait_player('o', 30), 'player waits');

$pub = blast('main', 'small/o');
$t->wait_exit($pub, 30);
ok($t->wait_log(qr/\[error\].*dub: "small\/o" over "dub_max_buffer"/, 5),
   'over the buffer: error logged');
ok($t->wait_log(qr/dub: "small\/o" publisher left/, 5), 'publisher dropped');
is($t->wait_exit($player, 60), 0, 'buffered part still went out');
DubTest::is_prefix_media(DubTest::fixture('main'), $out, 'over', 2000);

$t->stop_ok;

done_testing;

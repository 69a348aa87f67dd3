#!/usr/bin/perl

# An encoder that sends faster than real time: the output is still paced
# on the media clock, and past "dub_max_buffer" the publisher is dropped
# with a clear error while what was buffered still goes out.

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
            dub_max_buffer 4m;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

sub blast {
    my ($fixture, $path) = @_;
    return $t->spawn('publish.log', 'ffmpeg', '-nostdin', '-loglevel',
        'error', '-i', DubTest::fixture($fixture), '-c', 'copy', '-f', 'flv',
        $t->url($path));
}

my $out = $t->dir . '/burst.flv';
my $player = $t->play('dubbed/b', $out);
ok($t->wait_player('b', 30), 'player waits');

my $t0 = time;
my $pub = blast('short', 'live/b');
is($t->wait_exit($pub, 30), 0, 'burst published');
# the encoder sends 12 s as fast as it can (in about a second when idle)
ok(time - $t0 < 10, 'the encoder sent 12 s faster than real time');
is($t->wait_exit($player, 30), 0, 'output ended');
my $took = time - $t0;
ok($took > 3 + 11.5, "output paced in real time (ended after $took s)");
DubTest::is_same_media(DubTest::fixture('short'), $out, 'burst');

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

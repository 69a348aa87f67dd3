#!/usr/bin/perl

# Which sessions are dubbed: a stream that nginx-rtmp itself pulls into a
# "dub on" application is a relay copy and is left alone; a stream pushed
# into it from another application arrives as an ordinary publisher and
# is dubbed.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        application src {
            live on;
        }

        application ingest {
            live on;
            push rtmp://127.0.0.1:%%RTMP_PORT%%/live;
        }

        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 3s;
        }

        application pulled {
            live on;
            dub on;
            dub_output_app dubbed;
            pull rtmp://127.0.0.1:%%RTMP_PORT%%/src;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

# pushed from "ingest" into "live": dubbed

my $out = $t->dir . '/pushed.flv';
my $player = $t->play('dubbed/p', $out);
ok($t->wait_player('p', 30), 'player waits');

my $pub = $t->publish('short', 'ingest/p');
is($t->wait_exit($pub, 30), 0, 'published to ingest');
is($t->wait_exit($player, 20), 0, 'dubbed output of the pushed copy');
ok(scalar $t->log_lines(qr/dub: "live\/p" publishing/), 'push is dubbed');

# the relay joins "ingest" as a player, from a keyframe: not every packet
my $s = DubTest::streams($out);
my $d = DubTest::probe($out, 'format=duration')->{duration} // 0;
ok(defined $s->{h264} && defined $s->{aac} && $d > 10,
   "dubbed push has video and audio, $d s");

# pulled into "pulled" by a player: not dubbed

$pub = $t->publish('short', 'src/q');
my $viewer = $t->play('pulled/q', $t->dir . '/pulled.flv', '-t', '4');
is($t->wait_exit($viewer, 30), 0, 'pulled stream plays');
ok(scalar $t->log_lines(qr/relay: create pull name='q'/), 'pull relay ran');
ok(!$t->log_lines(qr/dub: "pulled\/q"/), 'pulled relay copy is not dubbed');
$t->wait_exit($pub, 30);

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# Origin and edges with nginx-rtmp's own relay: an origin nginx dubs, one
# edge nginx pulls the dubbed application ("pull"), another is pushed it
# by the origin ("push" in the output application).  A player of each
# edge gets the dubbed audio (the echo STS's tone), continuous, and the
# picture of the input.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $origin = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
            push rtmp://127.0.0.1:%%PUSHED%%/dubbed;
        }
EOF

my $pulling = DubTest->new(rtmp => <<'EOF');
        application dubbed {
            live on;
            play_restart on;
            pull rtmp://127.0.0.1:%%ORIGIN%%/dubbed;
        }
EOF

my $pushed = DubTest->new(rtmp => <<'EOF');
        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $origin->sts('--mode', 'tone', '--tone-hz', 1000,
                       '--latency-ms', 200);
$origin->set(STS => $sts->url('/sts'), PUSHED => $pushed->rtmp_port);
$pulling->set(ORIGIN => $origin->rtmp_port);

$_->run for $pushed, $pulling, $origin;

my %edge = (pull => $pulling, push => $pushed);
my (%player, %file);
for my $e (sort keys %edge) {
    $file{$e} = $edge{$e}->dir . "/$e.flv";
    $player{$e} = $edge{$e}->play('dubbed/e', $file{$e});
    ok($edge{$e}->wait_player('e', 30), "$e edge: player waits");
}

# the pulling edge asked the origin before there is anything to play
ok($origin->wait_player('e', 30), 'the pull waits at the origin');

my $pub = $origin->publish('short', 'live/e');
is($origin->wait_exit($pub, 60), 0, 'origin: published');
ok($origin->wait_log(qr/"dubbed\/e" output done/, 40), 'origin: output done');

for my $e (sort keys %edge) {
    is($edge{$e}->wait_exit($player{$e}, 20), 0, "$e edge: player ended");
}

is(scalar $origin->log_lines(qr/"live\/e" segment \d+ fragment \S+ out with dubbed/),
   6, 'origin: every segment dubbed');

my $in = DubTest::fixture('short');
my $ain = DubTest::stream_times($in, 'aac');
my $vin = DubTest::stream_packets(DubTest::packets($in),
                                  DubTest::streams($in)->{h264});
my %vmd5 = map { $_->[3] => 1 } @$vin;

for my $e (sort keys %edge) {
    my $f = $file{$e};
    my $aout = DubTest::stream_times($f, 'aac');

    # the relay starts the stream at a keyframe (2 s GOP): all of it but
    # at most the first 2 s, then every frame
    my $dur = @$aout ? $aout->[-1][0] - $aout->[0][0] + 23 : 0;
    my $span = $ain->[-1][0] - $ain->[0][0] + 23;
    ok($dur >= $span - 2100, "$e edge: $dur ms of audio (input $span)");
    my @gaps = grep { $aout->[$_][0] - $aout->[$_ - 1][0] > 24 } 1 .. $#$aout;
    is(scalar @gaps, 0, "$e edge: no gap between audio frames ("
       . @$aout . ' frames, input ' . @$ain . ')')
        or diag(join ' ', map { "$aout->[$_ - 1][0]->$aout->[$_][0]" } @gaps);

    # the dubbed audio: the tone, every second (the input has none; a
    # window across a segment boundary has less of it)
    my $w = DubTest::audio_probe(DubTest::pcm($f, 16000), 'tone', 16000,
                                 1000, 1000);
    my @weak = grep { $_->[1] < 0.5 } @$w;
    ok(@$w >= int(($dur - 1000) / 1000) && @$w >= 9 && !@weak,
       "$e edge: the tone in each of " . @$w . ' seconds')
        or diag(join ' ', map { "$_->[0]:$_->[1]" } @weak);

    # the input's picture, packet for packet, from where it starts
    my $vout = DubTest::stream_packets(DubTest::packets($f),
                                       DubTest::streams($f)->{h264});
    my $same = grep { $vmd5{ $_->[3] } } @$vout;
    ok(@$vout >= @$vin - 61 && $same == @$vout,
       "$e edge: the input's video (" . @$vout . ' of ' . @$vin . ')');
}

done_testing;

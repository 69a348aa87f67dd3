#!/usr/bin/perl

# Every dubbed audio format of the contract (m4a, pcm_s16le, pcm_f32le,
# wav, aac, mp3) comes out as the stream's AAC, in place, with the tone the
# STS sent; audio longer or shorter than the segment is fitted (tempo
# without pitch change, then silence), and a "partial" answer is padded.
# Eight streams and eight echo STS at once, the compressed formats cut by
# an ffmpeg per fragment: a timeout (16 s) a busy machine does not reach,
# inside the delay (20 s).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my %case = (
    m4a     => [ '--tone-format', 'm4a' ],
    s16     => [ '--tone-format', 'pcm_s16le' ],
    f32     => [ '--tone-format', 'pcm_f32le' ],
    wav     => [ '--tone-format', 'wav' ],
    aac     => [ '--tone-format', 'aac' ],
    mp3     => [ '--tone-format', 'mp3' ],
    longer  => [ '--tone-format', 'pcm_s16le', '--tone-scale', 1.15 ],
    shorter => [ '--tone-format', 'wav', '--tone-scale', 0.5 ],
);

my $t = DubTest->new();
my (%sts, $rtmp);

for my $c (sort keys %case) {
    $sts{$c} = $t->sts('--port', 0, '--mode', 'tone', '--tone-hz', 1000,
                       @{ $case{$c} });
    my $url = $sts{$c}->url;
    $rtmp .= <<"EOF";
        application $c {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 20s;
            dub_sts_timeout 16s;
            dub_sts_url $url;
        }

EOF
}

$sts{s16}->control(rules => [ { trigger => 'sequence_number', value => 2,
                                action => 'partial' } ]);

$t->set_conf(rtmp => $rtmp . "        application dubbed { live on; play_restart on; }\n");
$t->run;

my (%player, @pub);

for my $c (sort keys %case) {
    $player{$c} = $t->play("dubbed/$c", $t->dir . "/$c.flv");
}

ok(!grep({ !$t->wait_player($_, 30) } sort keys %case), 'players wait');

for my $c (sort keys %case) {
    push @pub, $t->publish('short', "$c/$c");
}

is($t->wait_exit($_, 40), 0, 'published') for @pub;

for my $c (sort keys %case) {
    is($t->wait_exit($player{$c}, 30), 0, "$c: output ended");

    my $out = $t->dir . "/$c.flv";
    my @d = $t->log_lines(qr/"$c\/$c" segment \d+ fragment \S+ out with dubbed/);
    is(scalar @d, 6, "$c: every segment dubbed");

    # the dominant frequency of each second: a tempo change keeps the
    # pitch, but spreads some energy around it
    my $w = DubTest::audio_probe(DubTest::pcm($out, 16000), 'dominant',
                                 16000, 1000);
    my @tone = grep { abs($_->[1] - 1000) < 20 && $_->[2] > -30 } @$w;

    # "shorter" is half tone, half silence: its seconds alternate
    my $want = $c eq 'shorter' ? 5 : 11;
    ok(@tone >= $want, "$c: the 1 kHz tone (" . @tone . " of " . @$w
       . " seconds)");

    is(scalar @{ DubTest::stream_times($out, 'aac') },
       scalar @{ DubTest::stream_times(DubTest::fixture('short'), 'aac') },
       "$c: every audio frame in place");
}

ok(scalar $t->log_lines(qr/"longer\/longer" fragment \S+ seq \d+ decoded: .* tempo 1\.1[45]\d/),
   'longer audio: tempo 1.15, pitch kept (the tone is still at 1 kHz)');
ok(scalar $t->log_lines(qr/"shorter\/shorter" fragment \S+ seq \d+ decoded: .* tempo 0\.800, [1-9]\d* padded/),
   'shorter audio: bounded tempo 0.8, then silence');
ok(scalar $t->log_lines(qr/"s16\/s16" fragment \S+ seq 2 processed by session \S+: partial/),
   'a partial answer');
ok(scalar $t->log_lines(qr/"s16\/s16" fragment \S+ seq 2 decoded: .* tempo 1\.000, [1-9]\d* padded/),
   'partial: padded, not stretched');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# The full pipeline with the echo STS answering a 1 kHz tone: the 60 s
# fixture comes out with the tone in every segment, its picture
# untouched, no audio gap or overlap at any segment boundary, audio and
# video in sync, and no fallback.  /metrics says so too, in a format
# promtool accepts, during the stream and after it.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tone-hz', 1000,
                  '--latency-ms', 300);
$t->set(STS => $sts->url('/sts'));

$t->run;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/t', $out);
ok($t->wait_player('t', 30), 'player waits');

my $pub = $t->publish('main', 'live/t');

# in the middle of the stream: its third segment went out
ok($t->wait_log(qr/"live\/t" segment 2 .*out with/, 60), 'mid-stream');
my ($m, $text) = $t->metrics;
my ($ok, $why) = $t->promtool_check($text);
ok($ok, 'promtool accepts /metrics during the stream') or diag($why);
is($m->{'nginx_dub_streams_active'}, 1, 'one stream active');

# every family docs/metrics.md lists is there, with HELP and TYPE once

my $doc = do { local (@ARGV, $/) = "$DubTest::TOP/docs/metrics.md"; <> };
my @doc = $doc =~ /^\| `(nginx_dub_\w+)`/mg;
my @missing = grep { my $f = $_;
                     (() = $text =~ /^# TYPE \Q$f\E /mg) != 1
                     || (() = $text =~ /^# HELP \Q$f\E /mg) != 1 } @doc;
ok(@doc > 20 && !@missing, 'every documented family, HELP and TYPE once ('
   . @doc . ')') or diag("missing: @missing");

my $ml = '{stream="live/t",lang="es"}';
is($m->{"nginx_dub_sts_connected$ml"}, 1, 'STS connected');
ok(abs($m->{"nginx_dub_output_delay_seconds$ml"} - 14) < 1,
   'output delay 14 s (' . $m->{"nginx_dub_output_delay_seconds$ml"} . ')');
my ($build) = grep { /^nginx_dub_build_info\{/ } keys %$m;
ok($build && $build =~ /version="[^"]+"/ && $build =~ /ffmpeg="[^"]+"/
   && $m->{$build} == 1, "build info ($build)");
my ($used) = grep { /^nginx_dub_metrics_zone_used_bytes\{zone="dub"\}/ } keys %$m;
my $size = $m->{'nginx_dub_metrics_zone_size_bytes{zone="dub"}'};
ok($used && $m->{$used} > 0 && $m->{$used} <= $size,
   'zone usage within its size (' . ($used ? $m->{$used} : '?') . " of $size)");

is($t->wait_exit($pub, 90), 0, 'publisher pushed 60 s');
is($t->wait_exit($player, 40), 0, 'player ended with the output');

my $in = DubTest::fixture('main');

# the picture: every H.264 packet, byte for byte

my $vin = DubTest::stream_packets(DubTest::packets($in),
                                  DubTest::streams($in)->{h264});
my $vout = DubTest::stream_packets(DubTest::packets($out),
                                   DubTest::streams($out)->{h264});
my $same = grep { $vout->[$_] && $vin->[$_][3] eq $vout->[$_][3] }
           0 .. $#$vin;
ok($same == @$vin && @$vout == @$vin, 'video packets byte-identical')
    or diag("in " . @$vin . ", out " . @$vout . ", identical $same");

my $din = DubTest::probe($in, 'format=duration')->{duration};
my $dout = DubTest::probe($out, 'format=duration')->{duration};
ok(abs($din - $dout) <= 0.1, "output lasts as long as the input")
    or diag("in $din s, out $dout s");

# the audio: every frame in place, continuous

my $ain = DubTest::stream_times($in, 'aac');
my $aout = DubTest::stream_times($out, 'aac');
is(scalar @$aout, scalar @$ain, 'as many audio frames as the input');

my $moved = grep { !$aout->[$_] || $aout->[$_][0] != $ain->[$_][0] }
            0 .. $#$ain;
is($moved, 0, 'every audio frame at its original timestamp');

my ($gaps, $overlaps) = (0, 0);
for my $i (1 .. $#$aout) {
    my $d = $aout->[$i][0] - $aout->[$i - 1][0];
    $gaps++ if $d > 24;
    $overlaps++ if $d < 23;
}
is($gaps, 0, 'no gap between audio frames');
is($overlaps, 0, 'no overlap between audio frames');

# each segment carries the tone: 1 s windows, 10 segments of 6 s

my $pcm = DubTest::pcm($out, 16000);
my $w = DubTest::audio_probe($pcm, 'tone', 16000, 1000, 1000);
my @weak = grep { $_->[1] < 0.9 } @$w;
ok(@$w >= 58 && !@weak, 'the 1 kHz tone in every second of the output')
    or diag("windows " . @$w . ", without the tone: "
            . join ' ', map { "$_->[0]:$_->[1]" } @weak);

my $orig = DubTest::audio_probe(DubTest::pcm($in, 16000), 'tone', 16000,
                                1000, 1000);
ok(!grep({ $_->[1] > 0.5 } @$orig), 'the input has no such tone');

my $stats = DubTest::audio_probe($pcm, 'stats', 16000);
my %st = map { $_->[0] => $_->[1] } @$stats;
ok($st{max_silence_ms} < 20, "no silent gap ($st{max_silence_ms} ms)");

# A/V at every segment boundary: the keyframe that starts it and the
# audio frame nearest to it

my @cuts = map { /cut: \d+ms at (\d+)ms/ ? $1 : () }
           $t->log_lines(qr/"live\/t" segment \d+ (?:fragment \S+ )?cut/);
is(scalar @cuts, 10, '10 segments');

my $worst = 0;
for my $c (@cuts) {
    my ($near) = sort { abs($a - $c) <=> abs($b - $c) } map { $_->[0] } @$aout;
    $worst = abs($near - $c) if abs($near - $c) > $worst;
}
ok($worst < 120, "A/V delta at the boundaries under 120 ms ($worst ms)");

is(scalar $t->log_lines(qr/"live\/t" segment \d+ fragment \S+ out with dubbed/),
   10, 'every segment dubbed');
is(scalar $t->log_lines(qr/out with original audio/), 0, 'no fallback');

# /metrics after the stream

($m, $text) = $t->metrics;
($ok, $why) = $t->promtool_check($text);
ok($ok, 'promtool accepts /metrics after the stream') or diag($why);

my $l = '{stream="live/t",lang="es"';
is($m->{"nginx_dub_fragments_sent_total$l}"}, 10, 'metrics: 10 sent');
is($m->{"nginx_dub_fragments_processed_total$l,status=\"success\"}"}, 10,
   'metrics: 10 processed with success');
is($m->{"nginx_dub_sts_rtt_seconds_count$l}"}, 10, 'metrics: RTT count 10');
my $fb = 0;
$fb += $m->{$_} for grep { /^nginx_dub_fallbacks_total\Q$l\E/ } keys %$m;
is($fb, 0, 'metrics: 0 fallbacks');
ok($m->{"nginx_dub_av_sync_delta_seconds$l}"} < 0.12,
   'metrics: A/V delta under 0.12 s ('
   . $m->{"nginx_dub_av_sync_delta_seconds$l}"} . ')');
is($m->{"nginx_dub_segments_total$l,track=\"video\"}"}, 10,
   'metrics: 10 segments with video');
is($m->{'nginx_dub_streams_active'}, 0, 'no stream active any more');

my $st = $sts->stats;
is(scalar @{ $st->{fragments} }, 10, 'the STS got 10 fragments');
my @seq = map { $_->{sequence_number} } @{ $st->{fragments} };
is("@seq", "0 1 2 3 4 5 6 7 8 9", 'numbered from 0');
is(scalar(grep { $_->{status} eq 'applied' } @{ $st->{client_acks} }), 10,
   'each answer acknowledged as applied');

my @ends = grep { $_->{name} eq 'stream:end' } @{ $st->{events} };
is(scalar @ends, 1, 'stream:end once, at the end');
ok(scalar $t->log_lines(qr/"live\/t" stream:complete from session \S+: 10 fragments, 10 success/),
   'stream:complete received and logged');
ok(grep({ $_->{disconnect_reason} } @{ $st->{connections} }),
   'then the connection closed');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# The original under the dub (dub_original_volume, dub_duck), with
# tones: an input made here with a 440 Hz sine at -12 dBFS, the echo STS
# answering a 1 kHz tone.  Three streams at once: mixed at -18 dB, mixed
# and ducked, and the directive off.  In each dubbed segment the 440 Hz
# is at the input's level plus the gain, the 1 kHz at its own level; in
# the segment the STS fails, the original at full level; peaks at or
# below 0 dBFS, every audio frame at its input timestamp.  And nginx -t
# refuses bad values.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

# the echo STS's tone: sts/echo/server.js, sineSamples(), amplitude 0.5
my $TONE_DB = 20 * log(0.5) / log(10);

my %GAIN = (mix => -18, duck => -30, off => undef);

sub app {
    my ($name, $extra) = @_;
    return <<"EOF";
        application live_$name {
            live on;
            dub on;
            dub_output_app out_$name;
            dub_sts_url %%STS%%;
            dub_segment 2s;
            dub_delay 10s;
            $extra
        }

        application out_$name {
            live on;
            play_restart on;
        }
EOF
}

my $t = DubTest->new(rtmp => app('mix', 'dub_original_volume -18dB;')
            . app('duck', 'dub_original_volume -18; dub_duck on;')
            . app('off', ''));

my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tone-hz', 1000,
                  '--latency-ms', 200);
$t->set(STS => $sts->url('/sts'));

# nginx -t, by an nginx of its own that never runs (whose messages may go
# to its log): the values it takes and those it refuses

my $c = DubTest->new->set(STS => $sts->url('/sts'));

for my $v ('-18dB', '-18', '0dB', '-60dB', '-6.5db', 'off') {
    my ($rc, $out) = $c->test_conf(rtmp => app('x',
                                   "dub_original_volume $v;"));
    is($rc, 0, "nginx -t takes dub_original_volume $v") or diag($out);
}

for my $v ('3dB', '+1dB', '-61dB', 'loud', 'nan', '-18dBFS', '-1e1dB') {
    my ($rc, $out) = $c->test_conf(rtmp => app('x',
                                   "dub_original_volume $v;"));
    ok($rc != 0 && $out =~ /\[emerg\] .*"dub_original_volume" must be "off" or a gain from -60dB to 0dB such as "-18dB", not "\Q$v\E"/,
       "nginx -t refuses dub_original_volume $v") or diag($out);
}

my ($rc, $out) = $c->test_conf(rtmp => app('x',
    'dub_original_volume -18dB; dub_original_volume -12dB;'));
ok($rc != 0 && $out =~ /"dub_original_volume" directive is duplicate/,
   'nginx -t refuses dub_original_volume twice') or diag($out);

($rc, $out) = $c->test_conf(rtmp => app('x', 'dub_duck maybe;'));
ok($rc != 0 && $out =~ /"dub_duck" directive, it must be "on" or "off"/,
   'nginx -t refuses dub_duck maybe') or diag($out);

($rc, $out) = $c->test_conf(rtmp => app('x', 'dub_duck on;'));
ok($rc == 0 && $out =~ /\[warn\] .*"dub_duck" does nothing while "dub_original_volume" is off/,
   'nginx -t warns of dub_duck without dub_original_volume') or diag($out);

# the input: 14 s, a keyframe a second, 440 Hz at -12 dBFS in stereo AAC

my $in = $t->dir . '/in.flv';
system('ffmpeg', '-nostdin', '-v', 'error', '-y',
       '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
       '-f', 'lavfi', '-i',
       'aevalsrc=0.251189*sin(2*PI*440*t):s=44100:c=stereo',
       '-t', 14, '-map', '0:v', '-map', '1:a',
       '-c:v', 'libx264', '-preset', 'ultrafast', '-threads', 1,
       '-pix_fmt', 'yuv420p', '-g', 25, '-keyint_min', 25,
       '-sc_threshold', 0, '-c:a', 'aac', '-b:a', '128k', '-f', 'flv', $in)
    == 0 or die "cannot make the input\n";

# the STS fails the third fragment of each stream: it falls back
$sts->control(rules => [ { trigger => 'sequence_number', value => 2,
                           action => 'error' } ]);

$t->run;

my (%player, %file, %pub);

for my $n (sort keys %GAIN) {
    $file{$n} = $t->dir . "/out_$n.flv";
    $player{$n} = $t->play("out_$n/$n", $file{$n});
}

ok($t->wait_player($_, 30), "player of $_ waits") for sort keys %GAIN;

$pub{$_} = $t->publish($in, "live_$_/$_") for sort keys %GAIN;

for my $n (sort keys %GAIN) {
    is($t->wait_exit($pub{$n}, 60), 0, "$n: publisher pushed 14 s");
}

for my $n (sort keys %GAIN) {
    is($t->wait_exit($player{$n}, 60), 0, "$n: player ended with the output");
}

# the input's 440 Hz, in 500 ms windows at 16 kHz

my $ref = level_at(levels($in, 440), 500, 13500);
ok(abs($ref - -12) <= 0.5, "the input's 440 Hz at $ref dBFS");

for my $n (sort keys %GAIN) {
    check_stream($n);
}

$t->stop_ok;

done_testing;


# one stream's output: its segments' levels, peaks and timestamps

sub check_stream {
    my ($n) = @_;
    my $seg = segments("live_$n/$n");
    my @dubbed = grep { ($seg->{$_}{out} // "") eq 'dubbed' } sort keys %$seg;
    my @orig = grep { ($seg->{$_}{out} // "") eq 'original' } sort keys %$seg;

    ok(keys %$seg == 7 && @dubbed >= 4 && @orig >= 1,
       "$n: 7 segments, " . @dubbed . ' dubbed, ' . @orig
       . ' with the original (the STS failed one)')
        or diag(explain($seg));

    my $o = levels($file{$n}, 440);
    my $d = levels($file{$n}, 1000);

    for my $i (@dubbed) {
        my ($s, $e) = @{ $seg->{$i} }{qw(start end)};
        my ($lo, $hi) = range($o, $s, $e);
        my ($dlo, $dhi) = range($d, $s, $e);

        if (defined $GAIN{$n}) {
            my $want = $ref + $GAIN{$n};
            ok(defined $lo && $lo >= $want - 2 && $hi <= $want + 2,
               "$n: dubbed segment $i: 440 Hz at " . span($lo, $hi)
               . " dBFS (want $want +-2)");
        } else {
            ok(defined $lo && $hi < -50,
               "$n: dubbed segment $i: no 440 Hz (" . span($lo, $hi)
               . ' dBFS)');
        }

        ok(defined $dlo && $dlo >= $TONE_DB - 2 && $dhi <= $TONE_DB + 2,
           "$n: dubbed segment $i: 1 kHz at " . span($dlo, $dhi)
           . sprintf(' dBFS (want %.1f +-2)', $TONE_DB));
    }

    for my $i (@orig) {
        my ($s, $e) = @{ $seg->{$i} }{qw(start end)};
        my ($lo, $hi) = range($o, $s, $e);
        my ($dlo, $dhi) = range($d, $s, $e);

        ok(defined $lo && $lo >= $ref - 1 && $hi <= $ref + 1
           && $dhi < -50, "$n: segment $i falls back: 440 Hz at "
           . span($lo, $hi) . ' dBFS, 1 kHz at ' . span($dlo, $dhi));
    }

    my $peak = peak($file{$n});
    ok($peak <= 0, sprintf("$n: peak %.2f dBFS", $peak));

    timestamps_ok($n);
}


# every audio frame at its input timestamp, as long as the video

sub timestamps_ok {
    my ($n) = @_;
    my $ain = DubTest::stream_times($in, 'aac');
    my $aout = DubTest::stream_times($file{$n}, 'aac');
    my $vout = DubTest::stream_times($file{$n}, 'h264');

    my $moved = grep { !$aout->[$_] || $aout->[$_][0] != $ain->[$_][0] }
                0 .. $#$ain;
    ok(@$aout == @$ain && $moved == 0,
       "$n: every audio frame at its input timestamp")
        or diag('in ' . @$ain . ', out ' . @$aout . ", moved $moved");

    my $audio = $aout->[-1][0] + 23;
    my $video = (sort { $a <=> $b } map { $_->[0] } @$vout)[-1] + 40;
    ok(abs($audio - $video) <= 100, "$n: audio lasts as long as the video "
       . "($audio ms, $video ms)");
}


# segment => { start, end (ms), out: dubbed | original }, from the log

sub segments {
    my ($stream) = @_;
    my %seg;

    for ($t->log_lines(qr/"\Q$stream\E" segment \d+ (?:fragment \S+ )?cut: /)) {
        next unless /segment (\d+) .*cut: (\d+)ms at (\d+)ms/;
        $seg{$1}{start} = $3;
        $seg{$1}{end} = $3 + $2;
    }

    for ($t->log_lines(qr/"\Q$stream\E" segment \d+ .*out with/)) {
        next unless /segment (\d+) .*out with (dubbed|original)/;
        $seg{$1}{out} = $2;
    }

    return \%seg;
}


# [start ms, level dBFS] of a tone in 500 ms windows of a file's audio

sub levels {
    my ($file, $hz) = @_;
    my $pcm = DubTest::pcm($file, 16000);
    return DubTest::audio_probe($pcm, 'level', 16000, $hz, 500);
}


# the lowest and highest level of the windows within [s, e), 100 ms in

sub range {
    my ($w, $s, $e) = @_;
    my @l = map { $_->[1] }
            grep { $_->[0] >= $s + 100 && $_->[0] + 500 <= $e - 100 } @$w;
    return unless @l;
    @l = sort { $a <=> $b } @l;
    return ($l[0], $l[-1]);
}


sub level_at {
    my ($w, $s, $e) = @_;
    my ($lo, $hi) = range($w, $s, $e);
    return defined $lo ? ($lo + $hi) / 2 : -999;
}


sub span {
    my ($lo, $hi) = @_;
    return 'nothing' unless defined $lo;
    return sprintf('%.1f..%.1f', $lo, $hi);
}


# the highest sample of the decoded audio, floating point, in dBFS

sub peak {
    my ($file) = @_;
    my $raw = "$file.f32";
    system("ffmpeg -nostdin -v error -y -i '$file' -map 0:a -c:a pcm_f32le "
           . "-f f32le '$raw'") == 0 or die "cannot decode $file";
    open my $fh, '<:raw', $raw or die "$raw: $!";
    local $/;
    my $max = 0;
    for (unpack 'f<*', <$fh>) {
        $max = abs($_) if abs($_) > $max;
    }
    return $max > 0 ? 20 * log($max) / log(10) : -999;
}

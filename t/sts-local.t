#!/usr/bin/perl

# The speech STS on its local stages (sts/speech/ with its defaults:
# pocketsphinx, apertium, espeak-ng, offline) behind the module: the 60 s
# English fixture comes out of the output application speaking Spanish.
# Checked: what it recognized against the script the fixture speaks (the
# word error rate of the transcripts put end to end, printed: a
# benchmark figure, docs/benchmarks.md, with no bar on it; and the
# recall of script words as a floor), that the translation
# is Spanish, that the segments carry the synthesized speech and not the
# original, in place, with the picture untouched, and the STS's time per
# fragment against the timeout.  A language pair it cannot do is refused
# at stream:init, and the stream keeps its original audio; so does a
# stream whose STS fails at a stage (the recognizer replaced by one that
# fails).  An overloaded STS skips the fragments that waited in its queue
# past their timeout (its stages given 10 s a fragment each, more than
# the stream's timeout, so that only the queue skips).
#
# The local STS needs about 1.5 s of a core per 6 s fragment; on a busy
# machine it has been seen to take 31 s (other builds running beside the
# serial stage), 41 s with the machine loaded by other test runs (load
# average about 10).  The stream here gets an 80 s timeout and a 90 s
# delay, so that every fragment is dubbed however busy the machine is; its
# time per fragment is printed, and measured in "make bench"
# (scripts/bench.pl --local, docs/benchmarks.md).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use DubWer qw(wer);
use JSON::PP;
use Test::More;

binmode(Test::More->builder->$_, ':encoding(UTF-8)')
    for qw(output failure_output todo_output);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_sts_timeout 80s;
            dub_delay 90s;
            dub_segment_stagger off;
            dub_sts_url %%STS%%;
        }

        application fr {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_target_lang fr;
            dub_sts_reconnect 1s;
            dub_sts_url %%STS%%;
        }

        application broken {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_url %%BROKEN%%;
        }

        application slow {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_timeout 2s;
            dub_breaker_threshold 100;
            dub_sts_url %%SLOW%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->speech_sts;

# a speech STS whose local speech recognizer is a stand-in shell script, found
# first in its PATH
sub with_recognizer {
    my ($name, $script, @opts) = @_;
    my $bin = $t->dir . "/$name-bin";
    mkdir $bin or die "$bin: $!";
    open my $fh, '>', "$bin/pocketsphinx_continuous" or die $!;
    print $fh "#!/bin/sh\n$script\n";
    close $fh;
    chmod 0755, "$bin/pocketsphinx_continuous";
    local $ENV{PATH} = "$bin:$ENV{PATH}";
    return $t->speech_sts(@opts);
}

# one whose recognizer fails
my $broken = with_recognizer('broken',
                             "echo 'acoustic model: cannot open' >&2; exit 1");

# one whose recognizer takes 3 s for a 2 s fragment, one at a time: its
# queue grows past the fragments' timeout
my $slow = with_recognizer('slow', 'sleep 3; echo hello world', '--jobs', 1,
                           map { ("--$_-timeout", 10000) } qw(asr mt tts));

$t->set(STS => $sts->url);
$t->set(SLOW => $slow->url);
$t->set(BROKEN => $broken->url);
$t->run;

my $bout = $t->dir . '/broken.flv';
my $bplayer = $t->play('dubbed/b', $bout);

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/l', $out);
ok($t->wait_player('l', 30) && $t->wait_player('b', 30), 'players wait');

my $pub = $t->publish('main', 'live/l');
my $fr = $t->publish('short', 'fr/x');
my $bpub = $t->publish('short', 'broken/b');
my $spub = $t->publish('short', 'slow/s');
is($t->wait_exit($pub, 90), 0, 'publisher pushed 60 s');
is($t->wait_exit($player, 150), 0, 'player ended with the output');

# what the STS did, fragment by fragment

my @frag = map { decode_json($_) } grep { /"fragment_id"/ }
           split /\n/, $t->read_file("logs/sts$sts->{n}.log");

is(scalar @frag, 10, 'the STS worked on 10 fragments');
is(scalar(grep { $_->{error} } @frag), 0, 'none failed')
    or diag(join "\n", map { $_->{error} // () } @frag);

# recognition: words of the script found in the transcripts, in order of
# appearance not required (the recognizer is modest)

my $script = lc $t->read_file("$DubTest::TOP/fixtures/script.txt");
my %said = map { $_ => 1 } $script =~ /([a-z']+)/g;
my @heard = map { lc($_->{transcript} // '') =~ /([a-z']+)/g } @frag;
my $right = grep { $said{$_} } @heard;
my $recall = @heard ? $right / @heard : 0;
ok($recall >= 0.5, sprintf('recognized words that are in the script: '
                           . '%d of %d (%.0f %%)', $right, scalar @heard,
                           100 * $recall));

# translation: Spanish, not English

my $es = join ' ', map { $_->{translated} // '' } @frag;
my $spanish = () = $es =~ /\b(el|la|los|las|de|del|en|que|y|es|para|por|un|una)\b/gi;
my $english = () = $es =~ /\b(the|and|of|to|is|for|on)\b/gi;
ok($spanish > 20 && $spanish > 4 * $english,
   "the translation is Spanish ($spanish Spanish, $english English function words)")
    or diag($es);
# the word error rate of the recognizer over the whole fixture: the
# transcripts in sequence order against the script (the fixture speaks
# about 58 s of it; fragments cut words in two)

my ($wer, $s, $d, $i, $n) = wer($script, join ' ',
                                map { $_->{transcript} // '' }
                                sort { $a->{seq} <=> $b->{seq} } @frag);
ok($n > 150, sprintf('word error rate of the local recognizer: %.1f %% '
                     . '(%d substituted, %d deleted, %d inserted of %d words)',
                     100 * $wer, $s, $d, $i, $n));

diag('first fragment: "' . ($frag[0]{transcript} // '') . '" -> "'
     . ($frag[0]{translated} // '') . '"');

# speed: a benchmark figure, printed

my @ms = sort { $a <=> $b } map { $_->{ms} } @frag;
diag("time per fragment: $ms[0] .. $ms[-1] ms") if @ms;

# the output: dubbed segments, the picture untouched, audio in place

is(scalar $t->log_lines(qr/"live\/l" segment \d+ fragment \S+ out with dubbed/),
   10, 'every segment dubbed');
ok($t->wait_log(qr/"live\/l" stream:complete from session \S+: 10 fragments, 10 success/, 30),
   'stream:complete counts the 10 fragments');

my $in = DubTest::fixture('main');
my $vin = DubTest::stream_packets(DubTest::packets($in),
                                  DubTest::streams($in)->{h264});
my $vout = DubTest::stream_packets(DubTest::packets($out),
                                   DubTest::streams($out)->{h264});
my $same = grep { $vout->[$_] && $vin->[$_][3] eq $vout->[$_][3] } 0 .. $#$vin;
ok($same == @$vin && @$vout == @$vin, 'video packets byte-identical');

my $ain = DubTest::stream_times($in, 'aac');
my $aout = DubTest::stream_times($out, 'aac');
my $moved = grep { !$aout->[$_] || $aout->[$_][0] != $ain->[$_][0] }
            0 .. $#$ain;
ok(@$aout == @$ain && !$moved, 'every audio frame at its original timestamp');

# the sound is not the original: where echoing would correlate with the
# input second by second (t/sts-echo.t: over 0.6 in most seconds), the
# synthesized speech does not

my %st = map { $_->[0] => $_->[1] }
         @{ DubTest::audio_probe(DubTest::pcm($out, 16000), 'stats', 16000) };
ok($st{rms_dbfs} > -35, "the output is not silent ($st{rms_dbfs} dBFS)");

my $lag = DubTest::audio_probe(DubTest::pcm($out, 16000), 'lag', 16000, 1000,
                               200, DubTest::pcm($in, 16000));
my @alike = grep { $_->[2] > 0.6 } @$lag;
ok(@$lag >= 55 && @alike <= 3, 'the output speaks something else than the '
   . 'input (' . @alike . ' of ' . @$lag . ' seconds alike)');

# a pair it cannot do: refused at stream:init, original audio, retried

is($t->wait_exit($fr, 10), 0, 'published to the French application');
ok($t->wait_log(qr/"dubbed\/x" output done/, 20), 'its output done');
my @refused = $t->log_lines(qr/"fr\/x" STS refused stream:init: INVALID_CONFIG/);
ok(@refused >= 2, 'en -> fr refused at stream:init, and retried ('
   . @refused . ' times)');
is(scalar $t->log_lines(qr/"fr\/x" segment \d+ .*out with dubbed/), 0,
   'its segments keep their original audio');
ok(!$t->log_lines(qr/"fr\/x" no stream:ready/),
   'without waiting for the init timeout');

# a stage that fails: "failed" with MODEL_ERROR, the original audio

is($t->wait_exit($bpub, 10), 0, 'published to the broken STS');
is($t->wait_exit($bplayer, 20), 0, 'its output ended');
my @bad = map { decode_json($_) } grep { /"fragment_id"/ }
          split /\n/, $t->read_file("logs/sts$broken->{n}.log");
ok(@bad >= 5 && !grep({ ($_->{stage} // '') ne 'asr' } @bad),
   'the broken STS failed ' . @bad . ' fragments at the asr stage');
ok(scalar $t->log_lines(qr/"broken\/b" fragment \S+ seq \d+ processed by session \S+: failed/),
   'the module got "failed"');
is(scalar $t->log_lines(qr/"broken\/b" segment \d+ .*out with dubbed/), 0,
   'no segment dubbed');
DubTest::is_same_media(DubTest::fixture('short'), $bout, 'broken STS output');

# overloaded: what waited past its timeout is skipped, not worked on

is($t->wait_exit($spub, 10), 0, 'published to the slow STS');
ok($t->wait_log(qr/"dubbed\/s" output done/, 20), 'its output done');
my @slow = map { decode_json($_) } grep { /"fragment_id"/ }
           split /\n/, $t->read_file("logs/sts$slow->{n}.log");
my @skipped = grep { ($_->{code} // '') eq 'TIMEOUT' } @slow;
my @worked = grep { !$_->{code} } @slow;
ok(@skipped >= 1 && !grep({ $_->{ms} < 2000 } @skipped),
   'the slow STS skipped ' . @skipped . ' fragments that had waited past '
   . 'the 2 s timeout');
ok(@worked >= 1 && !grep({ $_->{ms} - $_->{asr_ms} - $_->{translation_ms}
                           - $_->{tts_ms} >= 2000 + 1500 } @worked),
   'and worked on the ' . @worked . ' that had not');
ok(scalar $t->log_lines(qr/"slow\/s" fragment \S+ seq \d+: answer after its time, dropped/),
   'the module drops the late answers');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# The speech STS (sts/speech/) on HTTP APIs, end to end: nginx with the
# module, ffmpeg publishing, the speech STS with its three stages on the
# stand-ins of t/tools/speech-standins.js (OpenAI-compatible recognition
# and speech, LibreTranslate; DeepL for a second stream), each with a key.
#
# The stand-in recognizer hears the fixture's whole script in every
# fragment: the text reaches the module intact (word error rate 0 in the
# transcript and in the translation of every fragment the module dubbed),
# and the stand-in speech (a 220 Hz tone, 4 ms per character: twice as
# long as a fragment) comes out fitted to each segment.  The requests are
# the APIs' own: fields, models, voices, language codes, auth headers.
# No key appears in any log.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use DubWer qw(wer);
use JSON::PP;
use Test::More;

my %key = (asr => 'sk-asr-71c2e9d04b', lt => 'lt-key-5a8e33f0c7',
           tts => 'sk-tts-e69b0d2a41', deepl => 'dl-9f0c7b1e-2d4a:fx');

my $t = DubTest->new(rtmp => <<'EOF');
        application chain {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 14s;
            dub_sts_timeout 12s;
            dub_sts_url %%STS%%;
        }

        application deepl {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 14s;
            dub_sts_timeout 12s;
            dub_target_lang de;
            dub_sts_url %%DEEPL%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $script = $t->read_file("$DubTest::TOP/fixtures/script.txt");
(my $said = $script) =~ s/\s+/ /g;
$said =~ s/^ | $//g;

my $api = $t->speech_standins('--asr-text', $said, '--tts-ms-per-char', 4,
    '--key', "asr=$key{asr}", '--key', "tts=$key{tts}",
    '--key', "libretranslate=$key{lt}", '--key', "deepl=$key{deepl}");
my $base = 'http://127.0.0.1:' . $api->port;

my $sts = do {
    local @ENV{qw(STS_ASR_KEY STS_MT_KEY STS_TTS_KEY)}
        = @key{qw(asr lt tts)};
    $t->speech_sts('--asr', "openai=$base/v1",
                   '--asr-model', 'Systran/faster-whisper-small',
                   '--mt', "libretranslate=$base",
                   '--tts', "openai=$base/v1", '--tts-model', 'kokoro',
                   '--tts-voice', 'ef_dora');
};
my $dl = do {
    local @ENV{qw(STS_ASR_KEY STS_MT_KEY STS_TTS_KEY)}
        = @key{qw(asr deepl tts)};
    $t->speech_sts('--asr', "openai=$base/v1", '--mt', "deepl=$base/deepl",
                   '--tts', "openai=$base/v1");
};

$t->set(STS => $sts->url, DEEPL => $dl->url);
$t->run;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/c', $out);
ok($t->wait_player('c', 30), 'player waits');

my $p1 = $t->publish('short', 'chain/c');
my $p2 = $t->publish('short', 'deepl/d');
is($t->wait_exit($p1, 60), 0, 'published to the LibreTranslate chain');
is($t->wait_exit($p2, 60), 0, 'published to the DeepL chain');
ok($t->wait_log(qr/"dubbed\/c" output done/, 40)
   && $t->wait_log(qr/"dubbed\/d" output done/, 40), 'outputs done');
is($t->wait_exit($player, 30), 0, 'player ended with the output');

# what the module got: every segment dubbed

for my $s ('chain/c', 'deepl/d') {
    my @seg = $t->log_lines(qr/"\Q$s\E" segment \d+ fragment \S+ out with/);
    my @dub = grep { /out with dubbed/ } @seg;
    ok(@seg == 6 && @dub == 6, "$s: " . @dub . ' of ' . @seg
       . ' segments dubbed');
}

# the text through the chain: in every answer the module applied, the
# transcript is the script (WER 0) and the translation is the stand-in's
# translation of it

sub answers {
    my ($sts) = @_;
    return map { decode_json($_) } grep { /"fragment_id"/ }
           split /\n/, $t->read_file("logs/sts$sts->{n}.log");
}

for ([ 'chain/c', $sts, '[es]' ], [ 'deepl/d', $dl, '[DE]' ]) {
    my ($s, $x, $tag) = @$_;
    my %a = map { $_->{fragment_id} => $_ } answers($x);
    my @applied = map { /fragment (\S+) out with dubbed/ ? $1 : () }
        $t->log_lines(qr/"\Q$s\E" segment \d+ fragment \S+ out with dubbed/);
    my @asr = map { scalar wer($script, $a{$_}{transcript} // '') } @applied;
    my @mt = map { scalar wer("$tag $script", $a{$_}{translated} // '') }
             @applied;
    ok(@applied == 6 && !grep({ $_ != 0 } @asr, @mt),
       "$s: the script went through intact: WER of the transcripts "
       . "@asr, of the translations @mt");
}

# the speech, fitted: the stand-in's 4 s for each 2 s fragment, sped up
# within the bounds (1.5x) and the rest trimmed by the STS; the module
# got each fragment's length

my @fit = grep { defined $_->{tempo} } answers($sts);
ok(@fit == 6 && !grep({ $_->{tempo} != 1.5 || $_->{speech_ms} < 4000
                        || $_->{trimmed_ms} < 500 } @fit),
   'speech fitted by the STS: tempo 1.5, then trimmed, '
   . join(' ', map { "$_->{speech_ms}->2000" } @fit) . ' ms');
my @tempo = map { /tempo ([\d.]+)/ ? $1 : () }
            $t->log_lines(qr/"chain\/c" fragment \S+ seq \d+ decoded:/);
ok(@tempo == 6 && !grep({ abs($_ - 1) > 0.01 } @tempo),
   "the module had nothing left to fit (tempo @tempo)");

my $probe = DubTest::audio_probe(DubTest::pcm($out, 16000), 'tone', 16000,
                                 220, 1000);
my @toned = grep { $_->[1] > 0.5 } @$probe;
ok(@$probe >= 10 && @toned >= @$probe - 3, 'the output speaks the stand-in\'s '
   . 'tone (' . @toned . ' of ' . @$probe . ' seconds)');

# the requests, as the APIs define them

my $req = $api->call('GET', '/_requests');
my @asr = grep { $_->{api} eq 'asr' } @$req;
my @lt = grep { $_->{api} eq 'libretranslate' } @$req;
my @dlr = grep { $_->{api} eq 'deepl' } @$req;
my @tts = grep { $_->{api} eq 'tts' } @$req;

is(scalar @asr, 12, 'recognition: 12 requests (6 per stream)');
my @bad = grep {
    my $f = $_->{fields};
    $_->{path} ne '/v1/audio/transcriptions' || $_->{status} != 200
    || ($_->{headers}{authorization} // '') ne "Bearer $key{asr}"
    || ($_->{headers}{'content-type'} // '') !~ m{^multipart/form-data}
    || !$f->{file}{wav} || $f->{file}{rate} != 16000
    || $f->{file}{channels} != 1 || $f->{file}{bits} != 16
    || $f->{file}{filename} !~ /\.wav$/
    || abs($f->{file}{duration_ms} - 2000) > 100
    || $f->{language} ne 'en' || $f->{response_format} ne 'json'
} @asr;
ok(!@bad, 'recognition: multipart, the fragment as 16 kHz mono WAV of '
   . '2 s, language en, response_format json, Bearer key')
    or diag(encode_json($bad[0]));
is(join(' ', sort { $a cmp $b } map { $_->{fields}{model} } @asr),
   join(' ', ('Systran/faster-whisper-small') x 6, ('whisper-1') x 6),
   'recognition: --asr-model, or whisper-1');

@bad = grep {
    my $j = $_->{json};
    $_->{path} ne '/translate' || $_->{status} != 200
    || ($_->{headers}{authorization} // '') ne "Bearer $key{lt}"
    || $j->{q} ne $said || $j->{source} ne 'en' || $j->{target} ne 'es'
    || $j->{format} ne 'text' || ($j->{api_key} // '') ne $key{lt}
} @lt;
ok(@lt == 6 && !@bad, 'LibreTranslate: {q, source en, target es, format '
   . 'text, api_key}, Bearer key') or diag(encode_json($bad[0] // {}));

@bad = grep {
    my $j = $_->{json};
    $_->{path} ne '/deepl/v2/translate' || $_->{status} != 200
    || ($_->{headers}{authorization} // '') ne "DeepL-Auth-Key $key{deepl}"
    || ref $j->{text} ne 'ARRAY' || $j->{text}[0] ne $said
    || $j->{source_lang} ne 'EN' || $j->{target_lang} ne 'DE'
} @dlr;
ok(@dlr == 6 && !@bad, 'DeepL: {text: [...], source_lang EN, target_lang '
   . 'DE}, DeepL-Auth-Key') or diag(encode_json($bad[0] // {}));

@bad = grep {
    my $j = $_->{json};
    $_->{path} ne '/v1/audio/speech' || $_->{status} != 200
    || ($_->{headers}{authorization} // '') ne "Bearer $key{tts}"
    || $j->{response_format} ne 'wav'
    || $j->{input} !~ /^\[(es|DE)\] \Q$said\E$/
} @tts;
ok(@tts == 12 && !@bad, 'speech: {model, input: the translation, voice, '
   . 'response_format wav}, Bearer key') or diag(encode_json($bad[0] // {}));
is(join(' ', sort { $a cmp $b } map { "$_->{json}{model}/$_->{json}{voice}" }
        @tts),
   join(' ', ('kokoro/ef_dora') x 6, ('tts-1/alloy') x 6),
   'speech: --tts-model and --tts-voice, or tts-1 and alloy');

# no key in any log: nginx's, the STSs', the stand-ins'

$t->stop_ok;
opendir my $d, $t->dir . '/logs' or die;
my @logs = grep { -f $t->dir . "/logs/$_" } readdir $d;
my @leaks = grep { my $f = $t->read_file("logs/$_");
                   grep { index($f, $_) >= 0 } values %key } @logs;
ok(@logs >= 4 && !@leaks, 'no key in any of ' . @logs . ' logs ('
   . join(' ', sort @logs) . ')') or diag("leaked in @leaks");

done_testing;

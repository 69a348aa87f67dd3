#!/usr/bin/perl

# Several languages from one stream ("dub_language"): each language has
# its own STS session (its target_language, its own URL and voice when
# given), its own output with its own dubbed audio and the input's video
# byte for byte, its own metrics under the "lang" label; a segment is
# packed once for all of them; one language's STS gone leaves the others
# dubbing and its own output continuous with the original audio.  nginx -t
# refuses what cannot work.

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
            dub_segment 2s;
            dub_delay 9s;
            dub_sts_timeout 6s;
            dub_sts_url %%STS%%;
            dub_language es dubbed_es;
            dub_language fr dubbed_fr sts=%%STS_FR%% voice=female_1;
        }

        application dubbed_es {
            live on;
            play_restart on;
        }

        application dubbed_fr {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--mode', 'tone', '--tone-lang', 'es=700,fr=1900');
my $fr = $t->sts('--mode', 'tone', '--tone-hz', 1300);
$t->set(STS => $sts->url('/sts'), STS_FR => $fr->url('/sts'));

$t->run;

my $in = DubTest::fixture('short');

# a stream, played in both languages; the tone tells them apart

sub dub_stream {
    my ($name) = @_;
    my %out = map { $_ => $t->dir . "/$name-$_.flv" } qw(es fr);
    my @players = map { $t->play("dubbed_$_/$name", $out{$_}) } qw(es fr);
    ok($t->wait_player($name, 30, 2), "$name: both players wait");
    my $pub = $t->publish('short', "live/$name");
    is($t->wait_exit($pub, 60), 0, "$name: publisher pushed the fixture");
    ok($t->wait_for(sub { $t->log_lines(
            qr/"dubbed_(es|fr)\/$name" output done/) == 2 }, 40),
       "$name: both outputs done");
    is($t->wait_exit($_, 30), 0, "$name: player ended") for @players;
    return \%out;
}

# share of 500 ms windows of a file's audio that carry a tone
sub tone_share {
    my ($file, $hz) = @_;
    my $w = DubTest::audio_probe(DubTest::pcm($file, 16000), 'tone', 16000,
                                 $hz, 500);
    return 0 unless @$w;
    return (grep { $_->[1] > 0.5 } @$w) / @$w;
}

sub video_identical {
    my ($file) = @_;
    my $vin = DubTest::stream_packets(DubTest::packets($in),
                                      DubTest::streams($in)->{h264});
    my $vout = DubTest::stream_packets(DubTest::packets($file),
                                       DubTest::streams($file)->{h264});
    my $same = grep { $vout->[$_] && $vin->[$_][3] eq $vout->[$_][3] }
               0 .. $#$vin;
    return ($same == @$vin && @$vout == @$vin, "in " . @$vin . ", out "
            . @$vout . ", identical $same");
}

my $out = dub_stream('m');

# each output its own language's audio, the same picture

my %share;
for my $l (qw(es fr)) {
    for my $hz (700, 1300, 1900) {
        $share{"$l$hz"} = tone_share($out->{$l}, $hz);
    }
}
ok($share{es700} > 0.5, "es output carries the es tone ($share{es700})");
ok($share{es1300} < 0.1, "es output without the fr tone ($share{es1300})");
ok($share{fr1300} > 0.5,
   "fr output carries its own STS's tone ($share{fr1300})");
ok($share{fr700} < 0.1 && $share{fr1900} < 0.1,
   "fr output without the es tones ($share{fr700}, $share{fr1900})");

for my $l (qw(es fr)) {
    my ($same, $why) = video_identical($out->{$l});
    ok($same, "$l: video packets byte-identical to the input") or diag($why);
    my $ain = DubTest::stream_times($in, 'aac');
    my $aout = DubTest::stream_times($out->{$l}, 'aac');
    is(scalar @$aout, scalar @$ain, "$l: as many audio frames as the input");
}

# one session per language, with its language, URL and voice

my $inits = sub {
    my ($s) = @_;
    return [ grep { ($_->{payload}{stream_id} // '') eq 'm' }
             @{ $s->stats->{inits} } ];
};
my $es_inits = $inits->($sts);
my $fr_inits = $inits->($fr);
is(scalar @$es_inits, 1, 'one stream:init at the application STS');
is($es_inits->[0]{payload}{config}{target_language}, 'es',
   'its target_language es');
is(scalar @$fr_inits, 1, 'one stream:init at the fr STS');
is($fr_inits->[0]{payload}{config}{target_language}, 'fr',
   'its target_language fr');
is($fr_inits->[0]{payload}{config}{voice_profile}, 'female_1',
   'its voice from voice=');

# packed once for both

my @packed = $t->log_lines(qr/segment \d+ packed once for 2 fragment/);
my @cut = $t->log_lines(qr/"live\/m" segment \d+ cut/);
ok(@packed >= 5, 'segments packed once for two fragments (' . @packed
   . ' of ' . @cut . ')');
is(scalar $t->log_lines(qr/segment \d+ packed once for 1 fragment/), 0,
   'never packed per language');
ok($t->log_lines(qr/"live\/m:fr" STS session \S+ ready/),
   'the log names the language');

# metrics per language

my ($m, $text) = $t->metrics;
my ($ok, $why) = $t->promtool_check($text);
ok($ok, 'promtool accepts /metrics') or diag($why);
for my $l (qw(es fr)) {
    my $d = $m->{"nginx_dub_segments_dubbed_total{stream=\"live/m\","
                 . "lang=\"$l\"}"} // 0;
    ok($d >= 4, "$l: segments dubbed in /metrics ($d)");
}

# the fr STS gone: fr goes on with the original, es keeps dubbing

$fr->kill;

$out = dub_stream('n');

my $es = tone_share($out->{es}, 700);
my $frx = tone_share($out->{fr}, 1300);
ok($es > 0.5, "es still dubbed ($es)");
ok($frx < 0.1, "fr without a dub ($frx)");
my ($same) = video_identical($out->{fr});
ok($same, 'fr output: the whole picture');
my $ain = DubTest::stream_times($in, 'aac');
my $aout = DubTest::stream_times($out->{fr}, 'aac');
is(scalar @$aout, scalar @$ain, 'fr output: the whole original audio');

($m) = $t->metrics;
my $l = sub { "{stream=\"live/n\",lang=\"$_[0]\"}" };
ok(($m->{'nginx_dub_segments_dubbed_total' . $l->('es')} // 0) >= 4,
   'es: dubbed in /metrics');
is($m->{'nginx_dub_segments_dubbed_total' . $l->('fr')} // 0, 0,
   'fr: nothing dubbed in /metrics');
my ($fb) = grep { /^nginx_dub_fallbacks_total\{stream="live\/n",lang="fr",reason="sts_unavailable"\}/ }
           keys %$m;
ok($fb && $m->{$fb} >= 4, 'fr: fallbacks sts_unavailable')
    or diag(join "\n", grep { /fallbacks_total.*live\/n/ } keys %$m);

$t->stop_ok;

# nginx -t

my $app = sub {
    my ($dub) = @_;
    return <<"EOF";
        application live {
            live on;
            dub on;
            dub_sts_url http://127.0.0.1:9/sts;
            $dub
        }
        application a { live on; }
        application b { live on; }
EOF
};

my @bad = (
    [ 'dub_language es a; dub_language es b;', qr/language "es" is given twice/ ],
    [ 'dub_language es a; dub_language fr a;', qr/application "a" is the output of two/ ],
    [ 'dub_language es live;', qr/"dub_language" must name another application than "live"/ ],
    [ 'dub_language es nowhere;', qr/"dub_language" names "nowhere", which is not an application/ ],
    [ 'dub_language e1 a;', qr/invalid language "e1"/ ],
    [ 'dub_language spanish a;', qr/invalid language "spanish"/ ],
    [ 'dub_language es a; dub_output_app b;', qr/"dub_output_app" directive cannot be mixed with "dub_language"/ ],
    [ 'dub_output_app b; dub_language es a;', qr/"dub_language" directive cannot be mixed with "dub_output_app"/ ],
    [ 'dub_language es a speed=2;', qr/invalid parameter "speed=2"/ ],
    [ 'dub_language es a sts=ftp://x/;', qr/invalid URL "ftp:\/\/x\/" in "dub_language"/ ],
    [ 'dub_language es a voice=a voice=b;', qr/duplicate parameter "voice=b"/ ],
);

for my $c (@bad) {
    my ($rc, $text) = $t->test_conf(rtmp => $app->($c->[0]));
    ok($rc != 0 && $text =~ $c->[1], "nginx -t refuses: $c->[0]")
        or diag($text);
}

my ($rc, $conf) = $t->test_conf(rtmp => $app->(
    'dub_language es a; dub_language pt-BR b sts=http://127.0.0.1:9/x;'));
is($rc, 0, 'nginx -t accepts two languages, one with its own STS')
    or diag($conf);

done_testing;

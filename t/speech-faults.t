#!/usr/bin/perl

# The speech STS when its services fail, end to end: nginx with the
# module, ffmpeg publishing, speech STSs on the stand-in APIs of
# t/tools/speech-standins.js, each made to fail one way:
#
#   e500   the speech server answers 500: "failed", stage tts,
#          retryable: the module's breaker opens, stream:pause reaches
#          the STS, the output keeps its original audio
#   auth   the recognizer refuses the key (401): AUTH_FAILED, not
#          retryable (no breaker), logged once, the key in no log
#   hang   the recognizer never answers: a TIMEOUT at the asr stage
#          after --asr-timeout, the request given up
#   limit  the recognizer says 429 three times: the streams are slowed
#          down (backpressure slow_down, then none) and nothing fails
#   queue  one job, each recognition 4 s, fragments every 2 s: the
#          queue makes the STS say pause, then none
#   voice  dub_voice without a voice: INVALID_VOICE_PROFILE at
#          stream:init, the original audio
#
# and /metrics of an STS that went through it, which promtool accepts.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use JSON::PP;
use Test::More;

my %key = (asr => 'sk-right-0c9d8e7f6a', wrong => 'sk-wrong-3b4a5c6d7e');

my $app = sub {
    my ($name, $sts, @more) = @_;
    return <<"EOF";
        application $name {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 14s;
            dub_sts_timeout 12s;
            dub_sts_url %%$sts%%;
            @more
        }
EOF
};

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => join('', $app->('e500', 'E500', 'dub_breaker_threshold 3;',
                            'dub_breaker_cooldown 60s;'),
                 $app->('auth', 'AUTH', 'dub_breaker_threshold 3;'),
                 $app->('hang', 'HANG', 'dub_breaker_threshold 100;'),
                 $app->('limit', 'LIMIT'),
                 $app->('queue', 'QUEUE', 'dub_breaker_threshold 100;'),
                 $app->('voice', 'E500', 'dub_voice nosuch;'))
        . <<'EOF');
        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $api = $t->speech_standins('--key', "asr=$key{asr}", '--rules',
    encode_json([ { base => '/e500/v1', api => 'tts', status => 500 },
                  { base => '/hang/v1', api => 'asr', hang => JSON::PP::true },
                  { base => '/limit/v1', api => 'asr', status => 429,
                    times => 3, retry_after => 1 },
                  { base => '/slow/v1', api => 'asr', latency_ms => 4000 } ]));
my $url = 'http://127.0.0.1:' . $api->port;

sub speech {
    my ($base, $asr_key, @opts) = @_;
    local $ENV{STS_ASR_KEY} = $asr_key;
    return $t->speech_sts('--asr', "openai=$url$base", '--mt',
                          "libretranslate=$url", '--tts', "openai=$url$base",
                          @opts);
}

my %sts = (e500 => speech('/e500/v1', $key{asr}),
           auth => speech('/auth/v1', $key{wrong}),
           hang => speech('/hang/v1', $key{asr}, '--asr-timeout', 1500),
           limit => speech('/limit/v1', $key{asr}),
           queue => speech('/slow/v1', $key{asr}, '--jobs', 1,
                           '--bp-slow-down', 0, '--bp-pause', 1));
$t->set(map { uc($_) => $sts{$_}->url } keys %sts);
$t->run;

my $out = $t->dir . '/e500.flv';
my $player = $t->play('dubbed/e', $out);
ok($t->wait_player('e', 30), 'player waits');

my %pub = (e500 => 'e', auth => 'a', hang => 'h', limit => 'l', queue => 'q',
           voice => 'v');
my @pids = map { $t->publish('short', "$_/$pub{$_}") } sort keys %pub;
ok(!grep({ ($t->wait_exit($_, 60) // -1) != 0 } @pids),
   'published six streams');
ok(!grep({ !$t->wait_log(qr/"dubbed\/$_" output done/, 60) } values %pub),
   'their outputs done');

sub answers {
    my ($name) = @_;
    return map { decode_json($_) } grep { /"fragment_id"/ }
           split /\n/, $t->read_file("logs/sts$sts{$name}{n}.log");
}

sub sts_log { $t->read_file("logs/sts$sts{$_[0]}{n}.log") }

sub processed {
    my ($stream, $what) = @_;
    return scalar $t->log_lines(
        qr/"\Q$stream\E" fragment \S+ seq \d+ processed by session \S+: $what/);
}

# e500: retryable failures at the tts stage; the breaker opens

my @a = answers('e500');
ok(@a >= 3 && !grep({ ($_->{stage} // '') ne 'tts'
                      || ($_->{code} // '') ne 'MODEL_ERROR'
                      || !$_->{retryable}
                      || ($_->{error} // '') !~ /HTTP 500/ } @a),
   'e500: ' . @a . ' fragments failed at the tts stage, MODEL_ERROR, '
   . 'retryable');
my $got = processed('e500/e', 'failed .*error MODEL_ERROR');
ok($got >= 3, "e500: the module got $got of them (one may be on its way "
   . 'when the third opens the breaker)');
ok(scalar $t->log_lines(qr/"e500\/e" breaker open after/),
   'e500: the breaker opened');
like(sts_log('e500'), qr/"paused":"breaker_open"/,
     'e500: stream:pause reached the STS');
is(scalar $t->log_lines(qr/"e500\/e" segment \d+ .*out with dubbed/), 0,
   'e500: no segment dubbed');
is($t->wait_exit($player, 30), 0, 'e500: player ended');
DubTest::is_same_media(DubTest::fixture('short'), $out, 'e500: output');

# auth: not retryable, logged once, no breaker

@a = answers('auth');
ok(@a == 6 && !grep({ ($_->{code} // '') ne 'AUTH_FAILED'
                      || $_->{retryable} || $_->{stage} ne 'asr' } @a),
   'auth: 6 fragments failed at the asr stage, AUTH_FAILED, not retryable');
is(processed('auth/a', 'failed .*error AUTH_FAILED'), 6,
   'auth: the module got all 6 (the breaker does not count them)');
ok(!$t->log_lines(qr/"auth\/a" breaker open/), 'auth: no breaker');
my @said = grep { /"auth":/ } split /\n/, sts_log('auth');
ok(@said == 1 && $said[0] =~ /HTTP 401.*check STS_ASR_KEY/,
   'auth: logged once, saying which key') or diag(sts_log('auth'));
my @mine = grep { ($_->{status} // '') eq '401' }
           @{ $api->call('GET', '/_requests') };
ok(@mine == 6 && !grep({ $_->{headers}{authorization} ne "Bearer $key{wrong}" }
                       @mine), 'auth: the stand-in refused the 6 requests '
   . 'with the key it was sent');

# hang: the stage's own timeout

@a = answers('hang');
ok(@a >= 5 && !grep({ ($_->{code} // '') ne 'TIMEOUT' || $_->{stage} ne 'asr'
                      || !$_->{retryable} || $_->{asr_ms} < 1500 } @a),
   'hang: ' . @a . ' fragments failed with TIMEOUT at the asr stage, '
   . 'retryable, after 1.5 s (' . join(' ', map { $_->{asr_ms} } @a) . ' ms)');
ok(processed('hang/h', 'failed .*error TIMEOUT') >= 5,
   'hang: the module got them');
my @hung = grep { ($_->{base} // '') eq '/hang/v1' }
           @{ $api->call('GET', '/_requests') };
ok(@hung >= 5 && !grep({ !$_->{closed_at} } @hung),
   'hang: each of the ' . @hung . ' requests given up by the STS');

# limit: 429 slows the stream down instead of failing it

like(sts_log('limit'), qr/"rate_limited":"HTTP 429, waiting 1000 ms"/,
     'limit: the STS waited as Retry-After said');
my $bp = qr/"limit\/l" backpressure from session \S+:/;
ok($t->log_lines(qr/$bp slow_down, delay 1000ms/)
   && $t->log_lines(qr/$bp none/),
   'limit: the module was told slow_down, then none');
is(processed('limit/l', 'failed'), 0, 'limit: no fragment failed');
is(scalar $t->log_lines(qr/"limit\/l" segment \d+ .*out with dubbed/), 6,
   'limit: every segment dubbed');

my $m = $t->metrics;
my $l = '{stream="limit/l",lang="es",action=';
ok($m->{"nginx_dub_backpressure_events_total$l\"slow_down\"}"} >= 1
   && $m->{"nginx_dub_backpressure_events_total$l\"none\"}"} >= 1,
   'limit: the module counted the backpressure events');

# queue: the STS's own queue depth

my @bp = map { /"backpressure":"(\w+)","delay_ms":\d+,"queue_depth":(\d+)/
               ? "$1/$2" : () } split /\n/, sts_log('queue');
ok(@bp >= 2 && $bp[0] eq 'pause/1' && $bp[1] eq 'none/0',
   "queue: the STS said pause at a queue of 1, then none (@bp)");
$l = '{stream="queue/q",lang="es",action=';
ok($m->{"nginx_dub_backpressure_events_total$l\"pause\"}"} >= 1
   && $m->{"nginx_dub_backpressure_events_total$l\"none\"}"} >= 1,
   'queue: the module counted pause and none');
ok($t->log_lines(qr/"queue\/q" backpressure from session \S+: pause/),
   'queue: and logged them');

# voice: refused at stream:init

ok(scalar $t->log_lines(
       qr/"voice\/v" STS refused stream:init: INVALID_VOICE_PROFILE/),
   'voice: INVALID_VOICE_PROFILE');
is(scalar $t->log_lines(qr/"voice\/v" segment \d+ .*out with dubbed/), 0,
   'voice: original audio');

# the STS's /metrics after all that

my $r = HTTP::Tiny->new->get('http://127.0.0.1:' . $sts{e500}->port
                             . '/metrics');
my ($ok, $why) = $t->promtool_check($r->{content});
ok($ok, 'promtool accepts the speech STS\'s /metrics') or diag($why);
my $e = 'speech_sts_stage_errors_total';
like($r->{content}, qr/^$e\{stage="tts",code="MODEL_ERROR"\} [3-6]$/m,
     'the tts errors counted');
like($r->{content}, qr/^speech_sts_fragments_total\{status="failed"\} [3-6]$/m,
     'the failed fragments counted');
$r = HTTP::Tiny->new->get('http://127.0.0.1:' . $sts{auth}->port . '/health');
my $h = decode_json($r->{content});
ok($h->{status} eq 'degraded' && "@{ $h->{auth_failed} }" eq 'asr',
   'the STS whose key was refused says so on /health');

# no key in any log

$t->stop_ok;
opendir my $d, $t->dir . '/logs' or die;
my @logs = grep { -f $t->dir . "/logs/$_" } readdir $d;
my @leaks = grep { my $f = $t->read_file("logs/$_");
                   grep { index($f, $_) >= 0 } values %key } @logs;
ok(@logs >= 6 && !@leaks, 'no key in any of ' . @logs . ' logs')
    or diag("leaked in @leaks");

done_testing;

#!/usr/bin/perl

# STS paths each with a stream of its own: an "error" event naming a
# fragment falls back as "error" and counts for the breaker when
# retryable (only then); a fragment timeout counts for the breaker;
# STREAM_NOT_FOUND brings a new stream:init on the same connection; every
# answer not applied is acknowledged "received"; the RTT histogram has
# the documented bounds and a known latency lands above the right ones.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

# errev, errnr: every fragment answered by an error event, retryable or
# not; tmo: none answered; snf: STREAM_NOT_FOUND mid-stream; ack (24 s):
# seq 1 answered 9 s later (its slot comes 6 s after it is sent), seq 2
# failed, seq 3 undecodable; rtt6, rtt2: answers after 0.6 s, after
# 2.1 s.  One in flight at a time where the order of failures matters.

my %app = (
    errev => 'dub_sts_max_inflight 1; dub_breaker_threshold 3;'
             . ' dub_breaker_cooldown 60s;',
    errnr => 'dub_breaker_threshold 3; dub_breaker_cooldown 60s;',
    tmo   => 'dub_sts_max_inflight 1; dub_sts_timeout 1s;'
             . ' dub_breaker_threshold 2; dub_breaker_cooldown 60s;',
    snf   => '',
    ack   => 'dub_sts_timeout 12s;',
    rtt6  => '',
    rtt2  => '',
);

my %sts_opts = (
    rtt6 => [ '--latency-min-ms', 600, '--latency-max-ms', 700 ],
    rtt2 => [ '--latency-min-ms', 2100, '--latency-max-ms', 2200 ],
);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }');

my (%sts, $rtmp);

for my $a (sort keys %app) {
    $sts{$a} = $t->sts('--port', 0, '--mode', 'tone',
                       @{ $sts_opts{$a} // [] });
    my $url = $sts{$a}->url;
    $rtmp .= <<"EOF";
        application $a {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url $url;
            $app{$a}
        }

EOF
}

$t->set_conf(rtmp => $rtmp . "        application dubbed { live on; }\n");

my $T = JSON::PP::true;
my $F = JSON::PP::false;

$sts{errev}->control(rules => [ { trigger => 'all', action => 'error_event',
    error_code => 'MODEL_ERROR', retryable => $T } ]);
$sts{errnr}->control(rules => [ { trigger => 'all', action => 'error_event',
    error_code => 'INVALID_SEQUENCE', retryable => $F } ]);
$sts{tmo}->control(rules => [ { trigger => 'all', action => 'drop' } ]);
$sts{ack}->control(rules => [
    { trigger => 'sequence_number', value => 1, action => 'delay',
      delay_ms => 9000 },
    { trigger => 'sequence_number', value => 2, action => 'error',
      retryable => $F },
    { trigger => 'sequence_number', value => 3, action => 'bad_base64' } ]);

$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 1 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my @pub = map { $t->publish($_ eq 'ack' ? $looped : 'short', "$_/$_") }
          sort keys %app;

# STREAM_NOT_FOUND once the session has answered a fragment

ok($t->wait_log(qr/"snf\/snf" fragment \S+ seq 1 processed/, 30),
   'snf: a session that works');
$sts{snf}->emit(event => 'error', payload => { code => 'STREAM_NOT_FOUND',
    message => 'unknown stream', severity => 'error', retryable => $F });

is($t->wait_exit($_, 40), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "$_: output drained")
    for sort keys %app;

my $m = $t->metrics;

sub fallbacks {
    my ($a, $reason) = @_;
    return scalar $t->log_lines(
        qr/"$a\/$a" segment \d+ out with original audio: $reason$/);
}

sub fid {
    my ($a, $seq) = @_;
    my ($f) = grep { $_->{sequence_number} == $seq }
              @{ $sts{$a}->stats->{fragments} };
    return $f ? $f->{fragment_id} : 'none';
}

# an error event naming a fragment: fallback "error"; retryable, it counts

my $id = fid('errev', 2);
is(fallbacks('errev', 'error'), 3, 'errev: 3 fragments fall back as error');
ok(scalar $t->log_lines(qr/"errev\/errev" STS error MODEL_ERROR for fragment \S+: "simulated failure", retryable/),
   'errev: the error event logged with its fragment');
ok(scalar $t->log_lines(qr/"errev\/errev" breaker open after fragment \Q$id\E/),
   'errev: the third retryable error opens the breaker');
is(fallbacks('errev', 'breaker_open'), 3,
   'errev: the 3 after it held back: breaker_open');
is(scalar @{ $sts{errev}->stats->{fragments} }, 3, 'errev: 3 sent');
is($m->{'nginx_dub_fallbacks_total{stream="errev/errev",lang="es",reason="error"}'},
   3, 'errev: counted under "error"');

is(fallbacks('errnr', 'error'), 6,
   'errnr: not retryable, every fragment falls back as error');
ok(!$t->log_lines(qr/"errnr\/errnr" breaker open/),
   'errnr: and the breaker never opens');
is($m->{'nginx_dub_breaker_opens_total{stream="errnr/errnr",lang="es"}'}, 0,
   'errnr: breaker_opens_total 0');

# a timeout counts for the breaker

my @tmo = map { /within (\d+)ms/ ? $1 : () } $t->log_lines(
    qr/"tmo\/tmo" fragment \S+ seq \d: no answer from session \S+ within/);
ok(@tmo == 2 && !grep({ $_ < 1000 } @tmo),
   "tmo: 2 fragments time out, after 1 s (@tmo ms)");
$id = fid('tmo', 1);
ok(scalar $t->log_lines(qr/"tmo\/tmo" breaker open after fragment \Q$id\E/),
   'tmo: the second timeout opens the breaker (threshold 2)');
is(fallbacks('tmo', 'timeout'), 2, 'tmo: 2 fall back as timeout');
is(scalar @{ $sts{tmo}->stats->{fragments} }, 2, 'tmo: nothing sent after');
is($m->{'nginx_dub_breaker_opens_total{stream="tmo/tmo",lang="es"}'}, 1,
   'tmo: breaker_opens_total 1');

# STREAM_NOT_FOUND: stream:init again, on the same connection

my $st = $sts{snf}->stats;
my @inits = @{ $st->{inits} };
is(scalar @inits, 2, 'snf: stream:init twice');
is(scalar(grep { $_->{connection_id} eq $inits[0]{connection_id} } @inits),
   2, 'snf: both on the same connection');
is(scalar @{ $st->{connections} }, 1, 'snf: one connection');
is(scalar $t->log_lines(qr/"snf\/snf" STS session \S+ ready/), 2,
   'snf: the module is ready twice');
ok(!$t->log_lines(qr/"snf\/snf" STS reconnect/), 'snf: no reconnection');
my @after = grep { $_->{received_at} > $inits[1]{at} } @{ $st->{fragments} };
ok(@after >= 2 && !grep({ $_->{answer} ne 'success' } @after),
   'snf: fragments dubbed after it (' . @after . ')');

# every answer is acknowledged: "applied" if used, "received" if not

my %acked = map { $_->{fragment_id} => $_->{status} }
            @{ $sts{ack}->stats->{client_acks} };
my %want = (1 => 'received', 2 => 'received', 3 => 'received');
my $got = join ' ', map { $acked{ fid('ack', $_) } // 'none' } 0 .. 11;
is($got, join(' ', map { $want{$_} // 'applied' } 0 .. 11),
   'ack: applied, received after its slot, received failed, '
   . 'received undecodable, then applied');
ok(scalar $t->log_lines(qr/"ack\/ack" fragment \S+ seq 1: answer after its time/),
   'ack: seq 1 answered late');
is(fallbacks('ack', 'decode'), 1, 'ack: seq 3 undecodable');

# the RTT histogram

my $doc = do { local (@ARGV, $/) = "$DubTest::TOP/docs/metrics.md"; <> };
my ($bounds) = $doc =~ /^\| `nginx_dub_sts_rtt_seconds` \| histogram \| `le` ([\d. ]+) \|/m;
my @doc = split ' ', $bounds // '';
is("@doc", '0.05 0.1 0.25 0.5 1 2 4 8', 'docs: the bounds');

my (undef, $text) = $t->metrics;

for my $a (qw(rtt6 rtt2)) {
    my $l = "stream=\"$a/$a\",lang=\"es\"";
    my @le = $text =~ /^nginx_dub_sts_rtt_seconds_bucket\{\Q$l\E,le="([^"]+)"\}/mg;
    is("@le", "@doc +Inf", "$a: the documented bucket bounds");

    my $n = $m->{"nginx_dub_sts_rtt_seconds_count{$l}"};
    is($n, 6, "$a: 6 answers");
    is($m->{"nginx_dub_sts_rtt_seconds_bucket{$l,le=\"+Inf\"}"}, $n,
       "$a: all in +Inf");
    is($m->{"nginx_dub_sts_rtt_seconds_bucket{$l,le=\"8\"}"}, $n,
       "$a: all under 8 s (the timeout)");
}

my $below = sub {
    my ($a, $le) = @_;
    my $l = "stream=\"$a/$a\",lang=\"es\"";
    return join ' ', map { $m->{"nginx_dub_sts_rtt_seconds_bucket{$l,le=\"$_\"}"} }
                     grep { $_ <= $le } @doc;
};
is($below->('rtt6', 0.5), '0 0 0 0', 'rtt6: 600 ms, none at 0.5 s or under');
is($below->('rtt2', 2), '0 0 0 0 0 0', 'rtt2: 2.1 s, none at 2 s or under');
ok($m->{'nginx_dub_sts_rtt_seconds_sum{stream="rtt2/rtt2",lang="es"}'} >= 6 * 2.1,
   'rtt2: the sum at least 6 x 2.1 s');

done_testing;

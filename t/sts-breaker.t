#!/usr/bin/perl

# The circuit breaker: five retryable failures in a row open it (no
# fragment sent, original audio, stream:pause); after the cooldown one
# probe goes (stream:resume), its success closes it.  Non-retryable
# failures never open it.  The probe is the newest fragment waiting.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(sleep);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 6s;
            dub_breaker_threshold 5;
            dub_breaker_cooldown 10s;
            dub_sts_url %%STS1%%;
        }

        application other {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 6s;
            dub_breaker_threshold 5;
            dub_breaker_cooldown 10s;
            dub_sts_url %%STS2%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts1 = $t->sts('--port', 0, '--mode', 'tone');
my $sts2 = $t->sts('--port', 0, '--mode', 'tone');

# the probe (seq 5) takes 2.5 s: more than the 2 s the oldest fragment
# waiting has before its slot, less than the newest has
$sts1->control(rules => [ { trigger => 'sequence_number',
    value => [0, 1, 2, 3, 4], action => 'error', error_code => 'MODEL_ERROR',
    retryable => JSON::PP::true },
    { trigger => 'sequence_number', value => 5, action => 'delay',
      delay_ms => 2500 } ]);
$sts2->control(rules => [ { trigger => 'sequence_number',
    value => [0, 1, 2, 3, 4, 5, 6, 7], action => 'error',
    error_code => 'INVALID_SEQUENCE', retryable => JSON::PP::false } ]);

$t->set(STS1 => $sts1->url);
$t->set(STS2 => $sts2->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $p1 = $t->publish($looped, 'live/b');
my $p2 = $t->publish($looped, 'other/n');

# the breaker gauge, every 100 ms: its transitions

my @states;
while ($t->running($p1)) {
    my $v = $t->metrics
        ->{'nginx_dub_breaker_state{stream="live/b",lang="es"}'} // 0;
    push @states, $v unless @states && $states[-1] == $v;
    sleep 0.1;
}

my $seq = join ' ', @states;
like($seq, qr/^0 2 (1 )?0$/, "breaker gauge: closed, open, closed ($seq)");

is($t->wait_exit($p1, 60), 0, 'published 36 s');
is($t->wait_exit($p2, 60), 0, 'published 36 s, non-retryable errors');
ok($t->wait_log(qr/"dubbed\/b" output done/, 20)
   && $t->wait_log(qr/"dubbed\/n" output done/, 20), 'outputs drained');

# retryable failures

my @open = $t->log_lines(qr/"live\/b" breaker open after fragment/);
is(scalar @open, 1, 'the breaker opened once');

my @held = $t->log_lines(qr/"live\/b" segment \d+ out with original audio: breaker_open/);
ok(@held >= 1, 'fragments held back while open (' . @held . ')');

my $st = $sts1->stats;
my @f = @{ $st->{fragments} };
my @seq = map { $_->{sequence_number} } @f;
is("@seq[0 .. 5]", "0 1 2 3 4 5", 'the first fragments, then the probe');

my $wait = ($f[5]{received_at} - $f[4]{answered_at}) / 1000;
ok($wait >= 9.9, "nothing sent for the cooldown ($wait s)");

my @names = map { $_->{name} } @{ $st->{events} };
my $order = join ' ', grep { /^stream:(pause|resume)$/ } @names;
is($order, 'stream:pause stream:resume', 'stream:pause, then stream:resume');

ok(scalar $t->log_lines(qr/"live\/b" breaker half-open: fragment \S+ is the probe/),
   'one probe when half-open');

my @after = $t->log_lines(qr/"live\/b" segment \d+ fragment \S+ out with dubbed/);
ok(@after >= 5, 'the probe succeeded and closed it: dubbed again ('
   . @after . ' segments)');
is(scalar @f, 18 - @held, 'every other fragment was sent');

# non-retryable failures

ok(!$t->log_lines(qr/"other\/n" breaker open/), 'non-retryable: never opens');

my $m = $t->metrics;
is($m->{'nginx_dub_breaker_opens_total{stream="live/b",lang="es"}'}, 1,
   'metrics: opened once');
is($m->{'nginx_dub_breaker_opens_total{stream="other/n",lang="es"}'}, 0,
   'metrics: non-retryable, never');
is(scalar @{ $sts2->stats->{fragments} }, 18, 'non-retryable: all 18 sent');
is(scalar $t->log_lines(qr/"other\/n" segment \d+ out with original audio: failed/),
   8, 'non-retryable: 8 fall back as failed');

$t->stop_ok;

done_testing;

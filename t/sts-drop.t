#!/usr/bin/perl

# The STS connection lost mid-stream: the fragments in flight fall back
# as "sts_unavailable" (exactly those the STS had not answered), and
# dubbing resumes on the new connection.  An open breaker stays open
# across the reconnection: nothing is sent on the new connection before
# the cooldown is over, and the first fragment then is the probe.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application drop {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 7s;
            dub_sts_reconnect 1s;
            dub_sts_url %%STS1%%;
        }

        application brk {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_max_inflight 1;
            dub_sts_reconnect 500ms;
            dub_breaker_threshold 2;
            dub_breaker_cooldown 7s;
            dub_sts_url %%STS2%%;
        }

        application dubbed {
            live on;
        }
EOF

# drop: each answer 4.5 s after its fragment, 2 or 3 in flight
my $sts1 = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 4500);

# brk: the first two fragments fail, once: the breaker opens
my $sts2 = $t->sts('--port', 0, '--mode', 'tone');
$sts2->control(rules => [ map { { trigger => 'sequence_number', value => $_,
    action => 'error', error_code => 'GPU_OOM', retryable => JSON::PP::true,
    once => JSON::PP::true } } 0, 1 ]);

$t->set(STS1 => $sts1->url, STS2 => $sts2->url);
$t->run;

my @pub = ($t->publish('short', 'drop/d'), $t->publish('short', 'brk/b'));

# the breaker opens about 4 s in: the connection goes at once

ok($t->wait_log(qr/"brk\/b" breaker open after fragment/, 30),
   'brk: the breaker opened');
$sts2->disconnect;

# two fragments in flight: the connection goes

ok($t->wait_for(sub { $sts1->stats->{inflight} >= 2 }, 30),
   'drop: 2 fragments in flight');
$sts1->disconnect;

is($t->wait_exit($_, 40), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "$_: output drained")
    for qw(d b);

# in flight at the disconnect: sts_unavailable, those and no others

my $st = $sts1->stats;
my @lost = map { $_->{fragment_id} }
           grep { ($_->{answer} // '') eq 'abandoned' } @{ $st->{fragments} };
my $n = $t->lost_in_flight_ok('drop/d', \@lost, 'drop');
is(scalar $t->log_lines(qr/"drop\/d" segment \d+ out with original audio: sts_unavailable/),
   $n, 'drop: their segments go out with the original audio');
is($t->metrics->{'nginx_dub_fallbacks_total{stream="drop/d",lang="es",reason="sts_unavailable"}'},
   $n, 'drop: and are counted so');

my @conns = grep { ($_->{stream_id} // '') eq 'd' } @{ $st->{connections} };
is(scalar @conns, 2, 'drop: a second connection');
my @again = grep { $_->{connection_id} eq $conns[1]{id} } @{ $st->{fragments} };
ok(@again >= 1 && $again[0]{sequence_number} == 0,
   'drop: fragments on it, numbered from 0 (' . @again . ')');
ok(scalar $t->log_lines(qr/"drop\/d" segment \d+ fragment \Q$again[0]{fragment_id}\E out with dubbed/),
   'drop: dubbed again');

# the breaker across the reconnection

$st = $sts2->stats;
my @f = @{ $st->{fragments} };
@conns = grep { ($_->{stream_id} // '') eq 'b' } @{ $st->{connections} };
my ($opened) = map { $_->{answered_at} } grep { $_->{sequence_number} == 1
    && $_->{connection_id} eq $conns[0]{id} } @f;
my @inits = @{ $st->{inits} };

ok(@conns == 2 && @inits == 2 && $inits[1]{at} < $opened + 4500,
   'brk: connected again well within the cooldown ('
   . (($inits[1]{at} // 0) - ($opened // 0)) . ' ms after the opening)');

# The cooldown runs on nginx's clock (monotonic, cached once per pass of
# its event loop), this wait on the STS's (wall clock, from its answer's
# send to the probe's arrival), both in whole milliseconds: they may
# disagree by a millisecond or two, more when a busy machine delays the
# pass that reads the answer.  Without the breaker kept across the
# reconnection a fragment would go when the new session is ready or at
# the next segment cut, 2 s at most after the reconnection, which was
# under 4.5 s after the opening: under 6.5 s, well below this bound.
my ($probe) = grep { $_->{connection_id} eq ($conns[1]{id} // '') } @f;
my $wait = $probe ? $probe->{received_at} - $opened : 0;
ok($wait >= 7000 - 100, "brk: nothing sent on the new connection for the "
   . "cooldown ($wait ms, 7000 on nginx's clock)");
ok($probe && $t->log_lines(qr/"brk\/b" breaker half-open: fragment \Q$probe->{fragment_id}\E is the probe/),
   'brk: the first fragment after it is the probe');

my @lines = $t->log_lines(qr/"brk\/b" /);
my ($ready2) = (grep { $lines[$_] =~ /STS session \S+ ready/ } 0 .. $#lines)[1];
my @held = grep { /out with original audio: breaker_open/ }
           @lines[($ready2 // @lines) .. $#lines];
ok(@held >= 1, 'brk: segments held back after the reconnection ('
   . @held . ')');
is(scalar $t->log_lines(qr/"brk\/b" breaker open after/), 1,
   'brk: the probe succeeds, the breaker does not open again');
ok(scalar $t->log_lines(qr/"brk\/b" segment \d+ fragment \Q$probe->{fragment_id}\E out with dubbed/),
   'brk: and the probe is dubbed');

done_testing;

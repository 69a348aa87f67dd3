#!/usr/bin/perl

# /metrics from the shared zone with two workers: every scrape reports
# the same totals whichever worker answers; "nginx -s reload" in the
# middle of a stream keeps the counters; an error rule on 3 fragments
# gives exactly 3 fallbacks under "failed"; series are bounded by
# max_streams (the rest counted) and go away "retain" after their stream;
# stub_status works beside it; and one fragment's life can be followed in
# the log by its id.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::Local qw(timelocal);
use Time::HiRes qw(time sleep);

# the old worker drains the stream across the reload: 36 s and the delay
my $t = DubTest->new(workers => 2, shutdown_timeout => '120s',
    rtmp_main => 'dub_metrics_zone dub 1m max_streams=2 retain=12s;',
    http => <<'EOF', rtmp => <<'EOF');
        location /metrics {
            dub_metrics;
            add_header X-Worker $pid;
        }

        location /stub_status {
            stub_status;
        }
EOF
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
        }
EOF

# every scrape on a new connection, spread over the workers
$t->set_conf(http_listen => 'reuseport');

my $sts = $t->sts('--port', 0, '--mode', 'tone');
$sts->control(rules => [ { trigger => 'sequence_number', value => [1, 3, 5],
    action => 'error', error_code => 'MODEL_ERROR',
    retryable => JSON::PP::true } ]);
$t->set(STS => $sts->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $pub = $t->publish($looped, 'live/e');

my $l = '{stream="live/e",lang="es"';

ok($t->wait_for(sub { @{ $sts->stats->{fragments} } >= 5 }, 30),
   'five fragments went to the STS');
my $before = $t->metrics;
ok($before->{"nginx_dub_fragments_sent_total$l}"} >= 4,
   'counting before the reload: '
   . $before->{"nginx_dub_fragments_sent_total$l}"} . ' sent');

ok($t->reload, 'reloaded: new workers');

my $after = $t->metrics;
ok($after->{"nginx_dub_fragments_sent_total$l}"}
   >= $before->{"nginx_dub_fragments_sent_total$l}"},
   'counters kept across the reload ('
   . $after->{"nginx_dub_fragments_sent_total$l}"} . ' sent)');
ok($t->wait_log(qr/reconfiguring/, 5), 'nginx did reload');

# two more streams while "live/e" goes on, late enough in it that they
# are still shown (retain) when it ends: max_streams=2

ok($t->wait_log(qr/"live\/e" segment 10 .*cut/, 30), 'live/e 22 s in');
my @more = map { $t->publish('short', "live/x$_") } 1, 2;
is($t->wait_exit($_, 30), 0, 'published') for @more;

is($t->wait_exit($pub, 60), 0, 'published 36 s across the reload');
ok($t->wait_log(qr/"dubbed\/e" output done/, 30), 'output drained');

# twenty scrapes

my (%seen, %bodies);
for (1 .. 20) {
    my ($m, $text, $h) = $t->metrics;
    $seen{$h->{'x-worker'} // '?'}++;
    my $key = join ',', map { "$_=$m->{$_}" } sort
              grep { /\Q$l\E/ && !/inflight|delay|connected|breaker_state|av_sync/ } keys %$m;
    $bodies{$key}++;
}

is(scalar keys %bodies, 1, '20 scrapes, the same totals');
ok(keys %seen >= 2, 'answered by ' . (keys %seen) . ' workers: '
   . join(' ', map { "$_ x$seen{$_}" } sort keys %seen));

my ($m, $text) = $t->metrics;
my ($ok, $why) = $t->promtool_check($text);
ok($ok, 'promtool accepts it') or diag($why);

is($m->{"nginx_dub_fragments_sent_total$l}"}, 18, '18 fragments sent in all');
is($m->{"nginx_dub_fragments_processed_total$l,status=\"failed\"}"}, 3,
   '3 answered failed');
is($m->{"nginx_dub_fragments_processed_total$l,status=\"success\"}"}, 15,
   '15 answered success');
is($m->{"nginx_dub_fallbacks_total$l,reason=\"failed\"}"}, 3,
   'exactly 3 fallbacks, reason "failed"');
my $other = 0;
$other += $m->{$_} for grep { /^nginx_dub_fallbacks_total\Q$l\E/ && !/failed/ }
                       keys %$m;
is($other, 0, 'no fallback for any other reason');
is($m->{"nginx_dub_segments_dubbed_total$l}"}, 15, '15 segments dubbed');

# the bound

is($m->{'nginx_dub_streams_untracked_total{zone="dub"}'}, 1,
   'a third stream past max_streams=2 is counted, not shown');
my @streams = grep { /^nginx_dub_fragments_sent_total\{/ } keys %$m;
is(scalar @streams, 2, 'two streams shown');
ok(scalar $t->log_lines(qr/\[warn\].*has no metrics: all 2 slots of "dub_metrics_zone" are taken/),
   'and a warning says so');

# retain: gone 12 s after their end

# (the time of its end from the log: on a busy machine the test may get
# here late)
my ($shown) = map { /stream="live\/(x\d)"/ ? $1 : () } @streams;
ok($shown && $t->wait_log(qr/"dubbed\/$shown" output done/, 30),
   'the shown one drained');
my ($done) = $t->log_lines(qr/"dubbed\/$shown" output done/);
my @at = ($done // '') =~ m{^(\d+)/(\d+)/(\d+) (\d+):(\d+):(\d+)};
my $drained = @at ? timelocal($at[5], $at[4], $at[3], $at[2], $at[1] - 1,
                              $at[0]) : time;
ok($t->wait_for(sub { !grep { /stream="live\// } keys %{ $t->metrics } }, 30),
   'series gone after retain');
ok(time - $drained >= 11, 'not before retain (' . int(time - $drained)
   . ' s after its end)');
$m = $t->metrics;
is($m->{'nginx_dub_metrics_zone_streams{zone="dub",state="ended"}'}, 0,
   'zone: no stream shown');

# stub_status beside it

my ($status, $body) = $t->http_get('/stub_status');
like($body, qr/^Active connections: \d+/m, 'stub_status answers');
like($body, qr/Reading: \d+ Writing: \d+ Waiting: \d+/, 'with its counters');

# one fragment's life, by its id

my ($f) = grep { $_->{sequence_number} == 8 } @{ $sts->stats->{fragments} };
my $id = $f->{fragment_id};
my @life = $t->log_lines(qr/\Q$id\E/);
my $life = join "\n", @life;
like($life, qr/segment \d+ fragment \Q$id\E cut/, "$id: cut");
like($life, qr/fragment \Q$id\E seq \d+ sent to session/, "$id: sent");
like($life, qr/fragment \Q$id\E acked: queued/, "$id: acked");
like($life, qr/fragment \Q$id\E seq \d+ processed by session/,
     "$id: processed");
like($life, qr/fragment \Q$id\E seq \d+ decoded/, "$id: decoded");
like($life, qr/fragment \Q$id\E seq \d+: "applied"/,
     "$id: applied");
like($life, qr/fragment \Q$id\E out with dubbed audio/, "$id: out");

($f) = grep { $_->{sequence_number} == 3 } @{ $sts->stats->{fragments} };
$id = $f->{fragment_id};
like(join("\n", $t->log_lines(qr/\Q$id\E/)),
     qr/fragment \Q$id\E falls back to its original audio: failed/,
     "$id: why it fell back");

$t->stop_ok;

done_testing;

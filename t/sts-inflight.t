#!/usr/bin/perl

# Fragments in flight: never more than the limit (the echo STS records
# its own maximum), the server's lower limit wins, a timed-out fragment
# frees its place, and fragment ids match across fragment:data,
# fragment:ack and fragment:processed.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(sleep);

my $common = <<'EOF';
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
EOF

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<"EOF");
        application slow {
$common
            dub_delay 12s;
            dub_sts_timeout 10s;
            dub_sts_max_inflight 2;
            dub_breaker_threshold 100;
            dub_sts_url %%STS1%%;
        }

        application server {
$common
            dub_delay 12s;
            dub_sts_timeout 10s;
            dub_sts_max_inflight 3;
            dub_sts_url %%STS2%%;
        }

        application drop {
$common
            dub_delay 8s;
            dub_sts_timeout 3s;
            dub_sts_max_inflight 1;
            dub_sts_url %%STS3%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts1 = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 6000);
my $sts2 = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 5000,
                   '--max-inflight', 1);
my $sts3 = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 200);
$sts3->control(rules => [ { trigger => 'sequence_number', value => 0,
                            action => 'drop' } ]);

$t->set(STS1 => $sts1->url);
$t->set(STS2 => $sts2->url);
$t->set(STS3 => $sts3->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my @pub = map { $t->publish($looped, $_) } qw(slow/a server/b drop/c);

# the in-flight gauge, every 100 ms while the streams run

my (%max, $samples);
while (grep { $t->running($_) } @pub) {
    my $m = $t->metrics;
    for my $s ('slow/a', 'server/b') {
        my $v = $m->{"nginx_dub_fragments_inflight{stream=\"$s\",lang=\"es\"}"}
                // 0;
        $max{$s} = $v if $v > ($max{$s} // 0);
    }
    $samples++;
    sleep 0.1;
}

is($t->wait_exit($_, 60), 0, 'published') for @pub;

ok($samples > 50, "in flight sampled $samples times");
is($max{'slow/a'}, 2, 'sampled in flight: at most the limit 2, and reached');
is($max{'server/b'}, 1, 'sampled in flight: at most the server\'s 1');
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "output $_ drained")
    for qw(a b c);

# the limit

my $st = $sts1->stats;
is($st->{max_inflight_seen}, 2, 'in flight reached the limit of 2, never more');
ok(scalar $t->log_lines(qr/"(slow\/a|server\/b)" segment \d+ out with original audio: inflight_full/),
   'fragments waiting for a place fall back when their time comes');
ok(scalar $t->log_lines(qr/"slow\/a" segment \d+ fragment \S+ out with dubbed/),
   'the others are dubbed');

# the server's lower limit

ok(scalar $t->log_lines(qr/"server\/b" STS session \S+ ready, max in flight 1/),
   'the server confirms 1');
is($sts2->stats->{max_inflight_seen}, 1, 'and the module keeps to it');

# a timed-out fragment frees its place

my @f = @{ $sts3->stats->{fragments} };
ok(scalar $t->log_lines(qr/"drop\/c" fragment \S+ seq 0: no answer from session \S+ within [345]\d\d\dms/),
   'the unanswered fragment times out after 3 s');
my $wait = ($f[1]{received_at} - $f[0]{received_at}) / 1000;
# not before the timeout; soon after it (at once when idle)
ok($wait >= 2.9 && $wait < 6, "the next one goes when it does ($wait s)");
is(scalar $t->log_lines(qr/"drop\/c" segment 0 out with original audio: timeout/),
   1, 'and it falls back as timeout');

# fragment ids across data, ack and processed

my %acked = map { $_->{fragment_id} => $_->{status} }
            @{ $sts3->stats->{client_acks} };
my $bad = 0;
my $n = 0;
for my $r (@f[1 .. $#f]) {
    my $id = $r->{fragment_id};
    my $seq = $r->{sequence_number};
    $n++;
    $bad++ unless $t->log_lines(qr/fragment \Q$id\E seq $seq sent/)
        && $t->log_lines(qr/fragment \Q$id\E seq $seq processed/)
        && $t->log_lines(qr/segment \d+ fragment \Q$id\E out with dubbed/)
        && ($acked{$id} // '') eq 'applied';
}
ok($n >= 5 && !$bad, "$n fragments: one id from data to ack to output");

$t->stop_ok;

done_testing;

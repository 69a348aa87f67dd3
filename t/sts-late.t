#!/usr/bin/perl

# Answers that come too late: after the fragment's timeout, after its
# output slot (the timeout being longer than the slot), and after its
# whole segment went out (t/sanitizer-late.t runs this under ASAN: the
# fragment is freed when it lands, after it was acknowledged).  Each is counted
# (nginx_dub_late_answers_total) and dropped: its segment has gone out
# with the original audio (reason "timeout": the deadline is the earlier
# of the two), and the output is the input, intact.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $common = <<'EOF';
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_max_inflight 8;
            dub_breaker_threshold 100;
EOF

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<"EOF");
        application timeout {
$common
            dub_sts_timeout 1s;
            dub_sts_url %%STS%%;
        }

        application slot {
$common
            dub_sts_timeout 10s;
            dub_sts_url %%STS%%;
        }

        application gone {
$common
            dub_sts_timeout 10s;
            dub_sts_url %%SLOW%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

# every answer 3.5 s after its fragment: after a 1 s timeout, and after
# the slot, which comes about 2 s after the cut

my $sts = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 3500);
$t->set(STS => $sts->url);

# 7 s: after the segment's 2 s went out from its slot, within the timeout
my $slow = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 7000);
$t->set(SLOW => $slow->url);
$t->run;

my %out;
my @play;

for my $s (qw(t s g)) {
    $out{$s} = $t->dir . "/$s.flv";
    push @play, $t->play("dubbed/$s", $out{$s});
}

ok(!grep({ !$t->wait_player($_, 30) } qw(t s g)), 'players wait');

my @pub = ($t->publish('short', 'timeout/t'), $t->publish('short', 'slot/s'),
           $t->publish('short', 'gone/g'));

is($t->wait_exit($_, 40), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "output $_ done")
    for qw(t s g);
ok($t->wait_log(qr/"$_" done: 6 sent/, 30), "$_: 6 fragments sent")
    for 'timeout/t', 'slot/s', 'gone/g';
is($t->wait_exit($_, 20), 0, 'player done') for @play;

my $m = $t->metrics;

for my $s ('timeout/t', 'slot/s', 'gone/g') {
    my $l = "{stream=\"$s\",lang=\"es\"";

    # the answers to the first ones come while the stream is still on;
    # later ones may find the session already ended (stream:end), the
    # more so the slower the machine

    my $late = () = $t->log_lines(
        qr/"$s" fragment \S+ seq \d+: answer after its time, dropped/);

    ok($late >= 2, "$s: $late answers after their time, dropped");
    is($m->{"nginx_dub_late_answers_total$l}"}, $late,
       "$s: nginx_dub_late_answers_total counts them");
    is($m->{"nginx_dub_fallbacks_total$l,reason=\"timeout\"}"}, 6,
       "$s: 6 fallbacks, reason \"timeout\"");
    is(scalar $t->log_lines(qr/"$s" segment \d+ fragment \S+ out with dubbed/),
       0, "$s: no dubbed segment");
    is($m->{"nginx_dub_fragments_inflight$l}"}, 0, "$s: none left in flight");
}

ok(scalar $t->log_lines(qr/"timeout\/t" fragment \S+ seq \d+: no answer from session \S+ within 1000ms/),
   'timeout/t: the fragments timed out after 1 s');
ok(scalar $t->log_lines(qr/"slot\/s" fragment \S+ seq \d+: no answer from session \S+ by its output time/),
   'slot/s: the fragments reached their slot unanswered');

for my $s (qw(t s g)) {
    DubTest::is_same_media(DubTest::fixture('short'), $out{$s}, "output $s");
}

$t->stop_ok;

done_testing;

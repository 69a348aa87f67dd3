#!/usr/bin/perl

# Under the ASAN/UBSAN build, whose test hook makes every dubbing task sleep
# in its thread: the fragments' slots pass first (they fall back to the
# original audio), then the stream ends and its bridge is freed, and only
# after that do the tasks finish.  Their results must be dropped without
# touching the freed fragment or stream: no sanitizer report, no alert,
# and the worker goes on serving a new stream.  That one keeps the
# original under the dub: its tasks read the segments' original frames
# after their fragments, segments and stream are gone.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

use Test::More;

# each task sleeps longer than its stream lives after its fragment: the
# last fragment is answered about 12 s in, the stream is freed about 6 s
# later (dub_delay), its task comes back 10 s after the answer
my $delay_ms = 10000;

$ENV{NGX_RTMP_DUB_TEST_TASK_DELAY_MS} = $delay_ms;

my $t = DubTest->new(
    main => "thread_pool dub threads=12;\n"
            . "env NGX_RTMP_DUB_TEST_TASK_DELAY_MS;",
    rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_url %%STS%%;
        }

        application mix {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_url %%STS%%;
            dub_original_volume -18dB;
        }

        application dubbed {
            live on;
        }
EOF

# WAV: made without ffmpeg, so the STS answers at once however busy
my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tone-format', 'wav');
$t->set(STS => $sts->url);
$t->run;

my $pub = $t->publish('short', 'live/slow');
is($t->wait_exit($pub, 40), 0, 'published');

ok($t->wait_log(qr/"dubbed\/slow" output done/, 30), 'output done');

# the order in the log: the stream freed first, then a task came back

my ($done, $after);

for (1 .. ($delay_ms / 1000 + 10) * 10) {
    my @lines = split /\n/, $t->error_log;
    ($done) = grep { $lines[$_] =~ /"dubbed\/slow" output done/ }
              0 .. $#lines;
    ($after) = grep { $lines[$_] =~ /thread task finished after/
                      && $_ > $done } 0 .. $#lines;
    last if defined $after;
    select undef, undef, undef, 0.1;
}

ok(defined $after, 'a task came back after the stream was freed');

is(scalar $t->log_lines(qr/fragment \S+ seq \d+ decoded/), 0,
   'no late result was applied');

my $m = $t->metrics;
my $l = '{stream="live/slow",lang="es"';

is($m->{"nginx_dub_fragments_processed_total$l,status=\"success\"}"}, 6,
   'the STS answered all 6 fragments');
is($m->{"nginx_dub_fallbacks_total$l,reason=\"late\"}"}, 6,
   'all 6 fell back, reason "late"');

# the worker goes on serving

my $pub2 = $t->publish('short', 'mix/after');
ok($t->wait_log(qr/"mix\/after" .*segment/, 20), 'a new stream is cut');
is($t->wait_exit($pub2, 40), 0, 'published again');
ok($t->wait_log(qr/"dubbed\/after" output done/, 30), 'its output done');

# a fast stop gives the worker a second: let the sleeping tasks end first

for (1 .. ($delay_ms / 1000 + 10) * 10) {
    last if $t->log_lines(qr/thread task finished after/) >= 12;
    select undef, undef, undef, 0.1;
}

$t->stop_ok('no sanitizer report, no alert');

done_testing;

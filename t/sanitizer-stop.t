#!/usr/bin/perl

# Under the ASAN/UBSAN build: nginx stopped in the middle of dubbing (STS
# sessions open, thread-pool tasks in flight, outputs draining), and a
# reload in the middle of a stream, leave no memory error and no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

use Test::More;

my $conf = <<'EOF';
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
        }
EOF

for my $how ('stop', 'reload') {
    my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
        http => 'location /metrics { dub_metrics; }',
        rtmp => $conf);

    my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tone-format', 'm4a',
                      '--latency-min-ms', 0, '--latency-max-ms', 1500);
    $t->set(STS => $sts->url);
    $t->run;

    my @pub = map { $t->publish('short', "live/$how$_") } 1 .. 3;

    ok($t->wait_log(qr/"live\/${how}3" fragment \S+ seq 2 sent/, 40),
       "$how: dubbing under way");

    if ($how eq 'reload') {
        ok($t->reload, "$how: new workers");
        is($t->wait_exit($_, 30), 0, "$how: published across it") for @pub;
        ok($t->wait_log(qr/"dubbed\/${how}3" output done/, 20),
           "$how: old worker drained");
        ok($t->wait_log(qr/worker process \d+ exited with code 0/, 20),
           "$how: old worker exited");
        $t->metrics;

    }

    $t->stop_ok("$how: no sanitizer report, no alert");
}

done_testing;

#!/usr/bin/perl

# Under the ASAN/UBSAN build, whose test hook makes every dubbing task
# sleep in its thread, with a pool of one thread: the first segment's
# task holds the thread for 14 s, the tasks queued behind it (packing the
# next segments, dubbing them) see their segments go out first.  Those
# are not worked on when the thread gets to them: the pool catches up
# with what can still make its slot.  Nothing is applied late, no
# sanitizer report, and the worker goes on.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

use Test::More;

$ENV{NGX_RTMP_DUB_TEST_TASK_DELAY_MS} = 14000;

my $t = DubTest->new(
    main => "thread_pool dub threads=1;\n"
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

        application dubbed {
            live on;
        }
EOF

# WAV: made without ffmpeg, so the STS answers at once however busy
my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tone-format', 'wav');
$t->set(STS => $sts->url);
$t->run;

my $pub = $t->publish('short', 'live/skip');
is($t->wait_exit($pub, 40), 0, 'published');
ok($t->wait_log(qr/"dubbed\/skip" output done/, 40), 'output done');

# the first task comes back 14 s after it started; those behind it were
# abandoned by then and are skipped when the thread gets to them

ok($t->wait_for(sub { $t->log_lines(qr/thread task skipped/) >= 2 }, 40),
   'tasks abandoned in the queue are skipped, not worked on')
    or diag($t->error_log);

is(scalar $t->log_lines(qr/fragment \S+ seq \d+ decoded/), 0,
   'no late result was applied');

my $m = $t->metrics;
my $l = '{stream="live/skip",lang="es"}';
is($m->{"nginx_dub_segments_dubbed_total$l"}, 0, 'no segment dubbed');
my $fb = 0;
$fb += $m->{$_} for grep { /^nginx_dub_fallbacks_total\{stream="live\/skip"/ }
                    keys %$m;
is($fb, 6, 'all 6 segments fell back to the original');

# the worker goes on serving

my $pub2 = $t->publish('short', 'live/after');
is($t->wait_exit($pub2, 40), 0, 'published again');
ok($t->wait_log(qr/"dubbed\/after" output done/, 40), 'its output done');

$t->stop_ok('no sanitizer report, no alert');

done_testing;

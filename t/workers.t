#!/usr/bin/perl

# Several workers: a dubbed stream lives in the worker that took its
# publisher, so an RTMP player on another worker gets nothing.  nginx -t
# and the start warn about it when "dub on" meets "worker_processes" over
# 1 ("auto" on a machine of several cores), at [warn], which the log
# check takes; with one worker, or without "dub on", not a word.  What
# the warning advises works: the origin's output application pushes to a
# one-worker edge, whichever worker took the publisher.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $dubbing = <<'EOF';
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
            push rtmp://127.0.0.1:%%EDGE%%/dubbed;
        }
EOF

my $t = DubTest->new(workers => 2, rtmp => $dubbing);
my $edge = DubTest->new(rtmp => <<'EOF');
        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--mode', 'tone', '--tone-hz', 1000, '--latency-ms', 200);
$t->set(STS => $sts->url('/sts'), EDGE => $edge->rtmp_port);

my $warning = qr/\[warn\] .*dub: "worker_processes" is (\d+) \("auto" counts the cores\): each dubbed stream is in the one worker that took its publisher, and an RTMP player that lands on another worker gets nothing/;

my ($rc, $out) = $t->test_conf;
ok($rc == 0 && $out =~ $warning && $1 == 2,
   'nginx -t, 2 workers: the warning') or diag($out);
like($out, qr/"worker_processes 1;" for the nginx that serves RTMP, or "push" the output application to an nginx with one worker/,
     'it says what to do');

$t->set_conf(workers => 1);
($rc, $out) = $t->test_conf;
ok($rc == 0 && $out !~ /worker_processes/, 'nginx -t, 1 worker: no warning')
    or diag($out);

my ($ncpu) = `getconf _NPROCESSORS_ONLN` =~ /(\d+)/;
$t->set_conf(workers => 'auto');
($rc, $out) = $t->test_conf;
if ($ncpu > 1) {
    ok($rc == 0 && $out =~ $warning, "nginx -t, auto on $ncpu cores: the warning")
        or diag($out);
} else {
    ok($rc == 0 && $out !~ /worker_processes/, 'nginx -t, auto on 1 core: none')
        or diag($out);
}

$t->set_conf(workers => 2, rtmp => $dubbing =~ s/dub on;/dub off;/r);
($rc, $out) = $t->test_conf;
ok($rc == 0 && $out !~ /worker_processes/, 'nginx -t, 2 workers, no dub on: no warning')
    or diag($out);

# at start too, in the error log; and the push to a one-worker edge

$t->set_conf(rtmp => $dubbing);
$edge->run;
$t->run;
ok(scalar $t->log_lines($warning), 'the warning in the error log at start');

my $file = $edge->dir . '/edge.flv';
my $player = $edge->play('dubbed/w', $file);
ok($edge->wait_player('w', 30), 'edge player waits');

my $pub = $t->publish('short', 'live/w');
is($t->wait_exit($pub, 60), 0, 'published');
ok($t->wait_log(qr/"dubbed\/w" output done/, 40), 'output done');
is($edge->wait_exit($player, 20), 0, 'edge player ended');

my $w = DubTest::audio_probe(DubTest::pcm($file, 16000), 'tone', 16000, 1000,
                             1000);
my @weak = grep { $_->[1] < 0.5 } @$w;
ok(@$w >= 9 && !@weak, 'the edge player gets the dubbed audio ('
   . @$w . ' s with the tone)')
    or diag(join ' ', map { "$_->[0]:$_->[1]" } @weak);

my ($worker) = map { /\[info\] (\d+)#\d+: .*dub: "live\/w" publishing/ ? $1 : () }
               $t->error_log =~ /^.*$/mg;
ok($worker, "dubbed in worker $worker of " . join(' ', $t->workers));

done_testing;

#!/usr/bin/perl

# Soak run, on demand ("make soak"): N streams dubbed for M minutes (the
# 60 s fixture looped), the echo STS answering with latency between 0 and
# 1 s and failing one fragment in ten.  Every 30 s it prints the nginx
# worker's resident size, its CPU time, and the totals of /metrics, so
# that memory growth over time (a leak) or a drift in the counters shows.
#
#   scripts/soak.pl [STREAMS [MINUTES]]      default: 4 streams, 10 minutes

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use DubTest;
use Time::HiRes qw(time sleep);

my $n = shift // 4;
my $minutes = shift // 10;

my $t = DubTest->new(
    rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'echo', '--latency-min-ms', 0,
                  '--latency-max-ms', 1000);
$sts->control(rules => [ { trigger => 'nth_fragment', value => 10,
                           action => 'error', error_code => 'MODEL_ERROR',
                           retryable => JSON::PP::true } ]);
$t->set(STS => $sts->url);
$t->run;

my ($worker) = $t->workers;

my $loops = int($minutes) + 1;
my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop $loops -i "
       . DubTest::fixture('main') . " -c copy -f flv $looped") == 0 or die;

my @play = map { $t->play("dubbed/s$_", '/dev/null') } 1 .. $n;
my @pub = map { $t->publish($looped, "live/s$_") } 1 .. $n;

my $t0 = time;
my $end = $t0 + $minutes * 60;

printf "%6s %8s %8s %8s %8s %8s %8s %8s\n", 'time s', 'RSS MiB', 'CPU s',
    'sent', 'success', 'failed', 'fallbck', 'inflight';

while (time < $end && grep { $t->running($_) } @pub) {
    sleep 30;
    my ($cpu, $rss) = DubTest::proc_usage($worker);
    $rss /= 1024;
    my $m = $t->metrics;
    my %sum;
    for my $k (keys %$m) {
        my ($f) = $k =~ /^(nginx_dub_[a-z_]+?)(?:_total)?\{/ or next;
        my $what = $f =~ /processed/ && $k =~ /status="(\w+)"/ ? "$f.$1" : $f;
        $sum{$what} += $m->{$k};
    }
    printf "%6d %8.1f %8.1f %8d %8d %8d %8d %8d\n", time - $t0, $rss, $cpu,
        $sum{nginx_dub_fragments_sent} // 0,
        $sum{'nginx_dub_fragments_processed.success'} // 0,
        $sum{'nginx_dub_fragments_processed.failed'} // 0,
        $sum{nginx_dub_fallbacks} // 0,
        $sum{nginx_dub_fragments_inflight} // 0;
}

kill 'KILL', @pub, @play;
waitpid($_, 0) for @pub, @play;
my @problems = $t->stop;
print @problems ? "problems: @problems\n" : "no alert, crit or crash\n";

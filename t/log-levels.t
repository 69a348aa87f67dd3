#!/usr/bin/perl

# What the module writes at nginx's levels: a healthy stream, dubbed
# segment after segment, writes a handful of lines at info (its start and
# end, its STS session ready and ended), none per segment; the same
# stream with "dub_error_log ... debug" writes each segment's and
# fragment's life there, and only there (not nginx-rtmp's lines for each
# packet of the output).  A run of segments with their
# original audio is two lines: where it starts and why, where it ends.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(dub_log_level => 'info',
    rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url %%STS%%;
        }

        application traced {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url %%STS%%;
            dub_error_log %%TESTDIR%%/logs/traced.log debug;
        }

        application broken {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url %%FAILING%%;
            dub_breaker_threshold 100;
        }

        application dubbed {
            live on;
        }
EOF

my $sts = $t->sts('--mode', 'tone', '--tone-format', 'wav');

# an STS that fails fragments 2, 3 and 4: a run of three
my $failing = $t->sts('--mode', 'tone', '--tone-format', 'wav');
$failing->control(rules => [ { trigger => 'sequence_number',
    value => [2, 3, 4], action => 'error', error_code => 'MODEL_ERROR',
    retryable => JSON::PP::true } ]);

$t->set(STS => $sts->url, FAILING => $failing->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my @pub = ($t->publish($looped, 'live/h'), $t->publish($looped, 'traced/d'),
           $t->publish('short', 'broken/b'));
is($t->wait_exit($_, 90), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 40), "output $_ done")
    for qw(h b);
ok($t->wait_for(sub { $t->read_file('logs/traced.log')
                      =~ /"dubbed\/d" output done/ }, 40), 'output d done');
ok($t->wait_log(qr/"live\/h" done: \d+ sent/, 30), 'session h over');

my $m = $t->metrics;
my $dubbed = $m->{'nginx_dub_segments_dubbed_total{stream="live/h",lang="es"}'};
is($dubbed, 18, '36 s, 18 segments dubbed');

# info: the stream's lines, none per segment

my @h = $t->log_lines(qr/dub: "(live|dubbed)\/h"/);
ok(@h <= 12, scalar(@h) . ' lines at info for 18 segments dubbed')
    or diag(join "\n", @h);
ok(!grep({ /\[debug\]/ || /segment \d+|fragment / } @h),
   'none of them about one segment or fragment');
like(join("\n", @h),
     qr/publishing.*\n(.*\n)*.*STS session \S+ ready(.*\n)*.*output done/,
     'its start, its session, its end');

# debug, in the application's own log: every segment's life

my $traced = $t->read_file('logs/traced.log');
my $cut = () = $traced
    =~ /\[debug\].*"traced\/d" segment \d+ fragment \S+ cut/g;
my $sent = () = $traced =~ /\[debug\].*"traced\/d" fragment \S+ seq \d+ sent/g;
my $out = () = $traced
    =~ /\[debug\].*"traced\/d" segment \d+ fragment \S+ out with dubbed/g;
is("$cut $sent $out", '18 18 18', 'debug: each segment cut, sent and out');
is(scalar $t->log_lines(qr/"traced\/d" (segment|fragment) /), 0,
   'and none of it in the main error log');

# nginx-rtmp relays the output through a session of the module's, and
# writes debug lines for every packet it relays (several hundred a second):
# not in the module's debug log
my $relayed = () = $traced
    =~ /\[debug\].*(live: (audio|video) packet|RTMP (prep|recv) (audio|video))/g;
is($relayed, 0, "debug: no line of nginx-rtmp's for each packet relayed");

# a run of fallbacks: two lines

my @b = $t->log_lines(qr/"broken\/b" (segment \d+ and on|dubbed again)/);
is(scalar @b, 2, 'a run of fallbacks: two lines') or diag(join "\n", @b);
like($b[0] // '', qr/\[warn\].*segment 2 and on: original audio, failed/,
     'where it starts, and why');
like($b[1] // '', qr/dubbed again after 3 segments with original audio (?#
     )from segment 2 \(failed 3\)/, 'where it ends, and how many for what');

done_testing;

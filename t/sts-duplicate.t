#!/usr/bin/perl

# An STS that answers some fragments twice: the first answer is used, the
# second is logged as a duplicate (not as an answer after its time) and
# counted in nginx_dub_duplicate_answers_total, not in the late answers.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
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

my $sts = $t->sts('--port', 0, '--mode', 'tone');
$sts->control(rules => [ map { { trigger => 'sequence_number', value => $_,
                                 action => 'duplicate' } } 1, 3 ]);
$t->set(STS => $sts->url);
$t->run;

my $pub = $t->publish('short', 'live/d');
is($t->wait_exit($pub, 30), 0, 'published');
ok($t->wait_log(qr/"dubbed\/d" output done/, 30), 'output done');

my @dup = map { /seq (\d+): duplicate answer/ ? $1 : () }
          $t->log_lines(qr/\[warn\].*"live\/d" fragment \S+ seq \d+: duplicate answer from session \S+, dropped/);
is(join(',', sort @dup), '1,3', 'fragments 1 and 3: duplicate answers');
is(scalar $t->log_lines(qr/answer after its time/), 0,
   'no "answer after its time"');

my $answers = grep { $_->{name} eq 'fragment:processed' }
              @{ $sts->stats->{sent} };
is($answers, 8, 'the STS sent 8 answers for 6 fragments');

is(scalar $t->log_lines(qr/"live\/d" segment \d+ fragment \S+ out with dubbed/),
   6, 'all 6 segments dubbed, from the first answers');

my $m = $t->metrics;
my $l = '{stream="live/d",lang="es"}';
is($m->{"nginx_dub_duplicate_answers_total$l"}, 2,
   'nginx_dub_duplicate_answers_total 2');
is($m->{"nginx_dub_late_answers_total$l"}, 0, 'no late answer counted');

$t->stop_ok;

done_testing;

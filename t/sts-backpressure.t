#!/usr/bin/perl

# Backpressure from the STS: "pause" stops the sends until "none";
# "slow_down" spaces them by at least recommended_delay_ms.  Fragments that
# cannot be sent in time carry their original audio.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_timeout 2s;
            dub_sts_url %%STS1%%;
        }

        application slow {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_timeout 2s;
            dub_sts_url %%STS2%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts1 = $t->sts('--port', 0, '--mode', 'tone');
my $sts2 = $t->sts('--port', 0, '--mode', 'tone');

$sts2->control(rules => [ { trigger => 'sequence_number', value => 0,
    action => 'backpressure', bp_action => 'slow_down',
    recommended_delay_ms => 3000 } ]);

$t->set(STS1 => $sts1->url);
$t->set(STS2 => $sts2->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $p1 = $t->publish($looped, 'live/p');
my $p2 = $t->publish($looped, 'slow/s');

# a pause of 10 s once four fragments came
ok($t->wait_for(sub { @{ $sts1->stats->{fragments} } >= 4 }, 30),
   'four fragments before the pause');
my $paused = time * 1000;
$sts1->backpressure(action => 'pause', severity => 'high');

sleep 0.1 while time * 1000 < $paused + 10000;
my $resumed = time * 1000;
$sts1->backpressure(action => 'none', severity => 'low');

is($t->wait_exit($p1, 60), 0, 'published');
is($t->wait_exit($p2, 60), 0, 'published, slowed down');
ok($t->wait_log(qr/"dubbed\/p" output done/, 20)
   && $t->wait_log(qr/"dubbed\/s" output done/, 20), 'outputs drained');

# pause ... none

# the pause reaches nginx after a few ms (up to a second on a busy
# machine): a fragment cut meanwhile may still go
my @at = map { $_->{received_at} } @{ $sts1->stats->{fragments} };
my @during = grep { $_ > $paused + 1000 && $_ < $resumed } @at;
my @before = grep { $_ <= $paused } @at;
my @after = grep { $_ >= $resumed } @at;

is(scalar @during, 0, 'no fragment sent during the pause');
ok(@before >= 3, 'fragments before the pause (' . @before . ')');
ok(@after >= 3, 'and after "none" (' . @after . ')');
# at once: the fragment waiting goes, not the next one cut (2 s later)
ok(@after && $after[0] - $resumed < 1500, 'sending resumed at once ('
   . (@after ? $after[0] - $resumed : '-') . ' ms)');
ok(scalar $t->log_lines(qr/"live\/p" segment \d+ out with original audio: backpressure/),
   'segments held by the pause carry their original audio');
ok(scalar $t->log_lines(qr/"live\/p" backpressure from session \S+: pause/),
   'pause logged');

# slow_down

@at = map { $_->{received_at} } @{ $sts2->stats->{fragments} };
my @gaps = map { $at[$_] - $at[$_ - 1] } 2 .. $#at;
# measured where they arrive: a few ms of jitter when idle, a few hundred
# when busy; without the spacing they would be 2 s apart
my @short = grep { $_ < 2500 } @gaps;
ok(@at >= 5 && !@short, 'slow_down: sends at least 3 s apart ('
   . join(' ', @gaps) . ')');
ok(scalar $t->log_lines(qr/"slow\/s" segment \d+ out with original audio: backpressure/),
   'slow_down: what could not wait carries its original audio');

# what /metrics counted: one event per message of the STS

my $m = $t->metrics;
my $p = '{stream="live/p",lang="es"';
my $sl = '{stream="slow/s",lang="es"';
is($m->{"nginx_dub_backpressure_events_total$p,action=\"pause\"}"}, 1,
   'metrics: one pause');
is($m->{"nginx_dub_backpressure_events_total$p,action=\"none\"}"}, 1,
   'metrics: one none');
is($m->{"nginx_dub_backpressure_events_total$sl,action=\"slow_down\"}"}, 1,
   'metrics: one slow_down');
ok($m->{"nginx_dub_fallbacks_total$p,reason=\"backpressure\"}"} >= 1,
   'metrics: fallbacks for backpressure');

$t->stop_ok;

done_testing;

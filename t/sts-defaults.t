#!/usr/bin/perl

# The defaults apply without their directives: an STS that never says
# stream:ready is given up after dub_sts_init_timeout's 10 s, and tried
# again on dub_sts_reconnect's schedule (2 s, then 4 s); an open breaker
# stays open for dub_breaker_cooldown's 30 s.  Lower bounds are exact,
# upper ones leave room for a busy machine.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::Local qw(timelocal);

my $t = DubTest->new(rtmp => <<'EOF');
        application noready {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS1%%;
        }

        application cool {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_breaker_threshold 1;
            dub_sts_url %%STS2%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts1 = $t->sts('--port', 0, '--mode', 'tone', '--no-ready');

# the first fragment fails: the breaker opens (threshold 1); every
# answer takes 1.5 s, the probe must have that much time left
my $sts2 = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 1500);
$sts2->control(rules => [ { trigger => 'sequence_number', value => 0,
    action => 'error', error_code => 'MODEL_ERROR',
    retryable => JSON::PP::true, once => JSON::PP::true } ]);

$t->set(STS1 => $sts1->url, STS2 => $sts2->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my @pub = ($t->publish($looped, 'noready/n'), $t->publish($looped, 'cool/c'));

is($t->wait_exit($_, 60), 0, 'published 36 s') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "$_: output drained")
    for qw(n c);

# the log's time of a line, in seconds: "2024/01/31 12:00:00 [info] ..."

sub at {
    my ($line) = @_;
    my ($y, $mo, $d, $h, $mi, $s) =
        ($line // '') =~ m{^(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) }
        or return undef;
    return timelocal($s, $mi, $h, $d, $mo - 1, $y);
}

# init timeout: from "connecting" to giving up, twice; the log has whole
# seconds, and 10 s or more between two instants is 10 s or more between
# their whole seconds

my @lines = $t->log_lines(qr/"noready\/n" (connecting to STS|no stream:ready|STS reconnect attempt)/);
my @try = map { [ $lines[$_], $lines[$_ + 1], $lines[$_ + 2] ] }
          grep { $lines[$_] =~ /connecting to STS/ } 0 .. $#lines;

ok(@try >= 2, 'noready: two attempts or more (' . @try . ')');

for my $i (0, 1) {
    my ($c, $gave_up, $again) = @{ $try[$i] // [] };
    my $s = (at($gave_up) // 0) - (at($c) // 0);
    like($gave_up // '', qr/no stream:ready from STS "[^"]+" within 10000ms/,
         'noready: attempt ' . ($i + 1) . ' given up after 10000 ms');
    ok($s >= 10 && $s <= 15, 'noready: attempt ' . ($i + 1)
       . " given up $s s after it started");
    like($again // '', qr/STS reconnect attempt ${\($i + 1)} in ${\(2000 * ($i + 1))}ms/,
         'noready: the next attempt on the default schedule');
}

my $s = at($try[1][0]) - at($try[0][1]);
ok($s >= 2 && $s <= 7, "noready: the second attempt $s s after the first "
   . 'gave up');

my @inits = @{ $sts1->stats->{inits} };
ok(@inits >= 2, 'noready: stream:init on each attempt');
my @c = @{ $sts1->stats->{connections} };
ok(@c >= 2 && defined $c[0]{disconnected_at}, 'noready: connection closed');
diag('noready: first connection closed '
     . ($c[0]{disconnected_at} - $c[0]{connected_at}) . ' ms after it opened')
    if @c && defined $c[0]{disconnected_at};
ok(!$t->log_lines(qr/"noready\/n" fragment \S+ seq/), 'noready: nothing sent');

# cooldown: from the failed answer to the probe, 30 s at least on nginx's
# clock; measured on the STS's (another clock, whole milliseconds, and
# nginx's time is cached once per pass of its event loop), 100 ms less

my @f = @{ $sts2->stats->{fragments} };
my $wait = @f >= 2 ? $f[1]{received_at} - $f[0]{answered_at} : 0;
ok($wait >= 30000 - 100 && $wait <= 36000,
   "cool: the next fragment $wait ms after the failure");
ok(scalar $t->log_lines(qr/"cool\/c" breaker open after fragment \Q$f[0]{fragment_id}\E: no fragment sent for 30000ms/),
   'cool: the breaker opens for 30000 ms');
ok(scalar $t->log_lines(qr/"cool\/c" breaker half-open: fragment \Q$f[1]{fragment_id}\E is the probe/),
   'cool: that one is the probe');
my @held = $t->log_lines(qr/"cool\/c" segment \d+ out with original audio: breaker_open/);
ok(@held >= 10, 'cool: segments held back meanwhile (' . @held . ')');
ok(scalar $t->log_lines(qr/"cool\/c" segment \d+ fragment \Q$f[1]{fragment_id}\E out with dubbed/),
   'cool: the probe is dubbed');

done_testing;

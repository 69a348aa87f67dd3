#!/usr/bin/perl

# An STS that floods a stream with messages: thousands of unknown events,
# malformed events and answers for fragments that do not exist, in a few
# seconds.  The log gets at most 10 lines of each kind per 10 s and one
# summary line with the number held back; nothing is lost from the count
# (nginx_dub_sts_log_suppressed_total), and the stream goes on dubbing.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time);
use POSIX qw(ceil);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
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
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'tone');
$t->set(STS => $sts->url);
$t->run;

my $pub = $t->publish('short', 'live/f');

ok($t->wait_log(qr/"live\/f" fragment \S+ seq 0 processed by session/, 30),
   'the first fragment is dubbed');

# three floods at once, 3000 messages each in about 3 s

my $n = 3000;
my %kind = (
    'unknown event' =>
        qr/"live\/f" unknown event "flood:event" from the STS ignored/,
    'malformed event' =>
        qr/"live\/f" malformed event from the STS/,
    'answer for an unknown fragment' =>
        qr/"live\/f" fragment:processed for unknown fragment "no-such-one"/,
);

my $t0 = time;

$sts->flood(event => 'flood:event', payload => { n => 1 }, count => $n,
            per_second => 1000);
$sts->flood(raw => '2/sts,["cut short', count => $n, per_second => 1000);
$sts->flood(event => 'fragment:processed', count => $n, per_second => 1000,
            payload => { fragment_id => 'no-such-one', status => 'failed',
                         error => { code => 'X', message => 'flood' } });

ok($t->wait_for(sub {
    my @f = @{ $sts->stats->{floods} };
    return @f == 3 && !grep { !$_->{done_at} } @f;
}, 60), 'the STS sent 9000 messages');

# every message is accounted for: a line, or a count in a summary

sub summed {
    my ($k) = @_;
    my $sum = 0;
    for ($t->log_lines(qr/"live\/f" \d+ more "\Q$k\E" lines suppressed/)) {
        $sum += $1 if /"live\/f" (\d+) more "\Q$k\E" lines suppressed in the last \d+s$/;
    }
    return $sum;
}

sub lines { scalar $t->log_lines($_[0]) }

ok($t->wait_for(sub {
    return !grep { lines($kind{$_}) + summed($_) < $n } keys %kind;
}, 40), 'each message written or counted in a summary');

my $elapsed = time - $t0;

# the bound: 10 lines of a kind per 10 s interval, and one summary each

my $bound = 11 * (1 + ceil($elapsed / 10));
my $held = 0;

for my $k (sort keys %kind) {
    my $written = lines($kind{$k});
    my $summaries = () = $t->log_lines(qr/more "\Q$k\E" lines suppressed/);
    my $total = $written + summed($k);

    # on a busy machine a real answer may come after its fragment went
    # out: one more answer for an unknown fragment, at most one a segment
    ok($total == $n || ($k =~ /unknown fragment/ && $total <= $n + 6),
       "$k: $written written + " . summed($k) . " summed up = $total");
    ok($written >= 10 && $written + $summaries <= $bound,
       "$k: $written lines and $summaries summaries, at most $bound in "
       . sprintf('%.1f', $elapsed) . ' s');
    $held += summed($k);
}

ok(scalar $t->log_lines(qr/\[info\].*"live\/f" \d+ more "unknown event" lines suppressed/)
   && $t->log_lines(qr/\[error\].*"live\/f" \d+ more "malformed event" lines suppressed/),
   'a summary has the level of its lines');

is($t->wait_exit($pub, 30), 0, 'published');
ok($t->wait_log(qr/"dubbed\/f" output done/, 30), 'output done');

# the flood can only delay answers: a segment that falls back is late,
# and the last one, cut long after the flood, is dubbed

my @dubbed = map { /segment (\d+) fragment/ ? $1 : () }
    $t->log_lines(qr/"live\/f" segment \d+ fragment \S+ out with dubbed/);
my @other = grep { !/original audio: timeout$/ }
    $t->log_lines(qr/out with original audio/);

ok(@dubbed && $dubbed[-1] == 5, 'dubbing goes on: ' . @dubbed
   . ' of 6 segments dubbed, the last one too');
is(scalar @other, 0, 'no fallback but a timeout') or diag(join "\n", @other);

my $m = $t->metrics;
is($m->{'nginx_dub_sts_log_suppressed_total{stream="live/f",lang="es"}'},
   $held, "nginx_dub_sts_log_suppressed_total: $held");

# the stream is over: a graceful stop, so that the sanitizer build's leak
# check at the worker's exit may take its time (a fast stop kills workers
# that take over a second)
$t->stop_ok(undef, graceful => 1);

done_testing;

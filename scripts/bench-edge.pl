#!/usr/bin/perl

# What an edge costs, run on demand: N streams of the 60 s 720p30
# fixture, pushed in real time into an origin nginx-rtmp, pulled by an
# edge nginx ("pull" in its application) with one player per stream on
# the edge.  Nothing is dubbed: an edge relays the dubbed streams as any
# live stream, so this is its cost whatever the origin does.  CPU is the
# workers' user + system time from /proc over the run; memory the edge
# worker's resident size at the end.
#
#   scripts/bench-edge.pl [N ...]       default: 4 8

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use DubTest;
use Time::HiRes qw(time);

my @counts = @ARGV ? @ARGV : (4, 8);
my $fixture = DubTest::fixture('main');

print "| streams | wall s | edge CPU s | edge cpu-s per stream-minute "
    . "| % of a core per stream | edge RSS MiB | origin CPU s |\n"
    . "|---|---|---|---|---|---|---|\n";

for my $n (@counts) {
    my $origin = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
        }
EOF
    my $edge = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            pull rtmp://127.0.0.1:%%ORIGIN%%/live;
        }
EOF
    $edge->set(ORIGIN => $origin->rtmp_port);
    $origin->run;
    $edge->run;

    my ($ow) = $origin->workers;
    my ($ew) = $edge->workers;

    my @play = map { $edge->play("live/s$_", '/dev/null') } 1 .. $n;
    $edge->wait_player("s$_", 30) for 1 .. $n;

    my ($oc0) = DubTest::proc_usage($ow);
    my ($ec0) = DubTest::proc_usage($ew);
    my $t0 = time;

    my @pub = map { $origin->publish($fixture, "live/s$_") } 1 .. $n;
    $origin->wait_exit($_, 300) for @pub;

    my $wall = time - $t0;
    my ($oc1) = DubTest::proc_usage($ow);
    my ($ec1, $rss) = DubTest::proc_usage($ew);
    my $cpu = $ec1 - $ec0;

    printf "| %d | %.1f | %.2f | %.3f | %.2f | %.1f | %.2f |\n", $n, $wall,
        $cpu, $cpu / $n / ($wall / 60), 100 * $cpu / $n / $wall,
        $rss / 1024, $oc1 - $oc0;

    $edge->kill_proc($_, 'INT') for @play;
    $_->stop for $edge, $origin;
}

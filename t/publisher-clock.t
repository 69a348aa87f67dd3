#!/usr/bin/perl

# A publisher whose clock runs away: one second of tags whose timestamps
# each step +4 s (under the 5 s jump threshold, 5 minutes ahead in all),
# then normal steps again.  The output must not follow it: its tags are
# re-based to the wall clock, every packet after the burst reaches the
# player about dub_delay after it was sent, the stream ends dub_delay
# after the publisher, and the output's timestamps stay monotonic.  A raw
# RTMP publisher sends it (ffmpeg -re would wait for the timestamps).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use DubRtmp;
use Test::More;
use Time::HiRes qw(time);

my $D = 6;

my $t = DubTest->new(rtmp => <<"EOF");
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay ${D}s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my $file = $t->dir . '/out.flv';
my $player = $t->play('dubbed/clock', $file);
my ($watch, $arrivals) = $t->watch_packets('dubbed/clock');
ok($t->wait_player('clock', 20, 2), 'two players wait for the output');

# from 3 s to 4 s into the stream, each tag 4 s after the one before

my ($last_in, $last_out, $burst);
my %sent;       # type => [ [wall time sent, input ts], ... ] of media tags

my $p = DubRtmp->new(port => $t->rtmp_port, app => 'live');
$p->publish('clock');

my $tags = $p->send_flv(DubTest::fixture('short'), ts => sub {
    my ($ts, $type, $data) = @_;
    my $out;

    if (!defined $last_in) {
        $out = $ts;
    } elsif ($ts >= 3000 && $ts < 4000) {
        $out = $last_out + 4000;
        $burst++;
    } else {
        $out = $last_out + $ts - $last_in;
    }

    ($last_in, $last_out) = ($ts, $out);
    push @{ $sent{$type} }, [ time, $ts ] if DubRtmp::is_media($type, $data);
    return $out;
});

my $end = time;
$p->close;

diag("$burst tags in the burst, the last one sent at "
     . sprintf('%.1f', $last_out / 1000) . ' s');

my $status = $t->wait_exit($player, $D + 30);
my $ended = time - $end;
is($status, 0, 'the output ended');
ok($ended < $D + 10, sprintf('within dub_delay + 10 s of the publisher '
   . '(%.1f s)', $ended));
$t->wait_exit($watch, 10);

# every packet, in order, with monotonic timestamps

my %codec = (8 => 'aac', 9 => 'h264');

for my $type (8, 9) {
    my $out = DubTest::stream_times($file, $codec{$type});
    my $n = @{ $sent{$type} };

    is(scalar @$out, $n, "$codec{$type}: every packet out ("
       . scalar(@$out) . " of $n)");

    my $back = grep { $out->[$_][0] < $out->[$_ - 1][0] } 1 .. $#$out;
    is($back, 0, "$codec{$type}: output timestamps monotonic");

    my $last = @$out ? $out->[-1][0] : 0;
    ok($last < 12067 + 3000, "$codec{$type}: the output lasts the wall "
       . "time of the input, not the publisher's clock ($last ms)");
}

# after the burst, each video packet reaches the player about D after it
# was sent (matched from the end, as a player may miss the first ones;
# the watching ffprobe, probing little, sees the video only)

my @arr = map { /^([\d.]+),video,/ ? $1 : () }
          split /\n/, $t->read_file($arrivals);
my @sent = @{ $sent{9} };
my ($n, $in_time, $worst) = (0, 0, 0);

for my $k (1 .. (@arr < @sent ? @arr : @sent)) {
    my ($at, $ts) = @{ $sent[-$k] };
    last if $ts < 4500;
    my $late = $arr[-$k] - ($at + $D);
    $n++;
    $in_time++ if $late > -1.5 && $late < 6;
    $worst = $late if abs $late > abs $worst;
}

ok($n > 200 && $in_time >= 0.95 * $n, "after the burst, $in_time of $n "
   . "video packets reached the player dub_delay after they were sent "
   . sprintf('(worst %+.1f s)', $worst));

my $rebased = qr/dub: "live\/clock" input timestamps \d+ms ahead of the clock/;
ok(scalar $t->log_lines(qr/$rebased, re-based to the clock/),
   'the re-basing is logged');

done_testing;

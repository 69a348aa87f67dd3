#!/usr/bin/perl

# The STS gone: absent for a whole stream, and killed mid-stream then
# started again.  The output never stalls, the segments the STS could not
# dub carry their original audio, and dubbing resumes after the
# reconnection with stream:init again and sequence numbers from 0.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application absent {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_url http://127.0.0.1:%%NOBODY%%/sts;
            dub_sts_reconnect 1s;
        }

        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 6s;
            dub_sts_url %%STS%%;
            dub_sts_reconnect 1s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'tone', '--latency-ms', 100);
my $nobody = DubTest::port();
$t->set(STS => $sts->url);
$t->set(NOBODY => $nobody);

$t->run;

# 36 s of the short fixture, for both streams

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $absent = $t->dir . '/absent.flv';
my $out = $t->dir . '/out.flv';

my $p1 = $t->play('dubbed/a', $absent);
my $p2 = $t->play('dubbed/k', $out);
my ($w1, $f1) = $t->watch_packets('dubbed/a');
my ($w2, $f2) = $t->watch_packets('dubbed/k');
# the recording players and the watchers
ok($t->wait_player('a', 30, 2) && $t->wait_player('k', 30, 2),
   'players wait');

my $t0 = time;
my $pub1 = $t->publish($looped, 'absent/a');
my $pub2 = $t->publish($looped, 'live/k');

# the STS dies 10 s in, comes back 12 s later on the same port (the
# segments cut in between reach their slot, 8 s after their start, before
# it is back); meanwhile nginx_dub_sts_connected is sampled every 100 ms

my (@connected, %ever);

sub sample_until {
    my ($end) = @_;
    while (time < $end) {
        my $m = $t->metrics;
        my $k = $m->{'nginx_dub_sts_connected{stream="live/k",lang="es"}'};
        my $a = $m->{'nginx_dub_sts_connected{stream="absent/a",lang="es"}'};
        push @connected, $k if defined $k
                               && (!@connected || $connected[-1] != $k);
        $ever{$a} = 1 if defined $a;
        sleep 0.1;
    }
}

sample_until($t0 + 10);
$sts->kill('KILL');
sample_until($t0 + 22);
$sts->restart;
sample_until($t0 + 32);

is($t->wait_exit($pub1, 60), 0, 'published without an STS');
is($t->wait_exit($pub2, 60), 0, 'published through the outage');

is($t->wait_exit($p1, 30), 0, 'absent: output ended');
is($t->wait_exit($p2, 30), 0, 'outage: output ended');
$t->wait_exit($_, 10) for $w1, $w2;

# absent for the whole stream: all original audio, nothing lost

DubTest::is_same_media($looped, $absent, 'STS absent');
my @fb = $t->log_lines(qr/"absent\/a" segment \d+ out with original audio: sts_unavailable/);
ok(@fb >= 17, 'every segment falls back as sts_unavailable (' . @fb . ')');
ok(scalar $t->log_lines(qr/"absent\/a" STS reconnect attempt 5 in 1000ms/),
   'reconnection attempts go on');

# no stall: the output never waits for the STS.  Packets are due every
# 23-33 ms; on an idle machine the longest wait a player sees is under
# 100 ms, on a busy one a few hundred: the bound is what no busy machine
# reaches, and a wait for the STS (seconds) would.
my ($gap, $n) = $t->max_arrival_gap($f1);
ok($n > 1000 && $gap < 1000, "absent: no output stall ($gap ms at most)");

# killed and restarted

($gap, $n) = $t->max_arrival_gap($f2);
ok($n > 1000 && $gap < 1000, "outage: no output stall ($gap ms at most)");

my $vin = DubTest::stream_packets(DubTest::packets($looped),
                                  DubTest::streams($looped)->{h264});
my $vout = DubTest::stream_packets(DubTest::packets($out),
                                   DubTest::streams($out)->{h264});
is(scalar @$vout, scalar @$vin, 'outage: every video frame out');
is(scalar @{ DubTest::stream_times($out, 'aac') },
   scalar @{ DubTest::stream_times($looped, 'aac') },
   'outage: every audio frame out');

my @segs = map { [ /segment (\d+) (?:fragment \S+ )?out with (dubbed|original)/ ] }
           $t->log_lines(qr/"live\/k" segment \d+ .*out with/);
my @dubbed = map { $_->[0] } grep { $_->[1] eq 'dubbed' } @segs;
my @orig = map { $_->[0] } grep { $_->[1] eq 'original' } @segs;

ok(@dubbed && $dubbed[0] < 3, 'dubbed before the outage');
ok(@orig >= 2, 'original audio during the outage (' . @orig . ' segments)');
ok(@dubbed && $dubbed[-1] > $orig[-1], 'dubbed again after it');

# what /metrics said

# (0 first while the session is still being set up)
like("@connected", qr/^(0 )?1 0 1$/,
     "sts_connected: 1, 0 during the outage, 1 again (@connected)");
is(join(' ', sort keys %ever), '0', 'sts_connected: 0 all along without STS');

my $m = $t->metrics;
my $attempts = () = $t->log_lines(qr/"absent\/a" connecting to STS/);
is($m->{'nginx_dub_sts_reconnects_total{stream="absent/a",lang="es"}'},
   $attempts - 1, 'reconnects_total: the attempts after the first ('
   . ($attempts - 1) . ')');
ok($m->{'nginx_dub_sts_reconnects_total{stream="live/k",lang="es"}'} >= 1,
   'reconnects_total: the outage counted');

my $st = $sts->stats;
ok(@{ $st->{inits} } >= 1, 'stream:init again on the new connection');
is($st->{fragments}[0]{sequence_number}, 0,
   'sequence numbers start again from 0');

# what the tone says: dubbed seconds before and after, original between

my $w = DubTest::audio_probe(DubTest::pcm($out, 16000), 'tone', 16000, 1000,
                             1000);
my @tone = map { $_->[1] > 0.9 ? 1 : 0 } @$w;
my $s = join '', @tone;
like($s, qr/^1{4,}0+1{4,}$/, "tone, then original audio, then tone ($s)");

$t->stop_ok;

done_testing;

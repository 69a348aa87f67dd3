#!/usr/bin/perl

# The last segment of a stream, cut short by the publisher's end: one of
# at least 1 s goes to the STS and comes out dubbed; a shorter one is not
# sent and falls back as "too_short".

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

# the short fixture has a keyframe every 2 s from 67 ms: cut after 7.6 s,
# three whole segments and a last one of about 1.5 s; after 6.6 s, three
# and about 0.5 s

my %cut = (long => 7.6, short => 6.6);
my @pub;

for my $n (sort keys %cut) {
    my $f = $t->dir . "/$n.flv";
    system("ffmpeg -nostdin -v error -i " . DubTest::fixture('short')
           . " -t $cut{$n} -c copy -f flv $f") == 0 or die;
    push @pub, $t->publish($f, "live/$n");
}

is($t->wait_exit($_, 30), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "$_: output drained")
    for sort keys %cut;

my %frags;
for my $f (@{ $sts->stats->{fragments} }) {
    push @{ $frags{$f->{stream_id}} }, $f;
}

# at least 1 s: sent, dubbed

my ($last) = $t->log_lines(qr/"live\/long" segment 3 cut: /);
my ($ms) = ($last // '') =~ /cut: (\d+)ms at \d+ms.*, last/;
my ($frag) = $t->log_lines(qr/"live\/long" segment 3 fragment \S+ cut/);
my ($id) = ($frag // '') =~ /fragment (\S+) cut/;
ok($ms && $ms >= 1000 && $ms < 2000,
   'long: the last segment is partial, over 1 s (' . ($ms // '?') . ' ms)');

my @long = @{ $frags{long} // [] };
is(scalar @long, 4, 'long: 4 fragments sent, the partial one too');
is($long[-1]{fragment_id}, $id, 'long: the last one is the partial segment');
ok($long[-1]{duration_ms} >= 1000 && $long[-1]{duration_ms} < 2000,
   "long: its audio is as long ($long[-1]{duration_ms} ms)");
ok(scalar $t->log_lines(qr/"live\/long" segment 3 fragment \Q$id\E out with dubbed audio/),
   'long: and it comes out dubbed');

# under 1 s: not sent, too_short

($last) = $t->log_lines(qr/"live\/short" segment 3 cut: /);
($ms) = ($last // '') =~ /cut: (\d+)ms at \d+ms.*, last/;
ok($ms && $ms > 0 && $ms < 1000,
   'short: the last segment is under 1 s (' . ($ms // '?') . ' ms)');
is(scalar @{ $frags{short} // [] }, 3, 'short: only the 3 whole segments sent');
ok(scalar $t->log_lines(qr/"live\/short" segment 3 out with original audio: too_short/),
   'short: the last one goes out with its original audio, too_short');

my $m = $t->metrics;
is($m->{'nginx_dub_fallbacks_total{stream="live/short",lang="es",reason="too_short"}'},
   1, 'short: counted under too_short');
is($m->{'nginx_dub_fallbacks_total{stream="live/long",lang="es",reason="too_short"}'},
   0, 'long: not');
is($m->{'nginx_dub_segments_dubbed_total{stream="live/long",lang="es"}'}, 4,
   'long: 4 segments dubbed');

done_testing;

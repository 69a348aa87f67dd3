#!/usr/bin/perl

# Every short variant at once: 48 kHz mono, 25 fps, a GOP longer than the
# segment, audio only, video only.  Each output is its input, intact.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my @variants = qw(short mono48 fps25 longgop audio video);

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 6s;
            dub_segment_stagger off;
            dub_delay 8s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my (%player, %pub);

for my $v (@variants) {
    $player{$v} = $t->play("dubbed/$v", $t->dir . "/$v.flv");
}

ok(!grep({ !$t->wait_player($_, 30) } @variants), 'players wait');

for my $v (@variants) {
    $pub{$v} = $t->publish($v, "live/$v");
}

for my $v (@variants) {
    is($t->wait_exit($pub{$v}, 40), 0, "$v: published");
}

for my $v (@variants) {
    is($t->wait_exit($player{$v}, 30), 0, "$v: player ended with output");
    DubTest::is_same_media(DubTest::fixture($v), $t->dir . "/$v.flv", $v);
}

# GOP 8 s > segment 6 s: cut at the keyframe at 8 s, then the rest
my @cuts = $t->log_lines(qr/"live\/longgop" segment \d+ (?:fragment \S+ )?cut/);
is(scalar @cuts, 2, 'long GOP: two segments');
like($cuts[0] // '', qr/cut: 8000ms at 0ms/, 'long GOP: cut at the keyframe');

# audio only: cut on audio time
@cuts = $t->log_lines(qr/"live\/audio" segment \d+ (?:fragment \S+ )?cut/);
is(scalar @cuts, 2, 'audio only: two segments');
like($cuts[0] // '', qr/cut: 60\d\dms at 0ms, 0 video \d+ audio/,
     'audio only: cut at the first audio frame after 6 s');

@cuts = $t->log_lines(qr/"live\/video" segment \d+ (?:fragment \S+ )?cut/);
like($cuts[0] // '', qr/cut: 6000ms at 0ms, 180 video 0 audio/,
     'video only: cut at the keyframe at 6 s');

$t->stop_ok;

done_testing;

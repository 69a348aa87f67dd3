#!/usr/bin/perl

# Four streams at once stay independent: each output is its own input,
# intact, and killing one publisher changes nothing for the others.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my %fixture = (m1 => 'short', m2 => 'mono48', m3 => 'fps25', m4 => 'short');

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 3s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

$t->run;

my (%player, %pub);

for my $n (sort keys %fixture) {
    $player{$n} = $t->play("dubbed/$n", $t->dir . "/$n.flv");
}

ok(!grep({ !$t->wait_player($_, 30) } sort keys %fixture), 'players wait');

for my $n (sort keys %fixture) {
    $pub{$n} = $t->publish($fixture{$n}, "live/$n");
}

# m4 killed in its third segment, once two went by
ok($t->wait_log(qr/"live\/m4" segment 1 .*cut/, 30), 'm4 under way');
$t->kill_proc($pub{m4}, 'KILL');

for my $n (sort keys %fixture) {
    my $rc = $t->wait_exit($pub{$n}, 30);
    is($rc, 0, "$n: published") if $n ne 'm4';
}

for my $n (sort keys %fixture) {
    is($t->wait_exit($player{$n}, 20), 0, "$n: output ended");
}

for my $n (qw(m1 m2 m3)) {
    DubTest::is_same_media(DubTest::fixture($fixture{$n}),
                           $t->dir . "/$n.flv", $n);
}

DubTest::is_prefix_media(DubTest::fixture('short'), $t->dir . '/m4.flv',
                         'm4 killed', 3000);

ok($t->wait_for(sub { $t->log_lines(qr/output done/) == 4 }, 20),
   'four outputs done');

$t->stop_ok;

done_testing;

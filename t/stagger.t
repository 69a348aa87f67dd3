#!/usr/bin/perl

# Streams that start together do not close their segments together: of
# three streams published at once, the second and third cut their first
# segment a third and two thirds short (6, 4 and 2 s at the default 6 s),
# so their fragments reach the STS seconds apart, and every later segment
# is whole.  Every segment still comes out dubbed.  With
# dub_segment_stagger off, every first segment is whole.

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
            dub_delay 8s;
            dub_sts_url %%STS%%;
        }

        application flat {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_delay 8s;
            dub_segment_stagger off;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url);
$t->run;

# the short fixture: 12 s, a keyframe every 2 s from 67 ms

my @names = qw(s1 s2 s3);
my @pub = map { $t->publish('short', "live/$_") } @names;

is($t->wait_exit($_, 30), 0, 'published') for @pub;
ok($t->wait_for(sub { $t->log_lines(qr/output done/) == 3 }, 30),
   'three outputs drained');

my %frags;
for my $f (@{ $sts->stats->{fragments} }) {
    push @{ $frags{$f->{stream_id}} }, $f;
}

is(scalar(keys %frags), 3, 'fragments from the three streams');

my @first = sort { $a->{duration_ms} <=> $b->{duration_ms} }
            map { $frags{$_}[0] // { duration_ms => 0, received_at => 0 } }
            @names;

my @want = (2000, 4000, 6000);

for my $i (0 .. 2) {
    my $d = $first[$i]{duration_ms};
    ok(abs($d - $want[$i]) <= 150,
       "a first segment of about $want[$i] ms ($d ms)");
}

# the publishers started within a fraction of a second; the first
# fragments left about 2 s apart

my @at = sort { $a <=> $b } map { $_->{received_at} } @first;
ok($at[2] - $at[0] >= 2500,
   'the first fragments reached the STS ' . ($at[2] - $at[0])
   . ' ms apart');

# after the first, every segment but the stream's last is whole

my @whole = map { @{ $frags{$_} }[1 .. $#{ $frags{$_} } - 1] }
            grep { $frags{$_} } @names;
ok(@whole >= 2, scalar(@whole) . ' whole segments in the middle');
ok(!grep({ abs($_->{duration_ms} - 6000) > 150 } @whole),
   'each of 6 s: ' . join(' ', map { $_->{duration_ms} } @whole));

# the fixture's 12 s in each stream, cut differently

for my $n (@names) {
    my $sum = 0;
    $sum += $_->{duration_ms} for @{ $frags{$n} // [] };
    ok(abs($sum - 12067) <= 300, "$n: 12 s of audio sent ($sum ms)");
}

# all of them dubbed

my $nfrags = 0;
$nfrags += scalar @{ $frags{$_} // [] } for @names;

my $m = $t->metrics;
my $dubbed = 0;
$dubbed += $m->{$_} for grep { /^nginx_dub_segments_dubbed_total\{/ } keys %$m;
is($dubbed, $nfrags, "every segment dubbed ($nfrags)");

# with dub_segment_stagger off, two streams started together cut their
# first segments at the same length

$sts->reset;

@pub = map { $t->publish('short', "flat/$_") } qw(f1 f2);

is($t->wait_exit($_, 30), 0, 'published, no stagger') for @pub;
ok($t->wait_for(sub { $t->log_lines(qr/output done/) == 5 }, 30),
   'two more outputs drained');

%frags = ();
for my $f (@{ $sts->stats->{fragments} }) {
    push @{ $frags{$f->{stream_id}} }, $f;
}

for my $n (qw(f1 f2)) {
    my $d = $frags{$n} ? $frags{$n}[0]{duration_ms} : 0;
    ok(abs($d - 6000) <= 150, "$n: a whole first segment ($d ms)");
}

$t->stop_ok;

done_testing;

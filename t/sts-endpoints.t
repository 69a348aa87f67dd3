#!/usr/bin/perl

# Several STS endpoints ("dub_sts_url" more than once): the streams'
# sessions spread over them by load, and when one endpoint dies, each of
# its sessions tries it once more (unless another one's attempt there
# failed already), then moves to the other on the next attempt of
# "dub_sts_reconnect" and dubs again there.  What falls back
# is what was in flight on the dead endpoint, nothing else.  Each echo STS
# answers its own tone, so the output tells which one dubbed a segment.
# Later streams pick by load again, the endpoint back included; nginx -t
# takes the new forms and refuses the same endpoint twice.  /metrics
# shows each stream's endpoint (nginx_dub_sts_endpoint) as it moves.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Time::HiRes qw(time);

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => 'location /metrics { dub_metrics; }',
    rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url %%STS_A%%;
            dub_sts_url %%STS_B%%;
            dub_sts_reconnect 1s 2s;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

# A answers in 3 s, so that its sessions have fragments in flight when
# it dies; B at once
my %hz = (A => 700, B => 1300);
my $sts_a = $t->sts('--mode', 'tone', '--tone-hz', $hz{A}, '--latency-ms', 3000);
my $sts_b = $t->sts('--mode', 'tone', '--tone-hz', $hz{B}, '--latency-ms', 200);
my %url = (A => $sts_a->url('/sts'), B => $sts_b->url('/sts'));
$t->set(STS_A => $url{A}, STS_B => $url{B});

$t->run;

my @names = qw(s1 s2 s3 s4);
my (%player, %pub);

for my $n (@names) {
    $player{$n} = $t->play("dubbed/$n", $t->dir . "/$n.flv");
}
ok($t->wait_for(sub { !grep { !$t->wait_player($_, 0) } @names }, 30),
   'players wait');

$pub{$_} = $t->publish('short', "live/$_") for @names;

ok($t->wait_for(sub {
        !grep { !$t->log_lines(qr/"live\/$_" STS session \S+ ready/) }
        @names }, 30), 'every stream has its STS session');

# spread by load: two sessions on each endpoint

my %on;
for my $n (@names) {
    my ($u) = map { /connecting to STS "([^"]+)" \(endpoint/ ? $1 : () }
              $t->log_lines(qr/"live\/$n" connecting to STS/);
    my ($e) = grep { $url{$_} eq ($u // '') } keys %url;
    $on{$n} = $e // '?';
}
my @on_a = grep { $on{$_} eq 'A' } @names;
my @on_b = grep { $on{$_} eq 'B' } @names;
ok(@on_a == 2 && @on_b == 2, "two streams on each endpoint (A: @on_a; "
   . "B: @on_b)");

my $inits = sub {
    my ($s) = @_;
    my %seen;
    return [ sort grep { !$seen{$_}++ }
             map { $_->{payload}{stream_id} // () } @{ $s->stats->{inits} } ];
};
is("@{ $inits->($sts_a) }", "@on_a", 'A has its two streams');
is("@{ $inits->($sts_b) }", "@on_b", 'B has its two streams');

# /metrics: each stream's endpoint, "URL=value" (1 ready, 0 connecting)
my $endpoints = sub {
    my ($m, $body) = $t->metrics;
    my %e;
    for (keys %$m) {
        $e{$1} = "$2=$m->{$_}" if /^nginx_dub_sts_endpoint\{stream="live\/(\w+)",(?#
            )lang="[^"]*",endpoint="([^"]*)"\}$/;
    }
    my ($ok, $out) = $t->promtool_check($body);
    $e{promtool} = $out unless $ok;
    return \%e;
};
my $e;
ok($t->wait_for(sub { $e = $endpoints->();
                      !grep { ($e->{$_} // '') ne "$url{$on{$_}}=1" } @names
                      and keys %$e == @names }, 10),
   'metrics: each stream on its endpoint, ready')
    or diag(explain $e);

# A dies with fragments in flight: its streams' third fragments sent

ok($t->wait_for(sub {
        !grep { !$t->log_lines(qr/"live\/$_" fragment \S+ seq 2 sent to/) }
        @on_a }, 30), 'third fragments on their way to A');
$sts_a->kill('KILL');
my $killed = time;

ok($t->wait_for(sub {
        !grep { (() = $t->log_lines(
                    qr/"live\/$_" STS session \S+ ready/)) < 2 } @on_a },
        30), "A's streams ready again");
# the schedule (1 s + 2 s), and the time a busy machine may take to
# connect: no more than "dub_sts_init_timeout" (10 s)
my $took = time - $killed;
ok($took < 13, sprintf('within %.1f s of the kill (schedule 1 s + 2 s)',
                       $took));
ok($t->wait_for(sub { $e = $endpoints->();
                      !grep { ($e->{$_} // '') ne "$url{B}=1" } @names
                      and keys %$e == @names }, 10),
   'metrics: every stream on B now, ready')
    or diag(explain $e);

# each tries A once more, or goes to B at once if another session's
# attempt at A failed already
for my $n (@on_a) {
    my @c = $t->log_lines(qr/"live\/$n" connecting to STS/);
    my @again = grep { /"\Q$url{A}\E" again \(endpoint 1 of 2/ } @c[1 .. $#c];
    ok(@c >= 2 && @c == 2 + @again && @again <= 1
       && $c[-1] =~ /"\Q$url{B}\E" again \(endpoint 2 of 2, [34] sessions there from this worker\), moving from "\Q$url{A}\E"/,
       "$n: moved to B (" . @again . ' more attempt at A)')
        or diag(join "\n", @c);
    ok(!$t->log_lines(qr/"live\/$n" STS reconnect attempt 3/),
       "$n: on B by the second attempt");
}

for my $n (@names) {
    is($t->wait_exit($pub{$n}, 60), 0, "$n: published");
}
ok($t->wait_for(sub { $t->log_lines(qr/"dubbed\/s\d" output done/) == 4 },
                40), 'four outputs done');
for my $n (@names) {
    is($t->wait_exit($player{$n}, 30), 0, "$n: player ended");
}

is("@{ $inits->($sts_b) }", "@names", 'B has every stream now');

# Each segment: cut where, its fragment, sent to which endpoint, dubbed
# or why not.  Sessions are told apart by the endpoint they were
# readied on.

my @log = split /\n/, $t->error_log;

sub segments {
    my ($n) = @_;
    my (%seg, %frag, %session, $endpoint);
    for (@log) {
        next unless /"live\/$n" /;
        if (/connecting to STS "([^"]+)"/) {
            my $u = $1;
            ($endpoint) = grep { $url{$_} eq $u } keys %url;
        } elsif (/STS session (\S+) ready/) {
            $session{$1} = $endpoint;
        } elsif (/segment (\d+) cut: (\d+)ms at (\d+)ms/) {
            $seg{$1}{dur} = $2;
            $seg{$1}{at} = $3;
        } elsif (/segment (\d+) fragment (\S+) cut/) {
            $seg{$1}{frag} = $2;
            $frag{$2} = $1;
        } elsif (/fragment (\S+) seq \d+ sent to session (\S+):/) {
            $seg{ $frag{$1} }{to} = $session{$2} if defined $frag{$1};
        } elsif (/segment (\d+) fragment \S+ out with dubbed audio/) {
            $seg{$1}{out} = 'dubbed';
        } elsif (/segment (\d+) out with original audio: (\w+)/) {
            $seg{$1}{out} = $2;
        }
    }
    return \%seg;
}

# the share of 500 ms windows inside a segment whose strongest frequency
# is a tone
sub tone_in {
    my ($w, $s, $hz) = @_;
    my @in = grep { $_->[0] >= $s->{at} && $_->[0] + 500 <= $s->{at} + $s->{dur} }
             @$w;
    return @in ? (grep { abs($_->[1] - $hz) < 30 } @in) / @in : -1;
}

for my $n (@names) {
    my $seg = segments($n);
    my $file = $t->dir . "/$n.flv";
    my $w = DubTest::audio_probe(DubTest::pcm($file, 16000), 'dominant',
                                 16000, 500);

    my (@fb, @bad, %by);
    for my $i (sort { $a <=> $b } keys %$seg) {
        my $s = $seg->{$i};
        next unless defined $s->{at};
        my $out = $s->{out} // '?';
        if ($out ne 'dubbed') {
            push @fb, "$i:$out";
            next;
        }
        my $e = $s->{to} // '?';
        $by{$e}++;
        my ($other) = grep { $_ ne $e } sort keys %hz;
        my $mine = $hz{$e} ? tone_in($w, $s, $hz{$e}) : 0;
        my $theirs = tone_in($w, $s, $hz{$other});
        push @bad, sprintf('%d: %s %.2f, %s %.2f', $i, $e, $mine, $other,
                           $theirs)
            unless $mine > 0.7 && $theirs <= 0;
    }

    ok(!@bad, "$n: each dubbed segment carries its endpoint's tone ("
       . join(', ', map { "$_ $by{$_}" } sort keys %by) . ')')
        or diag(join "\n", @bad);

    if ($on{$n} eq 'B') {
        is("@fb", '', "$n: on B all along, nothing falls back");
        ok($by{B} >= 5 && !$by{A}, "$n: dubbed by B");
        next;
    }

    ok(($by{A} // 0) >= 1 && ($by{B} // 0) >= 2,
       "$n: dubbed by A, then by B");

    # what A had not answered when its connection went
    my ($lost) = grep { $log[$_] =~ /"live\/$n" STS "\Q$url{A}\E" (closed|broken|dead)/ }
                 0 .. $#log;
    my @before = defined $lost ? @log[0 .. $lost] : ();
    my %sent = map { /"live\/$n" fragment (\S+) seq \d+ sent to/ ? ($1 => 1) : () }
               @before;
    delete $sent{$_} for map { /"live\/$n" fragment (\S+) seq \d+ processed by/ ? $1 : () }
                         @before;
    my $n_fb = $t->lost_in_flight_ok("live/$n", [ sort keys %sent ],
                                     "$n: A gone");
    ok(!grep({ !/:sts_unavailable$/ } @fb) && @fb == $n_fb && @fb <= 3,
       "$n: only those fall back (@fb)");
}

# later streams pick by load again: A back, both endpoints get one

$sts_a->restart;
$sts_b->reset;
my @later = qw(s5 s6);
my %later = map { $_ => $t->publish('small', "live/$_") } @later;
ok($t->wait_for(sub {
        !grep { !$t->log_lines(qr/"live\/$_" STS session \S+ ready/) }
        @later }, 30), 'later streams have their sessions');
is(scalar @{ $inits->($sts_a) }, 1, 'one of them on A, back');
is(scalar @{ $inits->($sts_b) }, 1, 'the other on B');
$t->kill_proc($later{$_}) for @later;

$t->stop_ok;

# nginx -t

my $conf = sub {
    my ($sts) = @_;
    return <<"EOF";
        application live {
            live on;
            dub on;
            $sts
        }
        application a { live on; }
        application b { live on; }
EOF
};

my $good = 'dub_sts_url http://127.0.0.1:9/sts; '
    . 'dub_sts_url http://127.0.0.1:10/sts; dub_sts_url wss://127.0.0.1:9/sts; '
    . 'dub_language es a; '
    . 'dub_language fr b sts=http://127.0.0.1:11/sts sts=ws://127.0.0.1:12/;';
my ($rc, $out) = $t->test_conf(rtmp => $conf->($good));
is($rc, 0, "nginx -t takes several dub_sts_url and sts=") or diag($out);

my @bad = (
    [ 'dub_output_app a; dub_sts_url http://127.0.0.1:9/sts; '
      . 'dub_sts_url ws://127.0.0.1:9/sts/;',
      qr/"dub_sts_url" names the STS "http:\/\/127.0.0.1:9\/sts" twice \(as "ws:\/\/127.0.0.1:9\/sts\/"\): give each endpoint once/ ],
    [ 'dub_output_app a; dub_sts_url http://127.0.0.1:9/sts; dub_sts_url off;',
      qr/"dub_sts_url off" cannot be given with another "dub_sts_url"/ ],
    [ 'dub_language es a sts=http://127.0.0.1:9/x sts=http://127.0.0.1:9/x;',
      qr/"dub_language" names the STS "http:\/\/127.0.0.1:9\/x" twice/ ],
);
for my $c (@bad) {
    my ($rc, $out) = $t->test_conf(rtmp => $conf->($c->[0]));
    ok($rc != 0 && $out =~ $c->[1], "nginx -t refuses: $c->[0]")
        or diag($out);
}

done_testing;

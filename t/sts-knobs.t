#!/usr/bin/perl

# The echo STS's knobs, each on the module's own connection: rules sent
# in band (config:error_simulation, from a client of the test's own) with
# the nth_fragment and fragment_id triggers and the error_event action,
# --disconnect-after, and simulate:disconnect naming the module's stream.
# Each shows in what the module does: which fragments fail and why, when
# the connection goes, and that dubbing resumes after it.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my %opts = (
    nth => [],
    fid => [],
    dis => [ '--disconnect-after', 2 ],
    sim => [ '--latency-ms', 3000 ],
);

my $t = DubTest->new();
my (%sts, $rtmp);

for my $a (sort keys %opts) {
    $sts{$a} = $t->sts('--port', 0, '--mode', 'tone', @{ $opts{$a} });
    my $url = $sts{$a}->url;

    # fid: time for the test to set a rule while a fragment waits
    my $delay = $a eq 'fid' ? '12s' : '8s';

    $rtmp .= <<"EOF";
        application $a {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay $delay;
            dub_sts_reconnect 500ms;
            dub_sts_url $url;
        }

EOF
}

$t->set_conf(rtmp => $rtmp . "        application dubbed { live on; }\n");

my $T = JSON::PP::true;
my $F = JSON::PP::false;

# config:error_simulation: every third fragment of a connection fails

my $r = $sts{nth}->inband('config:error_simulation', { enabled => $T,
    rules => [ { trigger => 'nth_fragment', value => 3,
                 error_code => 'MODEL_ERROR', error_message => 'every third',
                 retryable => $F } ] }, 'config:error_simulation:ack');
is_deeply($r->{payload}, { status => 'ok', rules_count => 1 },
          'config:error_simulation acknowledged: 1 rule');

$r = $sts{nth}->inband('config:error_simulation', { enabled => $T,
    rules => [ { trigger => 'bogus' } ] }, 'config:error_simulation:ack');
ok($r->{payload}{status} eq 'error' && $r->{payload}{rules_count} == 1,
   'a bad rule refused, the rule in force kept');

$t->run;

# sim: 24 s, time for the test to act mid-stream on a busy machine
my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 1 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my @pub = map { $t->publish($_ eq 'sim' ? $looped : 'short', "$_/$_") }
          sort keys %opts;

# fragment_id: a fragment held by a pause gets a rule of its own, in band

ok($t->wait_log(qr/"fid\/fid" fragment \S+ seq 0 processed/, 30),
   'fid: dubbing');
$sts{fid}->backpressure(action => 'pause');

my $id;
$t->wait_for(sub {
    my @l = $t->log_lines(qr/"fid\/fid" (backpressure from session \S+: pause|segment \d+ fragment \S+ cut)/);
    my ($p) = grep { $l[$_] =~ /: pause/ } 0 .. $#l;
    ($id) = map { /fragment (\S+) cut/ } @l[$p + 1 .. $#l] if defined $p;
    return $id;
}, 30);
ok($id, 'fid: a fragment waits, held by the pause');

$r = $sts{fid}->inband('config:error_simulation', { enabled => $T,
    rules => [ { trigger => 'fragment_id', value => $id,
                 action => 'error_event', error_code => 'QUEUE_FULL',
                 error_message => 'busy', retryable => $T } ] },
    'config:error_simulation:ack');
is($r->{payload}{status}, 'ok', 'fid: a rule for its id');
$sts{fid}->backpressure(action => 'none');

# simulate:disconnect for the module's stream, with fragments in flight

ok($t->wait_log(qr/"sim\/sim" fragment \S+ seq 1 sent/, 30),
   'sim: fragments in flight');
$r = $sts{sim}->inband('simulate:disconnect',
                       { delay_ms => 1500, stream_id => 'sim' });
ok($r->{acked}, 'sim: simulate:disconnect received');

is($t->wait_exit($_, 40), 0, 'published') for @pub;
ok($t->wait_log(qr/"dubbed\/$_" output done/, 30), "$_: output drained")
    for sort keys %opts;

sub frags {
    my ($a) = @_;
    my $st = $sts{$a}->stats;
    my %c = map { $_->{id} => 1 }
            grep { ($_->{stream_id} // '') eq $a } @{ $st->{connections} };
    return [ grep { $c{ $_->{connection_id} } } @{ $st->{fragments} } ],
           [ grep { ($_->{stream_id} // '') eq $a } @{ $st->{connections} } ];
}

sub dubbed {
    my ($a) = @_;
    return scalar $t->log_lines(qr/"$a\/$a" segment \d+ fragment \S+ out with dubbed/);
}

# nth_fragment: the 3rd and 6th, seq 2 and 5

my @failed = map { /seq (\d+) processed/ } $t->log_lines(
    qr/"nth\/nth" fragment \S+ seq \d+ processed by session \S+: failed .*error MODEL_ERROR/);
is("@failed", '2 5', 'nth: the 3rd and 6th fragments fail');
is(dubbed('nth'), 4, 'nth: the others are dubbed');

# fragment_id and error_event: that fragment, by an error event

my ($ff) = frags('fid');
my ($f) = grep { $_->{fragment_id} eq ($id // '') } @$ff;
is($f && $f->{rule}, 'error_event', 'fid: the rule hit that fragment');
ok(scalar $t->log_lines(qr/"fid\/fid" STS error QUEUE_FULL for fragment \Q$id\E: "busy", retryable/),
   'fid: the module gets an error event for it');
is(scalar $t->log_lines(qr/"fid\/fid" segment \d+ fragment \S+ falls back to its original audio: error/),
   1, 'fid: it falls back as error, and only it');
ok(scalar $t->log_lines(qr/"fid\/fid" segment \d+ fragment \Q$id\E falls back to its original audio: error/),
   'fid: by its id');
ok(@$ff >= 4 && dubbed('fid') == @$ff - 1,
   'fid: the others sent are dubbed (' . dubbed('fid') . ')');

# --disconnect-after 2: each connection dropped at its second fragment

my ($frags, $conns) = frags('dis');
my @cut = grep { ($_->{answer} // '') eq 'disconnected' } @$frags;
ok(@$conns >= 3 && !grep({ $_->{fragments_received} > 2 } @$conns),
   'dis: ' . @$conns . ' connections, each dropped at its second fragment');
ok(@cut >= 2, 'dis: ' . @cut . ' fragments cut off');
$t->lost_in_flight_ok('dis/dis', [ map { $_->{fragment_id} } @cut ], 'dis');
ok(dubbed('dis') >= 2, 'dis: the first of each connection dubbed ('
   . dubbed('dis') . ')');

# simulate:disconnect: the module's connection goes 1.5 s later

my $st = $sts{sim}->stats;
($frags, $conns) = frags('sim');
my ($ev) = grep { $_->{name} eq 'simulate:disconnect' } @{ $st->{events} };
my $after = ($conns->[0]{disconnected_at} // 0) - ($ev->{at} // 0);
ok($after >= 1499 && $after < 6000,
   "sim: the module's connection closed $after ms after the event");
is($conns->[0]{disconnect_reason}, 'server namespace disconnect',
   'sim: by the server');
ok(scalar $t->log_lines(qr/"sim\/sim" STS reconnect attempt 1 in 500ms/),
   'sim: the module reconnects');
my @lost = map { $_->{fragment_id} }
           grep { ($_->{answer} // '') eq 'abandoned' } @$frags;
$t->lost_in_flight_ok('sim/sim', \@lost, 'sim');
ok(@$conns == 2 && grep({ $_->{connection_id} eq $conns->[1]{id}
                          && $_->{answer} eq 'success' } @$frags),
   'sim: dubbing on the new connection');

done_testing;

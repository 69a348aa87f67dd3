#!/usr/bin/perl

# The Socket.IO session: handshake headers and auth payload, namespaces
# ("/" and a named one), a refused namespace (retried), refused
# credentials (not retried), the server's heartbeat, and an STS that never
# says stream:ready (init timeout).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my %app = (
    auth    => [ 'dub_sts_header X-Api-Key k1; dub_sts_header X-Team dub;'
                 . ' dub_sts_auth token secret;' ],
    badauth => [ 'dub_sts_auth token wrong;' ],
    autherr => [ 'dub_sts_auth token wrong;' ],
    nsp     => [ '' ],
    ping    => [ '' ],
    noready => [ 'dub_sts_init_timeout 1s;' ],
    nocomp  => [ 'dub_sts_timeout 2s;' ],
);

my %sts_opts = (
    auth    => [ '--auth-token', 'secret' ],
    badauth => [ '--auth-token', 'secret', '--auth-mode', 'connect_error' ],
    autherr => [ '--auth-token', 'secret', '--auth-mode', 'error_event' ],
    nsp     => [ '--refuse-namespace' ],
    ping    => [ '--ping-interval', 1000, '--ping-timeout', 1000 ],
    noready => [ '--no-ready' ],
    nocomp  => [ '--no-complete' ],
);

my $t = DubTest->new();
my %sts;
my $rtmp = '';

for my $a (sort keys %app) {
    $sts{$a} = $t->sts('--port', 0, '--mode', 'tone', @{ $sts_opts{$a} });

    # the ping STS is reached on the default namespace
    my $url = $a eq 'ping' ? "http://127.0.0.1:${\$sts{$a}->port}"
                           : $sts{$a}->url;

    $rtmp .= <<"EOF";
        application $a {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_reconnect 1s;
            dub_sts_url $url;
            $app{$a}[0]
        }

EOF
}

$t->set_conf(rtmp => $rtmp . "        application dubbed { live on; }\n");
$t->run;

my @pub = map { $t->publish('short', "$_/s$_") } sort keys %app;
is($t->wait_exit($_, 30), 0, 'published') for @pub;

for my $a (sort keys %app) {
    ok($t->wait_log(qr/"dubbed\/s$a" output done/, 40), "$a: output drained");
}

sub dubbed {
    my ($a) = @_;
    return scalar $t->log_lines(qr/"$a\/s$a" segment \d+ fragment \S+ out with dubbed/);
}

# headers and auth

my $c = $sts{auth}->stats->{connections}[0];
is($c->{headers}{'x-stream-id'}, 'sauth', 'X-Stream-ID is the stream name');
like($c->{headers}{'x-worker-id'} // '', qr/^\S+:\d+$/, 'X-Worker-ID');
is($c->{headers}{'x-api-key'}, 'k1', 'configured header');
is($c->{headers}{'x-team'}, 'dub', 'second configured header');
is($c->{auth}{token}, 'secret', 'auth payload');
is($c->{namespace}, '/sts', 'namespace from the URL path');
ok(dubbed('auth') >= 5, 'dubbed with the right credentials');

my $init = $sts{auth}->stats->{inits}[0]{payload};
is($init->{config}{target_language}, 'es', 'stream:init target language');
is($init->{config}{source_language}, 'en', 'stream:init source language');
is($init->{config}{sample_rate_hz}, 44100, 'stream:init sample rate');
is($init->{max_inflight}, 3, 'stream:init max_inflight');

# refused credentials: once, and no more

my $st = $sts{badauth}->stats;
is(scalar @{ $st->{refused} // [] } + scalar @{ $st->{connections} }, 1,
   'refused at connect: a single attempt');
ok(scalar $t->log_lines(qr/"badauth\/sbadauth" STS refused the credentials: no more attempts/),
   'refused at connect: logged, not retried');

$st = $sts{autherr}->stats;
is(scalar @{ $st->{connections} }, 1, 'AUTH_FAILED event: a single attempt');
ok(scalar $t->log_lines(qr/"autherr\/sautherr" STS error AUTH_FAILED/),
   'AUTH_FAILED event: logged');
ok(!dubbed('autherr') && !dubbed('badauth'), 'nothing dubbed without credentials');

# a refused namespace is retried

ok(scalar $t->log_lines(qr/"nsp\/snsp" STS "[^"]+" refused: /),
   'refused namespace logged');
ok(scalar $t->log_lines(qr/"nsp\/snsp" STS reconnect attempt 3 in 1000ms/),
   'and retried');

# heartbeat: the server pings every second and would drop a silent client

is(scalar @{ $sts{ping}->stats->{connections} }, 1,
   'heartbeat answered: one connection all along');
is($sts{ping}->stats->{connections}[0]{namespace}, '/', 'default namespace');
ok(dubbed('ping') >= 5, 'dubbed through the heartbeats');
ok(!$t->log_lines(qr/"ping\/sping" STS reconnect/), 'no reconnection');

# no stream:ready

ok(scalar $t->log_lines(qr/"noready\/snoready" no stream:ready from STS "[^"]+" within 1000ms/),
   'init timeout logged');
ok(scalar $t->log_lines(qr/"noready\/snoready" segment \d+ out with original audio: (not_ready|sts_unavailable)/),
   'init timeout: original audio');
ok(@{ $sts{noready}->stats->{inits} } >= 2, 'and stream:init tried again');

# no stream:complete: the wait for it is bounded

ok($t->wait_log(qr/"nocomp\/snocomp" no stream:complete within 2000ms, closing/, 10),
   'no stream:complete: closed after dub_sts_timeout');
ok(scalar $t->log_lines(qr/"nocomp\/snocomp" done: 6 sent/),
   'and the stream is done');

$t->stop_ok;

done_testing;

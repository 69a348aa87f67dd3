#!/usr/bin/perl

# wss:// to an STS whose certificate comes from a CA the test makes: it
# works with "dub_sts_ssl_trusted_certificate" pointing at that CA, and a
# wrong CA is refused with a clear log line (the stream keeps its
# original audio).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        application good {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 10s;
            dub_sts_url wss://localhost:%%PORT%%/sts;
            dub_sts_ssl_trusted_certificate %%TESTDIR%%/ca.pem;
        }

        application wrong {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_url wss://localhost:%%PORT%%/sts;
            dub_sts_ssl_trusted_certificate %%TESTDIR%%/other-ca.pem;
            dub_sts_reconnect 1s;
        }

        application dubbed {
            live on;
        }
EOF

my $d = $t->dir;

sub openssl {
    my ($cmd) = @_;
    system("openssl $cmd >>$d/logs/openssl.log 2>&1") == 0
        or die "openssl $cmd failed: " . $t->read_file('logs/openssl.log');
}

# a CA, a server certificate for "localhost" signed by it, another CA

openssl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=dub-test-ca "
        . "-keyout $d/ca.key -out $d/ca.pem");
openssl("req -newkey rsa:2048 -nodes -subj /CN=localhost "
        . "-keyout $d/server.key -out $d/server.csr");
open my $fh, '>', "$d/ext.cnf" or die;
print $fh "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
close $fh;
openssl("x509 -req -days 2 -in $d/server.csr -CA $d/ca.pem -CAkey $d/ca.key "
        . "-CAcreateserial -extfile $d/ext.cnf -out $d/server.pem");
openssl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca "
        . "-keyout $d/other-ca.key -out $d/other-ca.pem");

my $sts = $t->sts('--port', 0, '--mode', 'tone', '--tls-cert',
                  "$d/server.pem", '--tls-key', "$d/server.key");
my $port = $sts->port;
$t->set(PORT => $port);
$t->run;

my $p1 = $t->publish('short', 'good/g');
my $p2 = $t->publish('short', 'wrong/w');

is($t->wait_exit($p1, 30), 0, 'published over wss');
is($t->wait_exit($p2, 30), 0, 'published with the wrong CA');
ok($t->wait_log(qr/"dubbed\/g" output done/, 30)
   && $t->wait_log(qr/"dubbed\/w" output done/, 15), 'outputs drained');

ok($t->log_lines(qr/"good\/g" segment \d+ fragment \S+ out with dubbed/) >= 5,
   'the trusted CA: dubbed over wss');

my ($refused) = $t->log_lines(qr/"wrong\/w" STS "wss:\/\/localhost:\d+\/sts" connection failed/);
like($refused // '', qr/TLS certificate verification failed: unable to get local issuer certificate/,
     'the wrong CA: refused, and the log says why');
note($refused // 'no line');
ok(!$t->log_lines(qr/"wrong\/w" segment \d+ fragment \S+ out with dubbed/),
   'nothing dubbed through an untrusted certificate');
ok(scalar $t->log_lines(qr/"wrong\/w" segment \d+ out with original audio: sts_unavailable/),
   'its segments carry their original audio');

# the echo STS's control endpoint is TLS too: read its log instead
my @conn = grep { /connection \S+ nsp=\/sts stream=g / }
           split /\n/, $t->read_file('logs/sts1.log');
ok(@conn >= 1, 'the STS saw the good stream connect over TLS');

$t->stop_ok;

done_testing;

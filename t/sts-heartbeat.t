#!/usr/bin/perl

# An Engine.IO server whose open packet asks for a ping interval of
# INT64_MAX ms: the module refuses it (a bad open packet, logged with the
# value and the limit of 10 min) and tries again on its reconnection
# schedule, instead of overflowing its heartbeat timer and declaring every
# session dead at once.  The server is a raw WebSocket server written
# here: socket.io would not send such a value.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use Digest::SHA qw(sha1_base64);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(setsid);

my $port = DubTest::port();

my $t = DubTest->new(rtmp => <<"EOF");
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_sts_reconnect 500ms;
            dub_sts_url http://127.0.0.1:$port/sts;
        }

        application dubbed {
            live on;
        }
EOF

my $open = '0{"sid":"x1","upgrades":[],"pingInterval":9223372036854775807,'
         . '"pingTimeout":20000,"maxPayload":1000000}';
my $log = $t->dir . '/connections';

sub frame {
    my ($text) = @_;
    my $len = length $text;
    return "\x81" . ($len < 126 ? chr($len) : "\x7e" . pack('n', $len))
           . $text;
}

# the server: each connection gets the handshake and the open packet,
# then is read until the client closes it

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => $port, Listen => 8, ReuseAddr => 1) or die "listen: $!";

my $server = fork // die "fork: $!";

if ($server == 0) {
    setsid();

    while (my $c = $listen->accept) {
        my $req = '';
        my $sel = IO::Select->new($c);

        while ($req !~ /\r\n\r\n/ && $sel->can_read(30)) {
            sysread($c, $req, 4096, length $req) or last;
        }

        my ($key) = $req =~ /^Sec-WebSocket-Key:\s*(\S+)/mi;
        next unless $key;

        my $accept = sha1_base64($key . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
        syswrite($c, "HTTP/1.1 101 Switching Protocols\r\n"
                 . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 . "Sec-WebSocket-Accept: $accept=\r\n\r\n" . frame($open));

        open my $fh, '>>', $log or die;
        print $fh "connection\n";
        close $fh;

        while ($sel->can_read(30)) {
            sysread($c, my $buf, 4096) or last;
        }

        close $c;
    }

    POSIX::_exit(0);
}

push @DubTest::PIDS, $server;
close $listen;

$t->run;

my $pub = $t->publish('short', 'live/h');

ok($t->wait_for(sub { $t->read_file($log) =~ tr/\n// >= 3 }, 30),
   'the module connected 3 times');

ok(scalar $t->log_lines(qr/dub: "http:\/\/127\.0\.0\.1:$port\/sts" bad Engine\.IO open packet: "pingInterval" 9223372036854775807 is over 600000 ms/),
   'the open packet is refused, with the value and the limit');
ok(scalar $t->log_lines(qr/"live\/h" STS "[^"]+" broken: bad open packet/),
   'the session ends as broken');
ok(scalar $t->log_lines(qr/"live\/h" STS reconnect attempt \d+ in 500ms/),
   'and is tried again on the schedule');
is(scalar $t->log_lines(qr/heartbeat/), 0, 'no heartbeat timeout');

is($t->wait_exit($pub, 30), 0, 'published');
ok($t->wait_log(qr/"dubbed\/h" output done/, 30),
   'output done, with the original audio');

$t->stop_ok;

done_testing;

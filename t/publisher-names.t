#!/usr/bin/perl

# Stream names chosen by a hostile publisher (a raw RTMP client, since
# encoders cannot send them): CR/LF meant to inject a header into the STS
# handshake, bytes that are not UTF-8, and a name that nginx-rtmp cuts in
# the middle of a character.  The name leaves nginx in one encoded form
# (%XX for what is not printable UTF-8) in the X-Stream-ID header, the
# JSON stream_id, the metrics label and the log; /metrics stays valid for
# Prometheus; each stream is still dubbed.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use DubRtmp;
use Encode qw(decode);
use POSIX qw(_exit);
use Test::More;

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m max_streams=10;',
    http => <<'EOF', rtmp => <<'EOF');
        location /metrics {
            dub_metrics;
        }
EOF
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 6s;
            dub_sts_url %%STS%%;
            dub_sts_header X-Api-Key secret;
        }

        application dubbed {
            live on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url);
$t->run;

# name published => the form it must leave nginx in (bytes)
my @names = (
    [ "crlf\r\nX-Injected: yes", 'crlf%0D%0AX-Injected: yes' ],
    # the longest form: 255 bytes, most of them encoded
    [ "bad\xff\xfe \"q\\ 100%" . ("\x7f" x 238),
      'bad%FF%FE "q\\ 100%25' . ('%7F' x 238) ],
    # nginx-rtmp keeps 255 bytes: 127 characters and half of one
    [ "\xc3\xa9" x 200, ("\xc3\xa9" x 127) . '%C3' ],
);

# the three publishers at once, in real time
my @pids;
for my $n (@names) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $ok = eval {
            my $p = DubRtmp->new(port => $t->rtmp_port, app => 'live');
            $p->publish($n->[0]);
            $p->send_flv(DubTest::fixture('short'));
            $p->close;
            1;
        };
        print STDERR $@ unless $ok;
        _exit($ok ? 0 : 1);
    }
    push @pids, $pid;
}

is($t->wait_exit($_, 60), 0, 'hostile name published') for @pids;

my %want = map { ('live/' . $_->[1]) => 1 } @names;

ok($t->wait_for(sub {
    my @done = $t->log_lines(qr/dub: "live\/.*" done: /);
    return @done == @names;
}, 60), 'every stream drained and ended');

# the STS saw the encoded name, and no header of the publisher's

my $stats = $sts->stats;
my @conn = @{ $stats->{connections} };
is(scalar @conn, scalar @names, 'one STS connection per stream');

my %ids;
for my $c (@conn) {
    my $h = $c->{headers};
    $ids{ $h->{'x-stream-id'} // '' }++;
    ok(!exists $h->{'x-injected'}, 'no injected header')
        or diag(explain $h);
    is($h->{'x-api-key'}, 'secret', 'the operator\'s header intact');
    my @raw = @{ $c->{raw_headers} };
    my @names = map { $raw[2 * $_] } 0 .. $#raw / 2;
    is(scalar(grep { /injected/i } @names), 0, 'nor in the raw headers')
        or diag(explain \@raw);
}

for my $n (@names) {
    # Node reads header bytes as Latin-1
    my $latin1 = decode('latin1', $n->[1]);
    ok($ids{$latin1}, "X-Stream-ID is the encoded name: "
       . substr($n->[1] =~ s/[^ -~]/?/gr, 0, 40));
}

# each connection's stream_id from its stream:init (the list of inits
# shortens long strings)
is(scalar @{ $stats->{inits} }, scalar @names, 'one stream:init each');
my %json = map { ($_->{stream_id} // '') => 1 } @conn;
for my $n (@names) {
    ok($json{ decode('UTF-8', $n->[1]) }, 'stream:init stream_id is the '
       . 'encoded name, valid UTF-8');
}

my @frag = grep { defined $_->{stream_id} } @{ $stats->{fragments} };
ok(@frag && !grep({ !$json{ $_->{stream_id} } } @frag),
   'fragment:data carries the same stream_id');

# /metrics: valid for Prometheus, the encoded names as labels

my ($m, $body) = $t->metrics;
my ($ok, $out) = $t->promtool_check($body);
ok($ok, 'promtool check metrics passes with the hostile names') or diag($out);
ok(utf8::decode(my $copy = $body), '/metrics is valid UTF-8');

for my $n (@names) {
    my $label = ('live/' . $n->[1]) =~ s/(["\\])/\\$1/gr;
    my $k = "nginx_dub_segments_dubbed_total{stream=\"$label\",lang=\"es\"}";
    ok(($m->{$k} // 0) > 0, 'still dubbed, labelled with the encoded name: '
       . ($m->{$k} // 'no series'));
}

# the log: our lines carry the encoded name, whole and valid UTF-8

my @ours = $t->log_lines(qr/dub: "live\//);
ok(@ours > 20, 'the streams are in the log (' . scalar(@ours) . ' lines)');
is(scalar(grep { /dub: "live\/crlf/
                 && !/dub: "live\/crlf%0D%0AX-Injected: yes"/ } @ours), 0,
   'no line of ours broken by the name');
is(scalar(grep { !utf8::decode(my $l = $_) } @ours), 0,
   'every line of ours valid UTF-8');
ok(scalar(grep { /dub: "live\/crlf%0D%0AX-Injected: yes" segment/ } @ours),
   'the encoded name in the log');

done_testing;

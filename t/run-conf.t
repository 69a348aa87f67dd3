#!/usr/bin/perl

# conf/nginx.conf, what "make run" starts, works as shipped: a stream
# pushed to live/NAME comes out of dubbed/NAME and as HLS (the original
# too), the watch page, its player and /status are served, and
# stub_status answers.  Only the ports and paths are changed for the test.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use IO::Socket::INET;
use JSON::PP;

plan skip_all => 'Debian nginx only' if $ENV{TEST_NGINX_STATIC};

my $t = DubTest->new;
my $dir = $t->dir;

open my $fh, '<', "$DubTest::TOP/conf/nginx.conf" or die $!;
my $conf = do { local $/; <$fh> };
close $fh;

$conf =~ s/listen 1935;/listen 127.0.0.1:${\$t->rtmp_port};/ or die;
$conf =~ s/listen 8080;/listen 127.0.0.1:${\$t->http_port};/ or die;
$conf =~ s{load_module modules/}{load_module $DubTest::TOP/build/} or die;
$conf =~ s/^(\s*dub_delay) 14s;/$1 8s;/m or die;

my $sts = $t->sts('--port', 0, '--mode', 'echo');
$conf =~ s{dub_sts_url http://127.0.0.1:8000/sts;}{dub_sts_url ${\$sts->url};}
    or die;
$conf =~ s/^(\s*live on;\n\s*deny publish all;)/$1\n            play_restart on;/m
    or die;

mkdir "$dir/$_" for qw(client_body_temp proxy_temp fastcgi_temp uwsgi_temp
                       scgi_temp);
chmod 0777, "$dir/hls";
symlink("$DubTest::TOP/www", "$dir/www") or die;

open $fh, '>', "$dir/run.conf" or die;
print $fh $conf;
close $fh;

# from the directory nginx runs in, as make run does: hls_path is relative
my $out = `cd $dir && nginx -t -p $dir/ -c $dir/run.conf 2>&1`;
is($?, 0, 'conf/nginx.conf passes nginx -t') or diag($out);

$t->run(conf => "$dir/run.conf", chdir => $dir, args => ['-g', 'daemon off;']);

my $rec = "$dir/out.flv";
my $player = $t->play('dubbed/demo', $rec);
$t->wait_player('demo', 30);
my $pub = $t->publish('short', 'live/demo');

is($t->wait_exit($pub, 30), 0, 'pushed to live/demo');
is($t->wait_exit($player, 30), 0, 'played dubbed/demo');
# echo STS: the audio comes back re-encoded; the picture is the same
my $s = DubTest::streams($rec);
ok(defined $s->{h264} && defined $s->{aac}, 'played back video and audio');

ok(-s "$dir/hls/dubbed/demo.m3u8", 'HLS playlist of the dubbed stream');
ok(-s "$dir/hls/live/demo.m3u8", 'and of the original');
my $m = $t->metrics;
ok(($m->{'nginx_dub_segments_dubbed_total{stream="live/demo",lang="es"}'}
    // 0) >= 1, 'segments dubbed through the STS');

my $sock = IO::Socket::INET->new(PeerAddr => q(127.0.0.1),
                                 PeerPort => $t->http_port) or die;
print $sock "GET /stub_status HTTP/1.0\r\n\r\n";
my $resp = do { local $/; <$sock> };
like($resp, qr/Active connections: \d+/, 'stub_status answers');

my ($status, $body) = $t->http_get('/metrics');
like($body, qr/^nginx_dub_segments_total\{stream="live\/demo",lang="es",track="video"\} [1-9]/m,
     '/metrics answers, with the stream');

# the watch page, its player, and the status it reads

my ($code, $page, $h) = $t->http_get('/');
ok($code == 200 && $h->{'content-type'} =~ m{^text/html}
   && $page =~ /<video id="video"/, 'the watch page at /');
($code, undef, $h) = $t->http_get('/node_modules/hls.js/dist/hls.min.js');
ok($code == 200 && $h->{'content-type'} =~ m{^application/javascript},
   'its player, hls.js');
($code, $body, $h) = $t->http_get('/status');
my $doc = eval { JSON::PP::decode_json($body) };
ok($code == 200 && $h->{'content-type'} =~ m{^application/json} && $doc
   && grep({ $_->{app} eq 'live' && $_->{name} eq 'demo'
             && $_->{languages}[0]{output} eq 'dubbed' } @{ $doc->{streams} }),
   '/status lists the stream, dubbed into "dubbed"') or diag($body);

$t->stop_ok;

done_testing;

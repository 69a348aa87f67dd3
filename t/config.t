#!/usr/bin/perl

# nginx -t: a good configuration passes with the module loaded after
# ngx_rtmp_module.so; bad values and combinations fail with a message
# that names the directive.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new;

sub conf {
    my ($live, %o) = @_;
    my $out = $o{out} // "live on;";
    my $server = $o{server} // '';
    return <<"EOF";
        $server
        application live {
            live on;
            $live
        }

        application dubbed {
            $out
        }
EOF
}

my ($rc, $out) = $t->test_conf(rtmp => conf("dub on; dub_output_app dubbed;"));
is($rc, 0, 'minimal configuration passes') or diag($out);

($rc, $out) = $t->test_conf(rtmp => conf(<<'EOF'));
            dub on;
            dub_output_app dubbed;
            dub_segment 2;
            dub_delay 5500ms;
            dub_max_buffer 16m;
            dub_captions on;
            dub_audio_coder twoloop;
EOF
is($rc, 0, 'all directives with good values pass') or diag($out);

($rc, $out) = $t->test_conf(rtmp => conf("dub off;"));
is($rc, 0, 'dub off needs no output application') or diag($out);

($rc, $out) = $t->test_conf(rtmp => conf("dub_segment 3s;",
    server => "dub_output_app dubbed; dub_delay 20s;"));
is($rc, 0, 'settings at server level') or diag($out);

my @bad = (
    [ "dub on;", qr/"dub_output_app" is required when "dub" is on/,
      'dub on without dub_output_app' ],
    [ "dub maybe; dub_output_app dubbed;",
      qr/invalid value "maybe" in "dub" directive/, 'dub takes on|off' ],
    [ "dub on; dub_output_app dubbed; dub_captions yes;",
      qr/invalid value "yes" in "dub_captions" directive, it must be "on" or "off"/,
      'dub_captions takes on|off' ],
    [ "dub on; dub_output_app nowhere;",
      qr/"dub_output_app" names "nowhere", which is not an application.*nginx\.conf:\d+/,
      'output application must exist' ],
    [ "dub on; dub_output_app live;",
      qr/"dub_output_app" must name another application than "live"/,
      'output application is not the input' ],
    [ "dub on; dub_output_app dubbed; dub_output_app other;",
      qr/"dub_output_app" directive is duplicate/, 'duplicate output' ],
    [ "dub on; dub_output_app a/b;",
      qr/invalid application name "a\/b" in "dub_output_app"/,
      'output name without slash' ],
    [ "dub on; dub_output_app dubbed; dub_segment 500ms;",
      qr/"dub_segment" must be between 1s and 60s, not 500ms/,
      'segment too short' ],
    [ "dub on; dub_output_app dubbed; dub_segment 0;",
      qr/"dub_segment" must be between 1s and 60s, not 0ms/,
      'segment of zero' ],
    [ "dub on; dub_output_app dubbed; dub_segment 61s;",
      qr/"dub_segment" must be between 1s and 60s/, 'segment too long' ],
    [ "dub on; dub_output_app dubbed; dub_segment six;",
      qr/"dub_segment" directive invalid value/, 'segment not a time' ],
    [ "dub on; dub_output_app dubbed; dub_delay 6s;",
      qr/"dub_delay" \(6000ms\) must be greater than "dub_segment" \(6000ms\)/,
      'delay not above the segment' ],
    [ "dub on; dub_output_app dubbed; dub_segment 10s; dub_delay 9s;",
      qr/"dub_delay" \(9000ms\) must be greater than "dub_segment"/,
      'delay under the segment' ],
    [ "dub on; dub_output_app dubbed; dub_delay 11m;",
      qr/"dub_delay" must be at most 600s/, 'delay too long' ],
    [ "dub on; dub_output_app dubbed; dub_max_buffer 100k;",
      qr/"dub_max_buffer" must be at least 1m/, 'buffer too small' ],
    [ "dub on; dub_output_app dubbed; dub_segment;",
      qr/invalid number of arguments in "dub_segment" directive/,
      'segment needs a value' ],
);

push @bad, (
    [ "dub on; dub_output_app dubbed; dub_sts_url ftp://x/sts;",
      qr/invalid URL "ftp:\/\/x\/sts" in "dub_sts_url": it must start with ws:\/\/, wss:\/\/, http:\/\/ or https:\/\//,
      'STS URL scheme' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url http://no-such-host.invalid/sts;",
      qr/host not found in "dub_sts_url" "http:\/\/no-such-host\.invalid\/sts"/,
      'STS host resolved at configuration time' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url http://127.0.0.1:1/sts?x=1;",
      qr/no query string allowed in "dub_sts_url"/, 'STS URL query' ],
    [ "dub on; dub_output_app dubbed; dub_sts_max_inflight 0;",
      qr/"dub_sts_max_inflight" must be between 1 and 10, not 0/,
      'max in flight 0' ],
    [ "dub on; dub_output_app dubbed; dub_sts_max_inflight 11;",
      qr/"dub_sts_max_inflight" must be between 1 and 10, not 11/,
      'max in flight 11' ],
    [ "dub on; dub_output_app dubbed; dub_sts_reconnect 2s soon;",
      qr/invalid interval "soon" in "dub_sts_reconnect"/,
      'reconnect schedule' ],
    [ "dub on; dub_output_app dubbed; dub_audio_bitrate 8k;",
      qr/"dub_audio_bitrate" must be from 16k to 512k, not "8k"/,
      'bitrate' ],
    [ "dub on; dub_output_app dubbed; dub_audio_coder slow;",
      qr/"dub_audio_coder" must be "fast" or "twoloop", not "slow"/,
      'coder' ],
    [ "dub on; dub_output_app dubbed; dub_sts_max_message 1k;",
      qr/"dub_sts_max_message" must be at least 64k/, 'max message' ],
    [ "dub on; dub_output_app dubbed; dub_breaker_threshold 0;",
      qr/"dub_breaker_threshold" must be at least 1/, 'breaker threshold' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url http://127.0.0.1:1/;"
      . " dub_sts_ssl_trusted_certificate /no/such/ca.pem;",
      qr/"dub_sts_ssl_trusted_certificate" "\/no\/such\/ca.pem" cannot be read/,
      'CA file must exist' ],
    [ "dub on; dub_output_app dubbed; dub_sts_header 'Bad Name' x;",
      qr/invalid name "Bad Name" in "dub_sts_header"/, 'header name' ],
    [ "dub on; dub_output_app dubbed; dub_sts_header " . ('X' x 300) . " x;",
      qr/the name in "dub_sts_header" is 300 characters long, over 128/,
      'header name of 300 characters' ],
    [ "dub on; dub_output_app dubbed; dub_sts_header X(y) x;",
      qr/invalid name "X\(y\)" in "dub_sts_header": letters, digits and/,
      'header name not a token' ],
    [ "dub on; dub_output_app dubbed; dub_sts_header 'X-Key' \"a\r\nX-Evil: 1\";",
      qr/invalid value in "dub_sts_header": no line breaks/,
      'header value with CR LF' ],
    [ "dub on; dub_output_app dubbed; dub_sts_header X-Key \"a\tb\x01\";",
      qr/invalid value in "dub_sts_header": no control characters/,
      'header value with a control character' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url http://127.0.0.1:1/;"
      . " dub_sts_header X-A " . ('a' x 1500) . ";"
      . " dub_sts_header X-B " . ('b' x 1500) . ";",
      qr/the "dub_sts_header" headers take 3014 bytes, over the 2048 the WebSocket handshake has room for/,
      'headers over the handshake room' ],
);

# trusted CA files that are not what they should be

my $dir = $t->dir;

for (['notpem.crt', "just some text\n"],
     ['corrupt.crt', "-----BEGIN CERTIFICATE-----\nAAA!!!\n"
                     . "-----END CERTIFICATE-----\n"],
     ['random.crt', join('', map { chr(int(rand(256))) } 1 .. 512)])
{
    open my $fh, '>:raw', "$dir/$_->[0]" or die;
    print $fh $_->[1];
    close $fh;
}

push @bad, (
    [ "dub on; dub_output_app dubbed; dub_sts_url https://127.0.0.1:1/;"
      . " dub_sts_ssl_trusted_certificate $dir/notpem.crt;",
      qr/"dub_sts_ssl_trusted_certificate" "\Q$dir\E\/notpem.crt" holds no PEM certificate/,
      'CA file that is not PEM' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url https://127.0.0.1:1/;"
      . " dub_sts_ssl_trusted_certificate $dir/random.crt;",
      qr/"dub_sts_ssl_trusted_certificate" "\Q$dir\E\/random.crt" holds no PEM certificate/,
      'CA file of random bytes' ],
    [ "dub on; dub_output_app dubbed; dub_sts_url https://127.0.0.1:1/;"
      . " dub_sts_ssl_trusted_certificate $dir/corrupt.crt;",
      qr/"dub_sts_ssl_trusted_certificate" "\Q$dir\E\/corrupt.crt" is not a valid PEM file/,
      'CA file with a broken PEM block' ],
);

for my $case (@bad) {
    my ($live, $re, $name) = @$case;
    ($rc, $out) = $t->test_conf(rtmp => conf($live));
    ok($rc != 0 && $out =~ $re, $name) or diag($out);
}

($rc, $out) = $t->test_conf(rtmp => conf("dub on; dub_output_app dubbed;",
    out => "live off;"));
ok($rc != 0 && $out =~ /"dub_output_app" names "dubbed", which needs "live on"/,
   'output application needs live on') or diag($out);

($rc, $out) = $t->test_conf(rtmp => conf("dub on; dub_output_app dubbed;",
    out => "live on; dub on; dub_output_app live;"));
ok($rc != 0 && $out =~ /"dub_output_app" names "dubbed", which has "dub on"/,
   'output application must not dub') or diag($out);

($rc, $out) = $t->test_conf(rtmp => conf("dub_output_app dubbed;",
    server => "dub on;"));
ok($rc != 0 && $out =~ /"dub" directive is not allowed here/,
   'dub is an application directive') or diag($out);

# the metrics zone and location

($rc, $out) = $t->test_conf(rtmp => conf("dub off;"),
    http => 'location /metrics { dub_metrics; }');
ok($rc != 0 && $out =~ /"dub_metrics" serves the zone "dub", which no "dub_metrics_zone" defines: add "dub_metrics_zone dub 4m;" to the rtmp block/,
   'dub_metrics without a dub_metrics_zone') or diag($out);

$t->set_conf(rtmp_main => 'dub_metrics_zone dub 1m;');
($rc, $out) = $t->test_conf(rtmp => conf("dub off;"),
    http => 'location /metrics { dub_metrics other; }');
ok($rc != 0 && $out =~ /"dub_metrics" serves the zone "other", which no "dub_metrics_zone" defines: add "dub_metrics_zone other 4m;"/,
   'dub_metrics naming a zone no dub_metrics_zone defines') or diag($out);
$t->set_conf(rtmp_main => '');

$t->set_conf(rtmp_main => 'dub_metrics_zone dub 40k max_streams=1000;');
($rc, $out) = $t->test_conf(rtmp => conf("dub off;"));
ok($rc != 0 && $out =~ /"dub_metrics_zone" "dub" of 40960 bytes is too small for max_streams=1000/,
   'zone too small for max_streams') or diag($out);

$t->set_conf(rtmp_main => 'dub_metrics_zone dub 1m max_streams=0;');
($rc, $out) = $t->test_conf(rtmp => conf("dub off;"));
ok($rc != 0 && $out =~ /invalid "max_streams=0" in "dub_metrics_zone"/,
   'max_streams') or diag($out);

$t->set_conf(rtmp_main => 'dub_metrics_zone dub 1m retain=5m;');
($rc, $out) = $t->test_conf(rtmp => conf("dub on; dub_output_app dubbed;"),
    http => 'location /metrics { dub_metrics; }');
is($rc, 0, 'zone and location') or diag($out);
$t->set_conf(rtmp_main => '');

SKIP: {
    skip 'static build', 1 if $ENV{TEST_NGINX_STATIC};

    # loaded before ngx_rtmp_module.so, the module cannot resolve it
    my $conf = $t->conf_text(rtmp => conf("dub off;"));
    $conf =~ s/^(load_module \S+ngx_rtmp_module\.so;\n)(load_module .*\n)/$2$1/m;
    my $file = $t->dir . '/order.conf';
    open my $fh, '>', $file or die;
    print $fh $conf;
    close $fh;
    $out = `${\$t->binary} -t -p ${\$t->dir}/ -c $file 2>&1`;
    ok($? != 0 && $out =~ /undefined symbol/,
       'loading before ngx_rtmp_module.so fails at load time') or diag($out);
}

done_testing;

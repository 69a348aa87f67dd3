#!/usr/bin/perl

# on_publish in the input application: the module starts dubbing once
# nginx-rtmp has the HTTP approval, and not at all when it is refused.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

plan skip_all => 'needs the rewrite module for "return"'
    if $ENV{TEST_NGINX_STATIC};

my $t = DubTest->new(rtmp => <<'EOF', http => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 3s;
            on_publish http://127.0.0.1:%%HTTP_PORT%%/auth;
        }

        application closed {
            live on;
            dub on;
            dub_output_app dubbed;
            on_publish http://127.0.0.1:%%HTTP_PORT%%/deny;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF
        location /auth {
            return 200;
        }

        location /deny {
            return 403;
        }
EOF

$t->run;

my $out = $t->dir . '/ok.flv';
my $player = $t->play('dubbed/approved', $out);
ok($t->wait_player('approved', 30), 'player waits');

my $pub = $t->publish('short', 'live/approved');
is($t->wait_exit($pub, 30), 0, 'approved publish');
is($t->wait_exit($player, 20), 0, 'output ended');
DubTest::is_same_media(DubTest::fixture('short'), $out, 'approved');

$pub = $t->publish('short', 'closed/refused');
isnt($t->wait_exit($pub, 30), 0, 'refused publish fails');
ok($t->wait_log(qr/notify: publish .*\/deny/, 5)
   && !$t->log_lines(qr/dub: "closed\/refused"/), 'refused stream not dubbed');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# The watch page (www/) in a real browser: Debian's chromium, headless,
# driven by puppeteer-core (t/tools/watch-page.js).  nginx serves the
# page, /status and the HLS of the original and of two languages (the
# echo STS answers each with its own tone); the page lists the stream,
# its video plays, switching language loads the other application's
# HLS (and the audio its tone: Web Audio), the original plays too, and
# each language's state turns to original when the STS is stopped and
# back to dubbing when it returns; the captions the module puts in the
# video (dub_captions) reach the page as a text track with the
# language's text.

use strict;
use warnings;
no warnings qw(exec);

use lib 't/lib';
use DubTest;
use POSIX qw(setsid);
use Test::More;

my $chromium = '/usr/bin/chromium';
my $driver = "$DubTest::TOP/t/tools/node_modules/puppeteer-core";
my $hlsjs = "$DubTest::TOP/www/node_modules/hls.js/dist/hls.min.js";

DubTest::missing("no $chromium (scripts/setup.sh test)") unless -x $chromium;
DubTest::missing("no puppeteer-core in t/tools (scripts/setup.sh test)")
    unless -d $driver;
DubTest::missing("no hls.js in www (make sts)") unless -f $hlsjs;

# each application's HLS in a directory of its own, short fragments so
# that the player starts soon
my $hls = <<'EOF';
            hls on;
            hls_path %%TESTDIR%%/hls/%%APP%%;
            hls_fragment 1s;
            hls_playlist_length 6s;
EOF

my $rtmp = <<'EOF';
        application live {
            live on;
%%HLS_live%%
            dub on;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 5s;
            dub_sts_reconnect 1s;
            dub_sts_url %%STS%%;
            dub_language es dubbed_es;
            dub_language fr dubbed_fr;
            dub_captions on;
        }

        application dubbed_es {
            live on;
%%HLS_dubbed_es%%
        }

        application dubbed_fr {
            live on;
%%HLS_dubbed_fr%%
        }
EOF
sub hls_of { my ($app) = @_; return $hls =~ s/%%APP%%/$app/r }
$rtmp =~ s/%%HLS_(\w+)%%/hls_of($1)/ge;

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    rtmp => $rtmp, http => <<'EOF');
        types {
            text/html html;
            text/css css;
            application/javascript js;
            application/vnd.apple.mpegurl m3u8;
            video/mp2t ts;
        }

        location / {
            root %%TOP%%/www;
        }

        location = /status {
            dub_status;
        }

        location /hls/ {
            root %%TESTDIR%%;
            add_header Cache-Control no-cache;
        }
EOF

my $sts = $t->sts('--mode', 'tone', '--tone-lang', 'es=700,fr=1300');
$t->set(STS => $sts->url);
$t->run;

# two minutes of stream: the main fixture twice
my $pub = $t->publish('main', 'live/demo', '-stream_loop', 1);

# the browser's driver, its questions answered on its standard input

pipe(my $from, my $out) or die;
pipe(my $in, my $to) or die;

my $node = fork // die "fork: $!";
if ($node == 0) {
    setsid();
    close $from;
    close $to;
    open STDIN, '<&', $in or die;
    open STDOUT, '>&', $out or die;
    open STDERR, '>>', $t->dir . '/logs/browser.log' or die;
    exec 'node', "$DubTest::TOP/t/tools/watch-page.js",
        'http://127.0.0.1:' . $t->http_port . '/', 'live/demo', 'es=700',
        'fr=1300';
    POSIX::_exit(127);
}
push @DubTest::PIDS, $node;
close $out;
close $in;
$to->autoflush(1);

# the driver has a time limit for each step; this one for all of them
local $SIG{ALRM} = sub { kill 'TERM', $node; die "the browser hung\n" };
alarm 600;

while (my $line = <$from>) {
    chomp $line;

    if ($line =~ /^ok - (.*)/) {
        pass($1);

    } elsif ($line =~ /^not ok - (.*)/) {
        fail($1);

    } elsif ($line =~ /^# (.*)/) {
        diag($1);

    } elsif ($line eq 'ask stop-sts') {
        $sts->kill('KILL');
        print $to "stopped\n";

    } elsif ($line eq 'ask start-sts') {
        $sts->restart;
        print $to "started\n";
    }
}

alarm 0;
is($t->wait_exit($node, 30), 0, 'the browser did all it had to')
    or diag($t->read_file('logs/browser.log'));

$t->kill_proc($pub);
$t->wait_exit($pub, 10);

done_testing;

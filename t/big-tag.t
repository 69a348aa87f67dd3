#!/usr/bin/perl

# A publisher sends one video tag larger than "dub_max_buffer" (a 2 MB
# keyframe, nginx-rtmp's max_message raised to let it through): the log
# says so, with its size and the limit, rather than blaming a publisher
# that sends faster than real time; the publisher is closed and what was
# buffered still goes out.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        max_message 8m;

        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 4s;
            dub_max_buffer 1m;
        }

        application dubbed {
            live on;
        }
EOF

# the fixture with 2 MB of filler (an H.264 NAL unit of type 12) added to
# its keyframe at 4 s

my $extra = 2 * 1024 * 1024;
my $big = $t->dir . '/big.flv';

{
    open my $fh, '<:raw', DubTest::fixture('short') or die;
    my $d = do { local $/; <$fh> };
    my $pos = unpack('N', substr($d, 5, 4)) + 4;
    my $out = substr($d, 0, $pos);
    my $keys = 0;

    while ($pos + 11 <= length $d) {
        my $hdr = substr($d, $pos, 11);
        my $size = unpack('N', "\0" . substr($hdr, 1, 3));
        my $body = substr($d, $pos + 11, $size);
        $pos += 11 + $size + 4;

        # video, keyframe, AVC, NAL units
        if (ord($hdr) == 9 && ord($body) == 0x17
            && ord(substr($body, 1, 1)) == 1 && ++$keys == 3)
        {
            $body .= pack('N', $extra) . "\x0c" . ("\xff" x ($extra - 2))
                     . "\x80";
            substr($hdr, 1, 3) = substr(pack('N', length $body), 1, 3);
        }

        $out .= $hdr . $body . pack('N', 11 + length $body);
    }

    ok($keys >= 3, 'a keyframe made 2 MB larger');

    open $fh, '>:raw', $big or die;
    print $fh $out;
    close $fh;
}

$t->run;

my $pub = $t->publish($big, 'live/b');

ok($t->wait_log(qr/"live\/b" video tag of \d+ bytes, over "dub_max_buffer" 1048576: closing the publisher/, 30),
   'the tag is named, with its size and the limit');
ok(defined $t->wait_exit($pub, 30), 'the publisher is closed');
is(scalar $t->log_lines(qr/faster than real time/), 0,
   'not blamed on a publisher faster than real time');
ok($t->wait_log(qr/"dubbed\/b" output done/, 30),
   'what was buffered went out');

$t->stop_ok;

done_testing;

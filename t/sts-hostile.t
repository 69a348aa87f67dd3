#!/usr/bin/perl

# A hostile STS: malformed JSON, wrong types, unknown events, a 20 MB
# reply, bad base64, undecodable audio, deep nesting, a socket closed in
# the middle of a message.  Each costs at most its fragment (or the
# connection, when the framing breaks); the stream goes on with its
# original audio, and dubbing resumes.  t/sanitizer-hostile.t runs this
# under ASAN/UBSAN.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 12s;
            dub_sts_timeout 8s;
            dub_sts_max_message 1m;
            dub_sts_reconnect 500ms;
            dub_breaker_threshold 100;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF

my $sts = $t->sts('--port', 0, '--mode', 'tone');

my @rules = (
    [ 1, 'malformed_json' ],
    [ 2, 'wrong_types' ],
    [ 3, 'unknown_event' ],
    [ 4, 'oversize' ],
    [ 5, 'bad_base64' ],
    [ 6, 'undecodable' ],
    [ 8, 'close_mid_message' ],
);

$sts->control(rules => [ map { { trigger => 'sequence_number',
    value => $_->[0], action => $_->[1], once => JSON::PP::true } } @rules ]);

$t->set(STS => $sts->url);
$t->run;

my $looped = $t->dir . '/looped.flv';
system("ffmpeg -nostdin -v error -stream_loop 2 -i "
       . DubTest::fixture('short') . " -c copy -f flv $looped") == 0 or die;

my $out = $t->dir . '/out.flv';
my $player = $t->play('dubbed/h', $out);
ok($t->wait_player('h', 30), 'player waits');

my $pub = $t->publish($looped, 'live/h');

# events out of any fragment's life, mid-stream
ok($t->wait_log(qr/"live\/h" segment 2 .*cut/, 30), 'mid-stream');
$sts->emit(event => 'stream:ready', payload => { max_inflight => 'lots' });
$sts->emit(event => 'backpressure', payload => { action => 'explode' });
$sts->emit(event => 'error', payload => { message => 'no code' });
$sts->emit(raw => '2/sts,' . ('[' x 30000));
$sts->emit(raw => '2/sts,["fragment:processed",' . ('{"a":' x 5000) . '1'
                  . ('}' x 5000) . ']');
$sts->emit(raw => '2/sts,["big:event","' . ('x' x 200000) . '"]');

is($t->wait_exit($pub, 60), 0, 'published through it all');
is($t->wait_exit($player, 30), 0, 'output ended');

ok($t->log_lines(qr/malformed fragment:processed/) >= 1, 'malformed JSON');
ok($t->log_lines(qr/malformed fragment:processed: .*fragment_id/) >= 1
   || $t->log_lines(qr/bad fragment:processed/) >= 1, 'wrong types');
ok(scalar $t->log_lines(qr/unknown event "weird:event" from the STS ignored/),
   'unknown event');
ok(scalar $t->log_lines(qr/over "dub_sts_max_message"/)
   && $t->log_lines(qr/segment \d+ out with original audio: oversize/),
   '20 MB reply dropped, its fragment falls back');
ok(scalar $t->log_lines(qr/"data_base64" is not base64/), 'bad base64');
ok(scalar $t->log_lines(qr/dubbed audio \(m4a\) unusable/), 'undecodable');
ok($t->log_lines(qr/segment \d+ out with original audio: decode/) >= 2,
   'both fall back as decode');
ok(scalar $t->log_lines(qr/bad stream:ready/), 'wrong stream:ready ignored');
ok(scalar $t->log_lines(qr/bad backpressure event/), 'wrong backpressure');
ok(scalar $t->log_lines(qr/bad error event/), 'error without a code');
ok(scalar $t->log_lines(qr/malformed event from the STS: JSON nested/)
   && $t->log_lines(qr/malformed fragment:processed: JSON nested/),
   'deep nesting refused');
ok(scalar $t->log_lines(qr/big:event/), 'large unknown event dropped');
ok(scalar $t->log_lines(qr/STS reconnect attempt 1 in 500ms/),
   'connection closed mid-message: reconnected');

my @dubbed = map { /segment (\d+) fragment/ ? $1 : () }
             $t->log_lines(qr/"live\/h" segment \d+ fragment \S+ out with dubbed/);
ok(@dubbed >= 6 && $dubbed[-1] >= 12, 'dubbing goes on ('
   . scalar(@dubbed) . ' segments dubbed)');

# nothing of the picture or of the timing lost

my $vin = DubTest::stream_packets(DubTest::packets($looped),
                                  DubTest::streams($looped)->{h264});
my $vout = DubTest::stream_packets(DubTest::packets($out),
                                   DubTest::streams($out)->{h264});
is(scalar @$vout, scalar @$vin, 'every video frame out');
is(scalar @{ DubTest::stream_times($out, 'aac') },
   scalar @{ DubTest::stream_times($looped, 'aac') }, 'every audio frame out');

$t->stop_ok;

done_testing;

#!/usr/bin/perl

# The speech STS's own tests (sts/speech/test/*.test.js, node:test): its
# logic alone (fitting speech to a fragment, HTTP statuses onto the
# contract, keys kept out of messages, flags, voices) and its contract
# from a Socket.IO client with the stand-in APIs behind it (answers in
# sequence order, STREAM_PAUSED, INVALID_VOICE_PROFILE, backpressure
# from its queue, work cancelled with the connection, /health, /metrics).

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $dir = "$DubTest::TOP/sts/speech";
DubTest::missing("no $dir/node_modules/socket.io-client (make sts)")
    unless -d "$dir/node_modules/socket.io-client";

my @files = sort glob("$dir/test/*.test.js");
ok(@files >= 2, 'test files: ' . join(' ', map { s{.*/}{}r } @files));

my $out = `cd '$dir' && node --test --test-reporter=tap @files 2>&1`;
my $rc = $? >> 8;
my ($pass) = $out =~ /^# pass (\d+)$/m;
my ($fail) = $out =~ /^# fail (\d+)$/m;

for (grep { /^(not )?ok \d+ - / } split /\n/, $out) {
    my ($not, $name) = /^(not )?ok \d+ - (.*)$/;
    ok(!$not, "node: $name");
}
ok($rc == 0 && $pass && defined $fail && $fail == 0,
   "node --test: " . ($pass // 0) . ' passed, ' . ($fail // '?') . ' failed')
    or diag($out);

done_testing;

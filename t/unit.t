#!/usr/bin/perl

# Runs the C unit tests (build/unit/test_*, built by "make unit" with
# ASAN and UBSAN) and passes their TAP results on.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use TAP::Parser;

my @tests = sort glob('build/unit/test_*');

DubTest::missing('no unit tests built (make unit)') unless @tests;

for my $bin (@tests) {
    my $name = $bin =~ s{.*/}{}r;
    my $parser = TAP::Parser->new({ exec => [ $bin ] });
    my $n = 0;

    while (my $r = $parser->next) {
        next unless $r->is_test;
        $n++;
        ok($r->is_ok, "$name: " . $r->description =~ s/^- //r);
    }

    ok($n > 0 && !$parser->has_problems && $parser->exit == 0,
       "$name: ran to the end ($n tests)")
        or diag("exit " . ($parser->exit // 'none') . ", planned "
                . ($parser->tests_planned // 'none'));
}

done_testing;

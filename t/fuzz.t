#!/usr/bin/perl

# The libFuzzer targets (build/fuzz/, "make fuzz") run for a short while
# from the seed corpus: the Engine.IO/Socket.IO packet layer and the JSON
# payloads must survive whatever an STS sends.  Longer runs: see
# docs/testing.md.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use File::Temp qw(tempdir);

my @targets = sort glob('build/fuzz/fuzz_*');
DubTest::missing('no fuzz targets built (make fuzz)') unless @targets;

my $seconds = $ENV{FUZZ_SECONDS} // 15;

for my $bin (@targets) {
    my $name = $bin =~ s{.*/fuzz_}{}r;
    my $work = tempdir(CLEANUP => 1);
    my $out = `$bin -max_total_time=$seconds -print_final_stats=1 -artifact_prefix=$work/ $work t/fuzz/corpus/$name 2>&1`;
    my ($runs) = $out =~ /stat::number_of_executed_units:\s*(\d+)/;
    ok($? == 0 && $runs, "fuzz_$name: no crash in $seconds s ("
       . ($runs // 0) . " inputs)") or diag(join "\n", grep { /ERROR|SUMMARY|crash|leak/ } split /\n/, $out);
}

done_testing;

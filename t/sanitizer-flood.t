#!/usr/bin/perl

# t/sts-flood.t under the ASAN/UBSAN build: the rate limit of the log
# lines, its timer and its summaries leave no memory error and no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/sts-flood.t';
die $@ if $@;

#!/usr/bin/perl

# t/sts-late.t under the ASAN/UBSAN build: answers that come after their
# fragment's slot, when the segment has gone out already, are acknowledged
# and dropped without touching freed memory.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/sts-late.t';
die $@ if $@;

#!/usr/bin/perl

# t/sts-hostile.t under the ASAN/UBSAN build: a hostile STS leaves no
# memory error and no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/sts-hostile.t';
die $@ if $@;

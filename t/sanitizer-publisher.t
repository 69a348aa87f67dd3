#!/usr/bin/perl

# t/publisher-names.t under the ASAN/UBSAN build: hostile stream names
# (CR/LF, invalid UTF-8, a character cut at 255 bytes) leave no memory
# error and no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/publisher-names.t';
die $@ if $@;

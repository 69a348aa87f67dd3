#!/usr/bin/perl

# t/captions.t under the ASAN/UBSAN build (static nginx + nginx-rtmp +
# this module, NGX_DEBUG_PALLOC, LeakSanitizer on): no error, no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/captions.t';
die $@ if $@;

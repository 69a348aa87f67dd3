#!/usr/bin/perl

# t/kill.t under the ASAN/UBSAN build (static nginx + nginx-rtmp + this
# module, NGX_DEBUG_PALLOC, LeakSanitizer on): no error, no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/kill.t';
die $@ if $@;

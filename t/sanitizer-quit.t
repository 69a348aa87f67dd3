#!/usr/bin/perl

# t/quit.t under the ASAN/UBSAN build: streams cut short by
# worker_shutdown_timeout, and drained without one, leave no memory error
# and no leak.

use strict;
use warnings;

use lib 't/lib';
use DubTest;

DubTest::use_sanitizer_build();

do './t/quit.t';
die $@ if $@;

#!/usr/bin/perl

# t/kill.t under the ASAN/UBSAN build (static nginx + nginx-rtmp + this
# module, NGX_DEBUG_PALLOC, LeakSanitizer on): no error, no leak.

use strict;
use warnings;

BEGIN {
    my $nginx = 'build/asan/nginx';
    unless (-x $nginx) {
        print "1..0 # SKIP no sanitizer build (make asan)\n";
        exit 0;
    }
    $ENV{TEST_NGINX_BINARY} = $nginx;
    $ENV{TEST_NGINX_STATIC} = 1;
}

do './t/kill.t';
die $@ if $@;

#!/usr/bin/perl

# t/sts-hostile.t under the ASAN/UBSAN build: a hostile STS leaves no
# memory error and no leak.

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

do './t/sts-hostile.t';
die $@ if $@;

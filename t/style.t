#!/usr/bin/perl

# nginx code style in src/ and t/unit/, and docs/directives.md in step
# with the directives the source declares.

use strict;
use warnings;

use Test::More;

my $out = `scripts/check-style.pl 2>&1`;
is($?, 0, 'nginx code style') or diag($out);

$out = `scripts/check-docs.pl 2>&1`;
is($?, 0, 'every directive documented, nothing else') or diag($out);

done_testing;

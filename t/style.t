#!/usr/bin/perl

# nginx code style in src/ and t/unit/, and docs/directives.md in step
# with the directives the source declares.

use strict;
use warnings;

use Test::More;

my $out = `scripts/check-style.pl 2>&1`;
is($?, 0, 'nginx code style') or diag($out);

$out = `scripts/check-docs.pl 2>&1`;
is($?, 0, 'every directive and metric documented, nothing else; the '
   . 'dashboard and the alerts use real metrics') or diag($out);

$out = `promtool check rules docs/alerts.yml 2>&1`;
is($?, 0, 'promtool accepts docs/alerts.yml') or diag($out);

my $json = do { local $/; open my $fh, '<', 'docs/grafana-dashboard.json'
                              or die $!; <$fh> };
ok(eval { require JSON::PP; JSON::PP->new->decode($json)->{panels} },
   'the Grafana dashboard is valid JSON with panels') or diag($@);

done_testing;

#!/usr/bin/perl

# The directives documented in docs/directives.md are exactly those the
# source declares, and each has its syntax, default and context.

use strict;
use warnings;

my (%src, %doc);

for my $file (glob('src/*.c')) {
    open my $fh, '<', $file or die "$file: $!";
    my $in = 0;
    while (<$fh>) {
        $in = 1 if /ngx_command_t\s+\w+\[\]\s*=/;
        $in = 0 if $in && /^};/;
        $src{$1} = $file if $in && /\{\s*ngx_string\("([a-z_]+)"\)/;
    }
}

open my $fh, '<', 'docs/directives.md' or die "docs/directives.md: $!";
my $name;
my %fields;
while (<$fh>) {
    if (/^###\s+`?([a-z_]+)`?\s*$/) {
        $name = $1;
        $doc{$name} = {};
        next;
    }
    $doc{$name}{$1} = 1 if $name && /^\*\*(syntax|default|context):\*\*/;
}

my $bad = 0;

for (sort keys %src) {
    next if $doc{$_};
    print "$_ ($src{$_}) is not documented in docs/directives.md\n";
    $bad++;
}

for (sort keys %doc) {
    if (!$src{$_}) {
        print "$_ is documented but no such directive exists\n";
        $bad++;
        next;
    }
    for my $f (qw(syntax default context)) {
        next if $doc{$_}{$f};
        print "$_: no **$f:** line in docs/directives.md\n";
        $bad++;
    }
}

# metrics: the families the source renders, docs/metrics.md's tables, and
# the names the dashboard and the alerts use

my (%fam, %mdoc);

open $fh, '<', 'src/ngx_http_dub_metrics_module.c' or die $!;
while (<$fh>) {
    $fam{$1} = 1
        if /^\s*\{?\s*"(nginx_dub_\w+)",\s*"(counter|gauge|histogram)"/
           || /dub_prom_family\(b,\s*"(nginx_dub_\w+)"/;
}
close $fh;

open $fh, '<', 'docs/metrics.md' or die $!;
while (<$fh>) {
    $mdoc{$1} = 1 if /^\| `(nginx_dub_\w+)`/;
}
close $fh;

for (sort keys %fam) {
    next if $mdoc{$_};
    print "metric $_ is not in docs/metrics.md\n";
    $bad++;
}

for (sort keys %mdoc) {
    next if $fam{$_};
    print "docs/metrics.md lists $_, which the module does not export\n";
    $bad++;
}

for my $file ('docs/grafana-dashboard.json', 'docs/alerts.yml') {
    open $fh, '<', $file or die "$file: $!";
    my $text = do { local $/; <$fh> };
    close $fh;

    for my $name ($text =~ /\b(nginx_dub_\w+)/g) {
        (my $base = $name) =~ s/_(bucket|sum|count)$//;
        next if $fam{$name} || $fam{$base};
        print "$file uses $name, which the module does not export\n";
        $bad++;
    }
}

exit($bad ? 1 : 0);

#!/usr/bin/perl

# nginx code style, the parts a script can check: 80 columns, spaces not
# tabs, no trailing spaces, /* */ comments only, a space after keywords,
# two blank lines before each function, a newline at the end.

use strict;
use warnings;

my @files = @ARGV ? @ARGV
            : map { glob } qw(src/*.[ch] t/unit/*.[ch] t/fuzz/*.c t/tools/*.c);
my $bad = 0;

sub report {
    my ($file, $line, $what) = @_;
    print "$file:$line: $what\n";
    $bad++;
}

for my $file (@files) {
    open my $fh, '<', $file or die "$file: $!";
    my @lines = <$fh>;
    close $fh;

    report($file, scalar @lines, 'no newline at end of file')
        if @lines && $lines[-1] !~ /\n$/;

    my $in_comment = 0;

    for my $i (0 .. $#lines) {
        my $l = $lines[$i];
        my $n = $i + 1;
        chomp $l;

        report($file, $n, 'longer than 80 columns') if length $l > 80;
        report($file, $n, 'tab') if $l =~ /\t/;
        report($file, $n, 'trailing space') if $l =~ /\s$/;

        (my $code = $l) =~ s/"(?:[^"\\]|\\.)*"/""/g;
        $code =~ s/'(?:[^'\\]|\\.)*'/''/g;

        # what is inside /* */ is prose, not code
        if ($in_comment) {
            if ($code =~ s{^.*?\*/}{}) {
                $in_comment = 0;
            } else {
                $code = '';
            }
        }
        $code =~ s{/\*.*?\*/}{}g;
        if ($code =~ s{/\*.*$}{}) {
            $in_comment = 1;
        }

        report($file, $n, '// comment') if $code =~ m{//};
        report($file, $n, 'no space after keyword')
            if $code =~ /\b(if|for|while|switch|return|sizeof)\(/
               && $1 ne 'sizeof';

        # a function definition: name at column 0, its type on the line
        # before, and two blank lines before that
        if ($code =~ /^[a-z_][a-z0-9_]*\(/ && $i >= 3
            && $lines[$i - 1] =~ /^[a-z]/ && $code !~ /;\s*$/)
        {
            my $j = $i - 2;

            # a comment about the function may stand before it
            if ($j > 0 && $lines[$j] =~ /^$/ && $lines[$j - 1] =~ m{\*/$}) {
                $j--;
                $j-- while $j > 0 && $lines[$j] !~ m{^/\*};
                $j--;
            }

            report($file, $n - 1, 'two blank lines before a function')
                unless $j > 0 && $lines[$j] =~ /^$/
                       && $lines[$j - 1] =~ /^$/;
        }
    }
}

exit($bad ? 1 : 0);

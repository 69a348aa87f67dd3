package DubWer;

# Word error rate: how far a recognized text is from the text that was
# spoken, in words.  Both are normalized the same way (lower case, words
# of letters, digits and apostrophes; everything else separates words),
# then aligned by edit distance:
#
#   WER = (substitutions + deletions + insertions) / words of the reference
#
# wer($ref, $hyp) returns the rate; in list context (rate, S, D, I, N).

use strict;
use warnings;

use Exporter qw(import);
our @EXPORT_OK = qw(wer words);

sub words {
    my ($text) = @_;
    return map { s/^'+|'+$//gr } grep { /\w/ }
           split /[^\w']+/, lc($text // '');
}

sub wer {
    my ($ref, $hyp) = @_;
    my @r = words($ref);
    my @h = words($hyp);

    # d[i][j]: [cost, S, D, I] of aligning r[0..i) with h[0..j)
    my @prev = map { [ $_, 0, 0, $_ ] } 0 .. @h;
    for my $i (1 .. @r) {
        my @cur = ([ $i, 0, $i, 0 ]);
        for my $j (1 .. @h) {
            my $same = $r[$i - 1] eq $h[$j - 1];
            my $sub = $prev[$j - 1];
            my $del = $prev[$j];
            my $ins = $cur[$j - 1];
            my @c = (
                [ $sub->[0] + !$same, $sub->[1] + !$same, $sub->[2],
                  $sub->[3] ],
                [ $del->[0] + 1, $del->[1], $del->[2] + 1, $del->[3] ],
                [ $ins->[0] + 1, $ins->[1], $ins->[2], $ins->[3] + 1 ],
            );
            my ($best) = sort { $a->[0] <=> $b->[0] } @c;
            push @cur, $best;
        }
        @prev = @cur;
    }

    my ($cost, $s, $d, $i) = @{ $prev[-1] };
    my $n = @r;
    my $rate = $n ? $cost / $n : (@h ? 1 : 0);
    return wantarray ? ($rate, $s, $d, $i, $n) : $rate;
}

1;

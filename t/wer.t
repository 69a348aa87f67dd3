#!/usr/bin/perl

# The word error rate helper (t/lib/DubWer.pm) on texts whose rate is
# known.

use strict;
use warnings;

use lib 't/lib';
use DubWer qw(wer words);
use Test::More;

is_deeply([ words("Good evening, and welcome!  Don't-stop 42.") ],
          [ qw(good evening and welcome don't stop 42) ], 'words');

my $ref = 'the cat sat on the mat';
is(scalar wer($ref, 'The cat sat on the mat.'), 0, 'same words: 0');
is_deeply([ wer($ref, 'the cat sit on the mat') ], [ 1 / 6, 1, 0, 0, 6 ],
          'one substitution');
is_deeply([ wer($ref, 'the cat on the mat') ], [ 1 / 6, 0, 1, 0, 6 ],
          'one deletion');
is_deeply([ wer($ref, 'the cat sat on on the mat') ], [ 1 / 6, 0, 0, 1, 6 ],
          'one insertion');
is_deeply([ wer($ref, '') ], [ 1, 0, 6, 0, 6 ], 'nothing heard: 1');
is_deeply([ wer($ref, 'a dog stood by a door and more') ],
          [ 8 / 6, 6, 0, 2, 6 ], 'all wrong and more: above 1');
is(scalar wer('', ''), 0, 'nothing said, nothing heard');

my $script = do { local $/; open my $fh, '<', 'fixtures/script.txt' or die;
                  <$fh> };
is(scalar wer($script, $script), 0, 'the script against itself');
my @w = words($script);
is(scalar wer($script, join ' ', @w[1 .. $#w]), 1 / @w,
   'the script less its first word');

done_testing;

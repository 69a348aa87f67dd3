#!/usr/bin/perl

# The caption layer (dub_cc608.c, dub_sei.c) against ffmpeg's own
# CEA-608 decoder: t/tools/cc-insert writes captions into the short
# fixture, one text a segment on CC1 and on CC3, and ffmpeg reads them
# back (lavfi movie, subcc): each text whole, accents intact, shown from
# its segment's start to the next one's; a long text paged across its
# segment; an empty text clears the screen; what 608 cannot show
# replaced; and every NAL unit of the picture byte for byte as it was.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use File::Temp qw(tempdir);

my $tool = "$DubTest::TOP/build/tools/cc-insert";
DubTest::missing("no $tool (make tools)") unless -x $tool;

my $in = DubTest::fixture('short');
my $dir = tempdir('dub-cc-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $out = "$dir/out.flv";

my $es = 'Hola señor, ¿qué tal? Mañana será otro día.';
my $en = 'Hello sir, how are you? Tomorrow is another day.';
my $fr = 'Ça va très bien, merci à vous ! L’été est là, où êtes-vous ? '
    . 'Nous irons à la forêt près du château, après le déjeuner, '
    . 'avec Noël et Zoë « si possible ».';
my $de = 'Größe über Straße, schön und süß: Äpfel, Öl, Übermut.';
my $other = 'Zoë’s café… €5 🎉 ā';

# segments by decode time: the fixture has a keyframe every 2 s
my @seg = ([ 0, 4000, $es, $en ], [ 4000, 8000, $fr, '-' ],
           [ 8000, 10000, '', '' ], [ 10000, 12100, $de, $other ]);

my $report = `'$tool' '$in' '$out' @{[ map { "$_->[0] $_->[1] "
    . join(' ', map { "'" . s/'/'\\''/gr . "'" } @$_[2, 3]) } @seg ]}`;
is($?, 0, 'cc-insert ran') or diag($report);
my ($nsei) = $report =~ /^sei (\d+)$/m;
my ($ns) = $report =~ /^ns_per_frame (\d+)$/m;
note($report);

# a segment's presentation times: its first frame's pts to the next
# segment's (the file's end for the last)
my ($tags_in) = DubTest::flv_avc_nalus($in);
for my $s (@seg) {
    my @pts = map { $_->[1] } grep { $_->[0] >= $s->[0] && $_->[0] < $s->[1] }
              @$tags_in;
    @$s[4, 5] = ((sort { $a <=> $b } @pts)[0], 0);
}
$seg[$_][5] = $seg[$_ + 1][4] for 0 .. $#seg - 1;
$seg[-1][5] = (sort { $a <=> $b } map { $_->[1] } @$tags_in)[-1];

# A caption starts within half a second of its segment (the first page
# loads in a few frames) and ends within half a second of the next
# segment's start.
sub in_range {
    my ($cue, $s) = @_;
    return $cue->[0] >= $s->[4] && $cue->[0] < $s->[4] + 500
        && $cue->[1] > $s->[5] - 1 && $cue->[1] < $s->[5] + 500;
}

sub cues_of {
    my ($cues, $s) = @_;
    return [ grep { $_->[0] >= $s->[4] && $_->[0] < $s->[5] } @$cues ];
}

my $cc1 = DubTest::captions($out);
my $cc3 = DubTest::captions($out, field => 2);
note(join "\n", map { "cc1 @$_" } @$cc1);
note(join "\n", map { "cc3 @$_" } @$cc3);

# one page: the Spanish text, whole, in its range; English on CC3
my $c = cues_of($cc1, $seg[0]);
ok(@$c == 1 && $c->[0][2] eq $es && in_range($c->[0], $seg[0]),
   'spanish on cc1, accents intact, in its segment')
    or diag(explain $c);

$c = cues_of($cc3, $seg[0]);
ok(@$c == 1 && $c->[0][2] eq $en && $c->[0][0] < $seg[0][4] + 500,
   'english on cc3, in its segment') or diag(explain $c);

# paged: the French text in pages, in order, shown one after the other,
# the first from the segment's start, the last to the next segment
$c = cues_of($cc1, $seg[1]);
my $joined = join ' ', map { $_->[2] } @$c;
my $chained = !grep { $c->[$_][0] != $c->[$_ - 1][1] } 1 .. $#$c;
ok(@$c >= 3 && $joined eq $fr && $chained
   && $c->[0][0] < $seg[1][4] + 500 && abs($c->[-1][1] - $seg[1][5]) < 500,
   'french paged across its segment, accents intact') or diag(explain $c);

# page time by its share of the text: the longest page is shown longest
if (@$c >= 3) {
    my $chars = sub { my $s = $_[0][2]; utf8::decode($s); length $s };
    my @by_len = sort { $chars->($b) <=> $chars->($a) } @$c[0 .. $#$c - 1];
    my @by_time = sort { ($b->[1] - $b->[0]) <=> ($a->[1] - $a->[0]) }
                  @$c[0 .. $#$c - 1];
    is($by_time[0][2], $by_len[0][2],
       'the page with the most text shows longest');
}

# cleared: nothing shown in the empty segment on either channel
ok(!grep({ $_->[0] < $seg[2][5] && $_->[1] > $seg[2][4] + 500 }
         @$cc1, @$cc3),
   'an empty text clears both channels') or diag(explain [ @$cc1, @$cc3 ]);

# German; and on CC3 what 608 has not: base letter, spelling, '?'
$c = cues_of($cc1, $seg[3]);
ok(@$c == 1 && $c->[0][2] eq $de && in_range($c->[0], $seg[3]),
   'german on cc1, accents intact') or diag(explain $c);

$c = cues_of($cc3, $seg[3]);
ok(@$c == 1 && $c->[0][2] eq "Zoë’s café... EUR5 ? a",
   'what 608 cannot show: spelt or replaced') or diag(explain $c);

# the picture: every NAL unit of every video tag as it was, in order;
# only the caption SEIs added
my ($tags_out, $seen) = DubTest::flv_avc_nalus($out, sei => 0);
my ($same, $moved) = (0, 0);
for my $i (0 .. $#$tags_in) {
    my ($a, $b) = ($tags_in->[$i], $tags_out->[$i]) or last;
    $moved++ if !$b || $a->[0] != $b->[0] || $a->[1] != $b->[1];
    $same++ if $b && join("\0\0", @{ $a->[2] }) eq join("\0\0", @{ $b->[2] })
               && @{ $a->[2] } == @{ $b->[2] };
}
ok(@$tags_out == @$tags_in && $same == @$tags_in && !$moved,
   'picture NAL units byte-identical, same times')
    or diag("tags in " . @$tags_in . ", out " . @$tags_out
            . ", identical $same, moved $moved");
ok($nsei && $seen == $nsei, "caption SEIs: $seen, as cc-insert made");

# and ffmpeg decodes the same pictures
my $md5 = sub {
    join "\n", grep { !/^#/ } map { s/\s+$//r }
    `ffmpeg -nostdin -v error -i '$_[0]' -map 0:v -f framemd5 - 2>/dev/null`;
};
my $pic = $md5->($in);
ok(length $pic && $pic eq $md5->($out), 'decoded pictures identical');

# audio tags: untouched
my $pa = DubTest::stream_packets(DubTest::packets($in), 1);
my $pb = DubTest::stream_packets(DubTest::packets($out), 1);
is(join(',', map { $_->[3] } @$pb), join(',', map { $_->[3] } @$pa),
   'audio packets identical');

note("cost: $ns ns per frame that carries captions") if defined $ns;

done_testing;

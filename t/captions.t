#!/usr/bin/perl

# dub_captions on, end to end: the echo STS answers every fragment with a
# translation and a transcript of its own (its sequence number in them),
# fails one fragment with its transcript and another without an answer.
# ffmpeg's own CEA-608 decoder reads the recorded output (lavfi movie,
# subcc): each dubbed segment shows its translation on CC1, accents
# intact, from its first frames to the next segment, and its transcript
# on CC3; the failed one shows its transcript; the one without an answer
# shows nothing.  The picture's NAL units are the input's, byte for byte;
# only SEIs are added.  With dub_captions off (the same stream beside it)
# the output has no caption at all and its video is the input's.  With
# two languages (dub_language), each output shows its own translation.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;

my $t = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
            dub_captions on;
        }

        application dubbed {
            live on;
            play_restart on;
        }

        application plain {
            live on;
            dub on;
            dub_output_app plain_dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
        }

        application plain_dubbed {
            live on;
            play_restart on;
        }

        application multi {
            live on;
            dub on;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
            dub_language es multi_es;
            dub_language fr multi_fr;
            dub_captions on;
        }

        application multi_es {
            live on;
            play_restart on;
        }

        application multi_fr {
            live on;
            play_restart on;
        }
EOF

my $said = 'Señor {seq} ({lang}): ¿qué tal? Ça va très bien, Größe!';
my $heard = 'Heard {seq}: how are you, sir?';

my $sts = $t->sts('--port', 0, '--mode', 'echo', '--text', $said,
                  '--transcript', $heard);
$sts->control(rules => [
    { trigger => 'sequence_number', value => 2, action => 'error',
      error_code => 'MODEL_ERROR', stage => 'tts' },
    { trigger => 'sequence_number', value => 4, action => 'error_event' } ]);
$t->set(STS => $sts->url);
$t->run;

my $in = DubTest::fixture('short');
my %out = map { $_ => $t->dir . "/$_.flv" } qw(c p es fr);

my @players = ($t->play('dubbed/c', $out{c}),
               $t->play('plain_dubbed/p', $out{p}),
               map { $t->play("multi_$_/m", $out{$_}) } qw(es fr));
ok($t->wait_player('c', 30) && $t->wait_player('p', 30)
   && $t->wait_player('m', 30, 2), 'players wait');

my @pubs = map { $t->publish('short', $_) } qw(live/c plain/p multi/m);
is($t->wait_exit($_, 60), 0, 'published') for @pubs;
is($t->wait_exit($_, 60), 0, 'output ended') for @players;

# each output segment: its fragment's sequence number, and its fate

my %seq = map { /fragment (\S+) seq (\d+) processed/ ? ($1, $2) : () }
          $t->log_lines(qr/"live\/c" fragment \S+ seq \d+ processed/);
my %seq_err = map { /fragment (\S+) seq (\d+)/ ? ($1, $2) : () }
              $t->log_lines(qr/"live\/c" fragment \S+ seq \d+/);
my (%frag, %dubbed);
for ($t->log_lines(qr/"live\/c" segment \d+ fragment \S+ out with dubbed/)) {
    my ($n, $id) = /segment (\d+) fragment (\S+)/;
    $dubbed{$n} = $seq{$id};
}
for ($t->log_lines(qr/"live\/c" segment \d+ fragment \S+ cut/)) {
    my ($n, $id) = /segment (\d+) fragment (\S+)/;
    $frag{$n} = $seq_err{$id};
}
note(join ', ', map { "segment $_: seq " . ($frag{$_} // '-')
                      . (exists $dubbed{$_} ? ' dubbed' : '') }
                sort { $a <=> $b } keys %frag);

is(scalar keys %frag, 6, 'six segments, each a fragment');
is(join(',', map { $frag{$_} } 0 .. 5), '0,1,2,3,4,5',
   'sequence numbers in segment order');
is(join(',', sort { $a <=> $b } keys %dubbed), '0,1,3,5',
   'all dubbed but the failed and the unanswered');

# the segments in the recorded output: from keyframe to keyframe

my ($tags, $nsei) = DubTest::flv_avc_nalus($out{c}, sei => 0);
my @key = map { $_->[1] } grep { grep { (ord($_) & 0x1f) == 5 } @{ $_->[2] } }
          @$tags;
push @key, (sort { $a <=> $b } map { $_->[1] } @$tags)[-1];
note("keyframes at @key ms, $nsei caption SEIs");
is(scalar @key, 7, 'six segments in the output');

my $cc1 = DubTest::captions($out{c});
my $cc3 = DubTest::captions($out{c}, field => 2);
note(join "\n", map { "cc1 @$_" } @$cc1);
note(join "\n", map { "cc3 @$_" } @$cc3);

# A caption of segment n: shown within half a second of its first frame
# (its page loads in a few frames), until the next segment's start.
sub shown {
    my ($cues, $n) = @_;
    return [ grep { $_->[0] >= $key[$n] && $_->[0] < $key[$n] + 500 }
             @$cues ];
}

sub text_of {
    my ($template, $seq, $lang) = @_;
    $lang //= 'es';
    return $template =~ s/\{seq\}/$seq/gr =~ s/\{lang\}/$lang/gr;
}

for my $n (0 .. 5) {
    my $seq = $frag{$n} // $n;
    my ($c1, $c3) = (shown($cc1, $n), shown($cc3, $n));
    my $until = $n < 5 ? $key[$n + 1] : undef;

    if (exists $dubbed{$n}) {
        my $want = text_of($said, $seq);
        ok(@$c1 == 1 && $c1->[0][2] eq $want
           && (!defined $until || abs($c1->[0][1] - $until) < 500),
           "segment $n dubbed: its translation on cc1, accents intact, "
           . "in its time") or diag(explain $c1);
        ok(@$c3 == 1 && $c3->[0][2] eq text_of($heard, $seq),
           "segment $n: its transcript on cc3") or diag(explain $c3);

    } elsif ($seq == 2) {
        ok(@$c1 == 1 && $c1->[0][2] eq text_of($heard, $seq)
           && abs($c1->[0][1] - $until) < 500,
           "segment $n failed: its transcript on cc1") or diag(explain $c1);

    } else {
        my @any = grep { $_->[1] > $key[$n] + 500 && $_->[0] < $until }
                  @$cc1, @$cc3;
        ok(!@any, "segment $n unanswered: no caption")
            or diag(explain \@any);
    }
}

is(scalar @$cc1, 5, 'five captions on cc1 in all');

# the picture: the input's NAL units, byte for byte, in order

my $tin = DubTest::flv_avc_nalus($in);
sub same_picture {
    my ($a, $b) = @_;
    return 0 unless @$a == @$b;
    for my $i (0 .. $#$a) {
        return 0 unless join("\0\0", @{ $a->[$i][2] })
                        eq join("\0\0", @{ $b->[$i][2] });
    }
    return 1;
}
ok($nsei > 0 && same_picture($tin, $tags),
   "captions on: picture NAL units identical, $nsei SEIs added");

# two languages: each output shows its own translation, and only that

for my $lang (qw(es fr)) {
    my @dubbed = $t->log_lines(
        qr/"multi\/m:$lang" segment \d+ fragment \S+ out with dubbed/);
    my $cues = DubTest::captions($out{$lang});
    my %want = map { text_of($said, $_, $lang) => 1 } 0 .. 5;
    my @mine = grep { $want{$_->[2]} } @$cues;
    my @other = grep { !$want{$_->[2]} && $_->[2] !~ /^Heard \d+:/ } @$cues;
    ok(@dubbed >= 4 && @mine == @dubbed && !@other,
       "$lang: its own translation in each of its " . @dubbed
       . " dubbed segments") or diag(explain $cues);
}

# captions off: nothing added

my ($tplain, $nplain) = DubTest::flv_avc_nalus($out{p}, sei => 1);
ok(same_picture($tin, $tplain) && $nplain == 0,
   'captions off: video tags identical, no caption SEI');
is(scalar @{ DubTest::captions($out{p}) }, 0, 'captions off: no caption');

$t->stop_ok;

done_testing;

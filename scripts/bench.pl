#!/usr/bin/perl

# Benchmark, run on demand ("make bench"): CPU and memory of nginx dubbing
# N streams at once, against a pile of ffmpeg processes doing the least a
# dubbing worker must do (one ffmpeg per stream pulling it from nginx-rtmp,
# copying the picture, decoding and re-encoding the sound, pushing it
# back; no STS at all).
#
#   scripts/bench.pl [N ...]          default: 1 4 8
#   scripts/bench.pl --local [N ...]  the speech STS on its local stages
#                                     (sts/speech/) instead of the echo STS
#                                     (its CPU counted too, and the word
#                                     error rate of its recognizer), no
#                                     ffmpeg pile
#   scripts/bench.pl --langs L [N ...]  each stream dubbed into L languages
#                                     (dub_language, a player on each);
#                                     "--langs 1,2" runs both, to show
#                                     what a second language costs
#
# First, each AAC coder (dub_audio_coder) on the fixture's speech, cut in
# 6 s segments, through the module's own audio path (build/tools/
# aac-coder): its CPU per segment, and how close the decoded AAC is to
# the dub it encoded (SNR and log-spectral distance).
#
# Each stream is the 60 s 720p30 fixture, pushed in real time, with a
# player on each output.  The echo STS answers every fragment with its own
# audio (m4a), so the module packs, sends, decodes, fits and encodes every
# segment.  CPU is the processes' user + system time from /proc over the
# whole run (the publishers, players and the STS are not counted); memory
# is the peak resident size.  Results go to standard output as a Markdown
# table; docs/benchmarks.md keeps the figures of a run.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use DubTest;
use DubWer qw(wer);
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

my $local = @ARGV && $ARGV[0] eq '--local' ? shift : 0;
my @langs = (1);
if (@ARGV >= 2 && $ARGV[0] eq '--langs') {
    shift;
    @langs = split /,/, shift;
}
my @counts = @ARGV ? @ARGV : (1, 4, 8);
my @codes = qw(es fr de it pt nl sv pl);

# the output applications of "l" languages
sub outputs {
    my ($l) = @_;
    return $l == 1 ? ('dubbed') : map { "dubbed_$codes[$_]" } 0 .. $l - 1;
}

# the rtmp block: one language (dub_output_app) or "l" (dub_language)
sub rtmp_conf {
    my ($l) = @_;
    my $dub = $l == 1 ? 'dub_output_app dubbed;'
        : join "\n            ",
              map { "dub_language $codes[$_] dubbed_$codes[$_];" } 0 .. $l - 1;
    my $conf = "        application live {\n            live on;\n"
        . "            dub on;\n            $dub\n"
        . "            dub_sts_url %%STS%%;\n        }\n";
    $conf .= "        application $_ {\n            live on;\n"
        . "            play_restart on;\n        }\n" for outputs($l);
    return $conf;
}

# the times a process's main thread (nginx: its event loop) gave up the
# CPU to wait: its wakeups
sub wakeups {
    my ($pid) = @_;
    open my $sf, '<', "/proc/$pid/status" or return;
    my ($n) = join('', <$sf>) =~ /^voluntary_ctxt_switches:\s+(\d+)/m;
    return $n;
}

# runs until every pid in "@$wait" ended; follows the pids of "@$watch":
# { pid => [cpu at start, last cpu, max rss, wakeups at start, last] }
sub watch {
    my ($wait, $watch) = @_;
    my $deadline = time + 300;
    my %w;
    for my $pid (@$watch) {
        my ($c, $r) = DubTest::proc_usage($pid) or next;
        my $v = wakeups($pid) // 0;
        $w{$pid} = [$c, $c, $r, $v, $v];
    }

    while (1) {
        for my $pid (keys %w) {
            my ($c, $r) = DubTest::proc_usage($pid) or next;
            $w{$pid}[1] = $c;
            $w{$pid}[2] = $r if $r > $w{$pid}[2];
            $w{$pid}[4] = wakeups($pid) // $w{$pid}[4];
        }
        last unless grep { kill 0, $_ } @$wait;
        die "the run did not end in 300 s\n" if time > $deadline;
        sleep 0.25;
        # reap what ended, or kill 0 would still see it
        1 while waitpid(-1, POSIX::WNOHANG()) > 0;
    }

    return \%w;
}

my $fixture = DubTest::fixture('main');
my @rows;

# the AAC coders on the fixture's audio, as the echo STS sends it back
my @coders;
my $coder_tool = "$DubTest::TOP/build/tools/aac-coder";
if (!$local && -x $coder_tool) {
    my $cmd = "ffmpeg -nostdin -v error -i '$fixture' -vn -ac 2 -ar 44100 "
            . "-f f32le - | '$coder_tool' 44100 2 258 0 twoloop fast";
    @coders = `$cmd`;
}

for my $n (@counts) {
  for my $l (@langs) {

    # nginx dubbing n streams into l languages

    my $t = DubTest->new(main => 'thread_pool default threads=2;',
        rtmp_main => 'dub_metrics_zone dub 1m;',
        http => 'location /metrics { dub_metrics; }',
        rtmp => rtmp_conf($l));

    my $sts = $local ? $t->speech_sts : $t->sts('--port', 0, '--mode', 'echo');
    $t->set(STS => $sts->url);
    $t->run;

    my ($worker) = $t->workers;
    my (undef, $idle) = DubTest::proc_usage($worker);
    my ($sts_cpu0) = DubTest::proc_usage($sts->pid);

    my @play;
    for my $s (1 .. $n) {
        push @play, map { $t->play("$_/s$s", '/dev/null') } outputs($l);
    }
    sleep 1;

    my $t0 = time;
    my @pub = map { $t->publish($fixture, "live/s$_") } 1 .. $n;
    my $w = watch(\@play, [$worker]);
    my $wall = time - $t0;

    my $m = $t->metrics;
    my ($dubbed, $fb) = (0, 0);
    $dubbed += $m->{$_} for grep { /^nginx_dub_segments_dubbed_total/ } keys %$m;
    my %why;
    for (grep { /^nginx_dub_fallbacks_total/ && $m->{$_} } keys %$m) {
        $fb += $m->{$_};
        $why{$1} += $m->{$_} if /reason="(\w+)"/;
    }

    my ($p99) = DubTest::lag_quantile($m, {}, 0.99);

    my ($c0, $c1, $rss, $v0, $v1) = @{ $w->{$worker} };

    # the STS's CPU, its children (recognizer, translator, ...) included
    my $sts_cpu = 0;
    if ($local) {
        ($sts_cpu) = DubTest::proc_usage($sts->pid, 'children');
        $sts_cpu -= $sts_cpu0;
    }

    # the speech STS's own time per fragment (its log: a JSON line each),
    # and the word error rate of each stream's transcripts against the
    # script the fixture speaks
    my $per_fragment = '';
    if ($local) {
        my @frag = map { decode_json($_) } grep { /"fragment_id"/ }
                   split /\n/, $t->read_file("logs/sts$sts->{n}.log");
        my @ms = sort { $a <=> $b } map { $_->{ms} } @frag;
        $per_fragment = sprintf(", %d .. %d ms per fragment (median %d)",
                                $ms[0], $ms[-1], $ms[@ms / 2]) if @ms;
        my $script = $t->read_file("$DubTest::TOP/fixtures/script.txt");
        my %by;
        push @{ $by{ $_->{stream} } }, $_ for @frag;
        my @wer = map { scalar wer($script, join ' ',
                            map { $_->{transcript} // '' }
                            sort { $a->{seq} <=> $b->{seq} } @$_) }
                  values %by;
        $per_fragment .= sprintf(', WER %.1f %%', 100 * $wer[0])
            if @wer == 1;
        $per_fragment .= sprintf(', WER %.1f-%.1f %%',
                                 100 * (sort { $a <=> $b } @wer)[0],
                                 100 * (sort { $b <=> $a } @wer)[0])
            if @wer > 1;
    }

    my @problems = $t->stop;

    push @rows, [ ($local ? "nginx-dub + speech STS (local)" : "nginx-dub")
                  . ($l > 1 ? ", $l languages" : ''), $n,
                  $c1 - $c0, $wall, $rss, $idle,
                  "$dubbed dubbed, $fb fallbacks"
                  . (%why ? ' (' . join(', ', map { "$_ $why{$_}" }
                                         sort keys %why) . ')' : '')
                  . ", lag p99 <= ${p99}s"
                  . sprintf(", %.0f wakeups/s", ($v1 - $v0) / $wall)
                  . ($local ? sprintf(", speech STS %.1f s CPU", $sts_cpu)
                              . $per_fragment
                            : '')
                  . (@problems ? ", PROBLEMS: @problems" : '') ];

  }

    next if $local || @langs > 1;

    # the pile of ffmpeg: nginx-rtmp relays, ffmpeg re-encodes the sound

    my $p = DubTest->new(rtmp => <<'EOF');
        application live {
            live on;
            play_restart on;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF
    $p->run;

    my ($worker) = $p->workers;
    my (undef, $idle) = DubTest::proc_usage($worker);

    my @play = map { $p->play("dubbed/s$_", '/dev/null') } 1 .. $n;
    my @relay = map {
        $p->spawn('relay.log', 'ffmpeg', '-nostdin', '-hide_banner',
                  '-loglevel', 'error', '-i', $p->url("live/s$_"),
                  '-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k',
                  '-f', 'flv', $p->url("dubbed/s$_"))
    } 1 .. $n;
    sleep 1;

    my $t0 = time;
    my @pub = map { $p->publish($fixture, "live/s$_") } 1 .. $n;
    my $w = watch(\@play, [$worker, @relay]);
    my $wall = time - $t0;

    my ($c0, $c1, $rss);
    my ($cpu, $mem) = (0, 0);
    for my $pid (@relay) {
        ($c0, $c1, $rss) = @{ $w->{$pid} // [0, 0, 0] };
        $cpu += $c1 - $c0;
        $mem += $rss;
    }
    ($c0, $c1, $rss) = @{ $w->{$worker} };
    my @problems = $p->stop;

    push @rows, [ "ffmpeg pile", $n, $cpu + $c1 - $c0, $wall,
                  $mem + $rss, $idle,
                  sprintf("ffmpeg %.1f s CPU, %d MiB; nginx %.1f s, %d MiB",
                          $cpu, $mem / 1024, $c1 - $c0, $rss / 1024) ];
}

print "| setup | streams | CPU s | wall s | CPU % of a core | per stream | "
    . "peak RSS MiB | idle RSS MiB | per stream MiB | notes |\n";
print "|---|---|---|---|---|---|---|---|---|---|\n";

for my $r (@rows) {
    my ($what, $n, $cpu, $wall, $rss, $idle, $note) = @$r;
    printf "| %s | %d | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %s |\n",
        $what, $n, $cpu, $wall, 100 * $cpu / $wall, 100 * $cpu / $wall / $n,
        $rss / 1024, $idle / 1024, ($rss - $idle) / 1024 / $n, $note;
}

if (@coders) {
    print "\nAAC coders, 6 s segments of the fixture's speech at 128 kbit/s "
        . "stereo (CPU ms per segment: median, min, max):\n\n";
    print "    $_" for @coders;
}

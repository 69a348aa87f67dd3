#!/usr/bin/perl

# Benchmark, run on demand ("make bench"): CPU and memory of nginx dubbing
# N streams at once, against a pile of ffmpeg processes doing the least a
# dubbing worker must do (one ffmpeg per stream pulling it from nginx-rtmp,
# copying the picture, decoding and re-encoding the sound, pushing it
# back; no STS at all).
#
#   scripts/bench.pl [N ...]          default: 1 4 8; each count runs
#                                     nginx-dub, the same nginx relaying
#                                     without dubbing, and the ffmpeg pile,
#                                     and prints the ratios
#   scripts/bench.pl --max [N ...]    the largest number of streams dubbed
#                                     with no fallback: tries 8, 16, 24,
#                                     ... (or the counts given) until one
#                                     falls back, then halves the step
#   scripts/bench.pl --no-pile ...    without the ffmpeg pile
#   scripts/bench.pl --priority P ...  nginx's share of the CPU against
#                                     the publishers, players and STS on
#                                     the same machine: the nice value of
#                                     its session's group (the kernel
#                                     shares the CPU between sessions
#                                     first, /proc/PID/autogroup), as an
#                                     operator gives a service its weight
#                                     (systemd's CPUWeight=); default -10,
#                                     0 for an equal share
#   scripts/bench.pl --log LEVEL ...  the module's log level (dub_error_log):
#                                     default info, what an operator runs
#                                     (debug writes each segment's life)
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

my ($local, $max, $pile, $prio, $level, @langs) = (0, 0, 1, -10, 'info', 1);
while (@ARGV && $ARGV[0] =~ /^--/) {
    my $o = shift;
    if ($o eq '--local') {
        $local = 1;
    } elsif ($o eq '--max') {
        $max = 1;
    } elsif ($o eq '--no-pile') {
        $pile = 0;
    } elsif ($o eq '--priority' && @ARGV && $ARGV[0] =~ /^-?\d+$/) {
        $prio = shift;
    } elsif ($o eq '--log' && @ARGV
             && $ARGV[0] =~ /^(debug|info|notice|warn|error|crit)$/)
    {
        $level = shift;
    } elsif ($o eq '--langs' && @ARGV) {
        @langs = split /,/, shift;
    } else {
        die "usage: $0 [--local] [--max] [--no-pile] [--priority P] "
          . "[--log LEVEL] [--langs L[,L]] [N ...]\n";
    }
}
my @counts = @ARGV ? @ARGV : $max ? (8, 16, 24, 32, 40, 48) : (1, 4, 8);
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

# the fixture's media rate (bytes a second) and duration (s)
my $duration = `ffprobe -v error -show_entries format=duration -of csv=p=0 '$fixture'`;
chomp $duration;
$duration ||= 60;
my $rate = (-s $fixture) / $duration;

# what a stream must hold at the default directives: the 14 s delay and
# the 6 s segment being cut
my $held = $rate * (14 + 6);

# the AAC coders on the fixture's audio, as the echo STS sends it back
my @coders;
my $coder_tool = "$DubTest::TOP/build/tools/aac-coder";
if (!$local && !$max && -x $coder_tool) {
    my $cmd = "ffmpeg -nostdin -v error -i '$fixture' -vn -ac 2 -ar 44100 "
            . "-f f32le - | '$coder_tool' 44100 2 258 0 twoloop fast";
    @coders = `$cmd`;
}

# nginx's session's share of the CPU: its autogroup's nice value
sub prioritise {
    my ($pid) = @_;
    return unless $prio && open my $ag, '>', "/proc/$pid/autogroup";
    print $ag $prio;
    close $ag;
}

# nginx dubbing "n" streams into "l" languages: a row
sub dub_run {
    my ($n, $l) = @_;

    my $t = DubTest->new(dub_log_level => $level,
        rtmp_main => 'dub_metrics_zone dub 1m;',
        http => 'location /metrics { dub_metrics; }',
        rtmp => rtmp_conf($l));

    my $sts = $local ? $t->speech_sts : $t->sts('--port', 0, '--mode', 'echo');
    $t->set(STS => $sts->url);
    $t->run;

    my ($worker) = $t->workers;
    prioritise($worker);
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

    return { what => ($local ? "nginx-dub + speech STS (local)" : "nginx-dub")
                     . ($l > 1 ? ", $l languages" : ''),
             n => $n, cpu => $c1 - $c0, wall => $wall, rss => $rss,
             idle => $idle, dubbed => $dubbed, fallbacks => $fb, p99 => $p99,
             note => "$dubbed dubbed, $fb fallbacks"
                  . (%why ? ' (' . join(', ', map { "$_ $why{$_}" }
                                         sort keys %why) . ')' : '')
                  . ", lag p99 <= ${p99}s"
                  . sprintf(", %.0f wakeups/s", ($v1 - $v0) / $wall)
                  . ($local ? sprintf(", speech STS %.1f s CPU", $sts_cpu)
                              . $per_fragment
                            : '')
                  . (@problems ? ", PROBLEMS: @problems" : '') };
}

# the same nginx-rtmp without dubbing: relaying "n" streams to players
# ("relay"), or re-encoding their sound with an ffmpeg each ("pile")
sub plain_run {
    my ($n, $what) = @_;

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
    prioritise($worker);
    my (undef, $idle) = DubTest::proc_usage($worker);
    my $app = $what eq 'pile' ? 'dubbed' : 'live';

    my @play = map { $p->play("$app/s$_", '/dev/null') } 1 .. $n;
    my @relay = $what ne 'pile' ? () : map {
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

    return { what => $what eq 'pile' ? 'ffmpeg pile' : 'nginx relay, no dubbing',
             n => $n, cpu => $cpu + $c1 - $c0, wall => $wall,
             rss => $mem + $rss, idle => $idle,
             note => $what eq 'pile'
                 ? sprintf("ffmpeg %.1f s CPU, %d MiB; nginx %.1f s, %d MiB",
                           $cpu, $mem / 1024, $c1 - $c0, $rss / 1024)
                 : (@problems ? "PROBLEMS: @problems" : '') };
}

# cpu-s per stream-minute
sub per_min {
    my ($r) = @_;
    return $r->{cpu} / $r->{n} / ($duration / 60);
}

# RSS per stream, MiB
sub per_stream_mib {
    my ($r) = @_;
    return ($r->{rss} - $r->{idle}) / 1024 / $r->{n};
}

# every segment of every stream dubbed
sub all_dubbed {
    my ($r) = @_;
    return $r->{fallbacks} == 0 && $r->{dubbed} >= $r->{n} * 9;
}

# the bar for nginx-dub's CPU (worker and thread pool), cpu-s per
# stream-minute
my $cpu_target = 1.5;

my @rows;
my @summary;

if ($max) {
    # up the counts until one falls back, then halve the step between the
    # last that held and the first that did not
    my ($good, $bad);
    for my $n (@counts) {
        my $r = dub_run($n, 1);
        push @rows, $r;
        if (all_dubbed($r)) {
            $good = $r;
        } else {
            $bad = $r;
            last;
        }
    }
    while ($good && $bad && $bad->{n} - $good->{n} > 2) {
        my $n = int(($good->{n} + $bad->{n}) / 2);
        my $r = dub_run($n, 1);
        push @rows, $r;
        if (all_dubbed($r)) {
            $good = $r;
        } else {
            $bad = $r;
        }
    }
    push @summary, $good
        ? sprintf("Largest count with no fallback: %d streams (lag p99 <= %s s)",
                  $good->{n}, $good->{p99})
          . ($bad ? "; $bad->{n} fell back." : "; no count tried fell back.")
        : "Every count tried fell back (the first: $counts[0]).";

} else {
    for my $n (@counts) {
        my @dub = map { dub_run($n, $_) } @langs;
        push @rows, @dub;
        next if $local || @langs > 1;

        my $relay = plain_run($n, 'relay');
        push @rows, $relay;
        my $pile_row;
        if ($pile) {
            $pile_row = plain_run($n, 'pile');
            push @rows, $pile_row;
        }

        my $d = $dub[0];
        my $target = 1.3 * $held / 1048576 + 2;
        push @summary, sprintf("N = %d: nginx-dub %.2f cpu-s per "
            . "stream-minute (target %.1f: %s), %.1f x the relay's (%.2f)",
            $n, per_min($d), $cpu_target,
            per_min($d) <= $cpu_target ? 'met' : 'NOT met',
            per_min($d) / (per_min($relay) || 1e-9), per_min($relay))
            . ($pile_row ? sprintf(", %.2f of the ffmpeg pile's (%.2f)",
                                   per_min($d) / per_min($pile_row),
                                   per_min($pile_row)) : '')
            . sprintf("; %.1f MiB per stream for %.1f MiB of media held "
                      . "(%.2f x; target 1.3 x + 2 MiB = %.1f MiB: %s)",
                      per_stream_mib($d), $held / 1048576,
                      per_stream_mib($d) / ($held / 1048576), $target,
                      per_stream_mib($d) <= $target ? 'met' : 'NOT met');
    }
}

print "| setup | streams | CPU s | wall s | cpu-s per stream-minute | "
    . "peak RSS MiB | idle RSS MiB | per stream MiB | notes |\n";
print "|---|---|---|---|---|---|---|---|---|\n";

for my $r (@rows) {
    printf "| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %s |\n",
        $r->{what}, $r->{n}, $r->{cpu}, $r->{wall}, per_min($r),
        $r->{rss} / 1024, $r->{idle} / 1024, per_stream_mib($r), $r->{note};
}

printf "\nThe fixture: %.0f s at %.2f Mbit/s; a stream holds about %.1f MiB "
    . "(14 s delay + a 6 s segment).\n", $duration, $rate * 8 / 1e6,
    $held / 1048576;
print "nginx-dub's log at $level (dub_error_log).\n";
printf "nginx's session at nice %d against the publishers', players' and "
    . "STS's (%s).\n", $prio,
    -e '/proc/sys/kernel/sched_autogroup_enabled'
        && `cat /proc/sys/kernel/sched_autogroup_enabled` =~ /1/
    ? 'sessions share the CPU first' : 'no session groups: not applied';
print "\n", map { "- $_\n" } @summary if @summary;

if (@coders) {
    print "\nAAC coders, 6 s segments of the fixture's speech at the "
        . "default bit rate (96 kbit/s stereo; CPU ms per segment: median, "
        . "min, max):\n\n";
    print "    $_" for @coders;
}

#!/usr/bin/perl

# dub_status: the JSON of every stream and its languages, from the shared
# zone, whichever of two workers answers.  The fields follow a stream
# dubbed into two languages: dubbing (with its session's endpoint), an
# STS outage (original audio, sts_unavailable, not connected) and its
# recovery (dubbing again), then the publisher gone (publishing false,
# still listed while retained, no endpoint).  A hostile stream name stays
# valid JSON.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use DubRtmp;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(time);
use Time::Local qw(timegm);

my $t = DubTest->new(workers => 2, http_listen => 'reuseport',
    rtmp_main => 'dub_metrics_zone dub 1m;',
    http => <<'EOF', rtmp => <<'EOF');
        location = /status {
            dub_status;
            add_header X-Worker $pid;
        }

        location = /metrics {
            dub_metrics;
        }
EOF
        application live {
            live on;
            dub on;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_timeout 6s;
            dub_sts_reconnect 1s;
            dub_sts_url %%STS%%;
            dub_language es dubbed_es;
            dub_language fr dubbed_fr;
        }

        application dubbed_es {
            live on;
        }

        application dubbed_fr {
            live on;
        }
EOF

my $sts = $t->sts('--mode', 'tone', '--tone-lang', 'es=700,fr=1300');
$t->set(STS => $sts->url);

# (nginx -t in a directory of its own: its log is not this test's)
my ($rc, $out) = DubTest->new(http => 'location = /s { dub_status other; }')
    ->test_conf;
ok($rc != 0 && $out =~ /"dub_status" serves the zone "other", which no "dub_metrics_zone" defines: add "dub_metrics_zone other 4m;"/,
   'nginx -t: a zone no dub_metrics_zone defines, by the directive that '
   . 'serves it') or diag($out);

$t->run;

my ($version) = $t->read_file("$DubTest::TOP/src/ngx_rtmp_dub_module.h")
    =~ /NGX_RTMP_DUB_VERSION\s+"([^"]+)"/;

# /status decoded (undef if it is not JSON), and the worker that answered
sub status {
    my ($code, $body, $h) = $t->http_get('/status');
    my $doc = eval { JSON::PP->new->decode($body) };
    return ($doc, $h->{'x-worker'} // '', $code, $h, $body);
}

sub stream {
    my ($doc, $app, $name) = @_;
    my ($s) = grep { $_->{app} eq $app && $_->{name} eq $name }
              @{ $doc->{streams} // [] };
    return $s;
}

sub langs {
    my ($doc, $app, $name) = @_;
    my $s = stream($doc, $app, $name) or return {};
    return { map { $_->{lang} => $_ } @{ $s->{languages} } };
}

# waits until both languages of live/demo satisfy "cond"; returns them
sub wait_langs {
    my ($cond, $timeout) = @_;
    my $l;
    $t->wait_for(sub {
        my ($doc) = status();
        $l = langs($doc, 'live', 'demo');
        return $l->{es} && $l->{fr} && $cond->($l->{es})
               && $cond->($l->{fr});
    }, $timeout);
    return $l;
}

sub show { join ' ', map { "$_=" . ($_[0]{$_} // 'null') }
           qw(state reason sts_connected segments dubbed fallbacks) }

# before any stream

my ($doc, $worker, $code, $h, $body) = status();
is($code, 200, 'status answers');
like($h->{'content-type'}, qr{^application/json}, 'as application/json');
is($h->{'cache-control'}, 'no-store', 'not to be cached');
is_deeply($doc, { version => $version, streams => [] },
          "no stream yet: the module's version ($version), no streams");

my $r = HTTP::Tiny->new->post('http://127.0.0.1:' . $t->http_port
                              . '/status');
is($r->{status}, 405, 'GET and HEAD only');

# a stream in two languages, and a hostile name (a raw RTMP client)

my $t0 = time;
my $pub = $t->publish('main', 'live/demo');

my $hostile = fork // die "fork: $!";
if ($hostile == 0) {
    my $ok = eval {
        my $p = DubRtmp->new(port => $t->rtmp_port, app => 'live');
        $p->publish("q\"b\\c\x01");
        $p->send_flv(DubTest::fixture('short'));
        $p->close;
        1;
    };
    print STDERR $@ unless $ok;
    _exit($ok ? 0 : 1);
}
push @DubTest::PIDS, $hostile;

ok($t->wait_for(sub { stream((status())[0], 'live', 'demo') }, 30),
   'the stream is listed');
($doc) = status();
my $s = stream($doc, 'live', 'demo');
ok($s->{publishing}, 'publishing');
is($s->{delay_s}, 8, 'delay_s from the configuration');
is($s->{segment_s}, 2, 'segment_s from the configuration');
like($s->{since} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
     "since: $s->{since}");
my ($y, $mo, $d, $hh, $mm, $ss) = ($s->{since} // '') =~ /(\d+)/g;
my $since = defined $ss ? timegm($ss, $mm, $hh, $d, $mo - 1, $y) : 0;
ok($since >= int($t0) - 1 && $since <= time + 1, 'since: when it started');
is_deeply([ map { $_->{lang} } @{ $s->{languages} } ], [qw(es fr)],
          'two languages');
is_deeply([ map { $_->{output} } @{ $s->{languages} } ],
          [qw(dubbed_es dubbed_fr)], 'each with its output application');

# dubbing

my $l = wait_langs(sub { $_[0]{state} eq 'dubbing' && $_[0]{dubbed} >= 2 },
                   40);
for my $lang (qw(es fr)) {
    my $x = $l->{$lang};
    ok($x && $x->{state} eq 'dubbing' && !defined $x->{reason}
       && $x->{sts_connected} && $x->{breaker} eq 'closed'
       && $x->{dubbed} >= 2 && $x->{segments} >= $x->{dubbed},
       "$lang dubbing, connected, breaker closed: " . show($x));
    is($x && $x->{sts_endpoint}, $sts->url, "$lang: sts_endpoint, its URL");
}
my %dubbed = map { $_ => $l->{$_}{dubbed} } qw(es fr);

# every worker answers with the stream, which lives in one of them

my (%seen, $all);
$all = 1;
for (1 .. 20) {
    my ($d, $w) = status();
    $seen{$w}++;
    my $x = langs($d, 'live', 'demo');
    $all = 0 unless $x->{es} && $x->{fr};
}
ok(keys %seen >= 2, 'answered by ' . (keys %seen) . ' workers');
ok($all, 'each answer has the stream and both languages');

# the STS gone

$sts->kill('KILL');

ok($t->wait_for(sub {
    my $x = langs((status())[0], 'live', 'demo');
    return $x->{es} && !$x->{es}{sts_connected} && !$x->{fr}{sts_connected};
}, 20), 'sts_connected false once the STS is gone');

$l = wait_langs(sub { $_[0]{state} eq 'original'
                      && ($_[0]{reason} // '') eq 'sts_unavailable' }, 40);
for my $lang (qw(es fr)) {
    my $x = $l->{$lang};
    ok($x && $x->{state} eq 'original'
       && ($x->{reason} // '') eq 'sts_unavailable' && !$x->{sts_connected}
       && $x->{fallbacks} >= 1,
       "$lang: original audio, sts_unavailable: " . show($x));
}

# back on the same port

$sts->restart;

$l = wait_langs(sub { $_[0]{state} eq 'dubbing' && $_[0]{sts_connected} },
                40);
for my $lang (qw(es fr)) {
    my $x = $l->{$lang};
    ok($x && $x->{state} eq 'dubbing' && !defined $x->{reason}
       && $x->{sts_connected} && $x->{dubbed} > $dubbed{$lang},
       "$lang dubbing again: " . show($x));
}

# the hostile name, valid JSON

is($t->wait_exit($hostile, 60), 0, 'hostile name published');
($doc, undef, undef, undef, $body) = status();
ok($doc, 'the answer parses') or diag($body);
ok(stream($doc, 'live', "q\"b\\c%01"),
   'the name with its quote and backslash, its control byte encoded')
    or diag($body);

# the publisher goes: not publishing, still listed

$t->kill_proc($pub);
$t->wait_exit($pub, 10);

my $draining;
ok($t->wait_for(sub {
    my $x = stream((status())[0], 'live', 'demo');
    return 0 unless $x && !$x->{publishing};
    $draining = !$t->log_lines(qr/"dubbed_(es|fr)\/demo" output done/);
    return 1;
}, 10) && $draining,
   'publishing false once the publisher left, while the output drains');

ok($t->wait_for(sub { $t->log_lines(qr/"dubbed_(es|fr)\/demo" output done/)
                      == 2 }, 40), 'both outputs drained');
ok($t->wait_log(qr/dub: "live\/demo.*" done: /, 30), 'the stream ended');

($doc, undef, undef, undef, $body) = status();
$s = stream($doc, 'live', 'demo');
ok($s && !$s->{publishing} && @{ $s->{languages} } == 2,
   'an ended stream is still listed while retained, not publishing');
ok($s && !grep({ defined $_->{sts_endpoint} } @{ $s->{languages} }),
   'its languages without an STS endpoint now');

# the counters are those of /metrics

my $m = $t->metrics;
for my $x (@{ $s->{languages} }) {
    my $k = "{stream=\"live/demo\",lang=\"$x->{lang}\"";
    my $fb = 0;
    $fb += $m->{$_} for grep { /^nginx_dub_fallbacks_total\Q$k\E/ }
                        keys %$m;
    is(join(' ', @$x{qw(segments dubbed fallbacks)}),
       join(' ', $m->{"nginx_dub_segments_total$k,track=\"audio\"}"},
            $m->{"nginx_dub_segments_dubbed_total$k}"}, $fb),
       "$x->{lang}: segments, dubbed and fallbacks as /metrics has them");
}

note("a sample: $body");

done_testing;

#!/usr/bin/perl

# The Debian package (make deb): its files and dependencies, lintian
# without errors; installed with apt-get, Debian's nginx passes "nginx -t"
# with its stock configuration, which then loads the module after
# nginx-rtmp's, and Debian's nginx binary with the modules the packages
# enabled dubs a stream; after "dpkg --purge" nothing of it is left and
# "nginx -t" passes again.
#
# It installs a package into the system, as root: it runs under "make
# test" (which CI runs as root) or with TEST_DUB_DEB=1, and skips
# otherwise.  Installing starts no system nginx (a policy-rc.d forbids
# it while the test runs, if there is none), and a system nginx that
# was not running before is stopped at the end.

use strict;
use warnings;

use lib 't/lib';
use DubTest;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

plan skip_all => 'Debian nginx only' if $ENV{TEST_NGINX_STATIC};
plan skip_all => 'installs a package into the system: runs under '
    . '"make test" or with TEST_DUB_DEB=1'
    unless $ENV{TEST_DUB_ALL} || $ENV{TEST_DUB_DEB};
plan skip_all => 'installs a package into the system: needs root' if $>;

# one at a time on this machine: another run of this file (another
# checkout's "make test") would install and purge the same package
use Fcntl qw(:flock);
open my $lock, '>', '/tmp/nginx-dub-deb.lock' or die "lock: $!";
flock($lock, LOCK_EX) or die "lock: $!";

my $pkg = 'libnginx-mod-rtmp-dub';
my $top = $DubTest::TOP;

open my $fh, '<', "$top/src/ngx_rtmp_dub_module.h" or die $!;
my ($version) = join('', <$fh>) =~ /NGX_RTMP_DUB_VERSION\s+"([^"]+)"/;
close $fh;
chomp(my $arch = `dpkg --print-architecture`);

my $deb = "$top/build/${pkg}_${version}_$arch.deb";

# under "make test" the package is built here, beside the other tests,
# rather than before them all (make does nothing if it is up to date)
if ($ENV{TEST_DUB_ALL}) {
    my $out = `make -s -C '$top' deb 2>&1`;
    diag("make deb failed:\n$out") if $?;
}

DubTest::missing("no package $deb (make deb)") unless -f $deb;

my $so = '/usr/lib/nginx/modules/ngx_rtmp_dub_module.so';
my $avail = '/usr/share/nginx/modules-available/mod-rtmp-dub.conf';
my $enabled = '/etc/nginx/modules-enabled';

sub run_cmd {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

# the system nginx's master, if it runs
sub system_nginx {
    open my $p, '<', '/run/nginx.pid' or return;
    my ($pid) = (<$p> // '') =~ /(\d+)/;
    return $pid && kill(0, $pid) ? $pid : undef;
}

# dpkg and apt-get wait for each other's lock: other work on the machine
# may hold it a while
sub dpkg_locked {
    my ($cmd) = @_;
    my ($rc, $out);
    my $deadline = time + 600;
    while (1) {
        ($rc, $out) = run_cmd($cmd);
        last unless $rc && $out =~ /lock/i && time < $deadline;
        sleep 1;
    }
    return ($rc, $out);
}

# the package as built

my ($rc, $contents) = run_cmd("dpkg-deb -c $deb");
my %files = map { m{ \./(\S+)$} ? ("/$1" => 1) : () } split /\n/, $contents;

# (documents over 4 kB compressed, but the dashboard and the alert rules)
for my $f ($so, $avail, map("/usr/share/doc/$pkg/$_", qw(
           copyright docs/grafana-dashboard.json docs/alerts.yml
           examples/nginx.conf)))
{
    ok($files{$f}, "the package has $f");
}
for my $f (map("/usr/share/doc/$pkg/$_", qw(README.md docs/directives.md
           docs/operations.md docs/metrics.md)))
{
    ok($files{$f} || $files{"$f.gz"}, "the package has $f");
}
ok(!grep(m{^/etc/}, keys %files),
   'no file in /etc: the module is enabled by the maintainer scripts');

my $control = `dpkg-deb -f $deb Package Version Architecture Depends`;
like($control, qr/^Version: \Q$version\E$/m,
     "the module's version $version");
my ($depends) = $control =~ /^Depends: (.*)$/m;
like($depends, qr/(^|, )libnginx-mod-rtmp \(>= [^)]+\)/,
     'depends on libnginx-mod-rtmp');

my ($abi) = $depends =~ /(?:^|, )(nginx-abi-[^\s,]+)/;
my $provides = `dpkg-query -W -f='\${Provides}' nginx`;
ok($abi && $provides =~ /(?:^|, )\Q$abi\E(?:,|$)/,
   "depends on the ABI of the nginx it was built for ($abi)")
    or diag("Depends: $depends\nnginx provides: $provides");

like($depends, qr/(^|, )libwebsockets\d+ \(/,
     'depends on the shared libraries it links (shlibs)');
like($depends, qr/(^|, )libwebsockets-evlib-uv(,|$)/,
     'depends on the libuv plugin libwebsockets loads');

my $conf = `dpkg-deb --fsys-tarfile $deb | tar -xOf - .$avail`;
like($conf, qr/^load_module modules\/ngx_rtmp_dub_module\.so;$/m,
     'mod-rtmp-dub.conf loads the module');

my $lintian;
($rc, $lintian) = run_cmd("lintian --fail-on error $deb");
ok($rc == 0 && $lintian !~ /^E: /m, 'lintian: no error')
    or diag($lintian);
diag($_) for grep { /^[WI]: / } split /\n/, $lintian;

# installed

my $policy = '/usr/sbin/policy-rc.d';
my ($installing, $was_running, $own_policy, $purged);

END {
    local $?;
    if ($installing) {
        # a test that died leaves no package behind: a module that does
        # not load would fail the stock configuration
        dpkg_locked("dpkg --purge $pkg") unless $purged;
        unlink $policy if $own_policy;

        # a system nginx that was not running before stops
        my $pid = system_nginx();
        if ($pid && !$was_running) {
            kill 'QUIT', $pid;
            my $deadline = time + 30;
            sleep 0.1 while kill(0, $pid) && time < $deadline;
            kill 'KILL', $pid if kill 0, $pid;
        }
    }
}

$installing = 1;
$was_running = system_nginx();
if (!-e $policy) {
    open my $p, '>', $policy or die "$policy: $!";
    print $p "#!/bin/sh\n# no service starts while t/deb.t installs\n"
        . "exit 101\n";
    close $p;
    chmod 0755, $policy;
    $own_policy = 1;
}

local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
my $out;
($rc, $out) = dpkg_locked("apt-get install -y -q "
    . "-o DPkg::Lock::Timeout=600 $deb");
is($rc, 0, "apt-get install $pkg") or diag($out);

ok(-f $so, "$so installed");

opendir my $d, $enabled or die "$enabled: $!";
my @links = sort grep { !/^\./ } readdir $d;
closedir $d;
my ($ours) = grep { (readlink("$enabled/$_") // '') eq $avail } @links;
ok($ours, "enabled by a link in $enabled (@links)");
my ($rtmp_at) = grep { $links[$_] eq '50-mod-rtmp.conf' } 0 .. $#links;
my ($ours_at) = grep { $links[$_] eq ($ours // '') } 0 .. $#links;
ok(defined $rtmp_at && defined $ours_at && $ours_at > $rtmp_at,
   "$enabled/" . ($ours // '?') . ' loads after 50-mod-rtmp.conf');

($rc, $out) = run_cmd('/usr/sbin/nginx -t');
is($rc, 0, "Debian's nginx -t passes with its stock configuration")
    or diag($out);
($rc, $out) = run_cmd('/usr/sbin/nginx -T');
like($out, qr/^load_module modules\/ngx_rtmp_dub_module\.so;$/m,
     'the stock configuration loads the module');

# Debian's nginx with the modules the packages enabled, as the stock
# configuration loads them ("modules/" is relative to the prefix)

$ENV{TEST_NGINX_BINARY} = '/usr/sbin/nginx';
$ENV{TEST_NGINX_MODULES} = "include $enabled/*.conf;";

my $t = DubTest->new(rtmp_main => 'dub_metrics_zone dub 1m;',
    http => <<'EOF', rtmp => <<'EOF');
        location /metrics {
            dub_metrics;
        }
EOF
        application live {
            live on;
            dub on;
            dub_output_app dubbed;
            dub_segment 2s;
            dub_delay 8s;
            dub_sts_url %%STS%%;
        }

        application dubbed {
            live on;
            play_restart on;
        }
EOF
symlink '/usr/lib/nginx/modules', $t->dir . '/modules' or die $!;

my $sts = $t->sts('--port', 0, '--mode', 'echo');
$t->set(STS => $sts->url);
$t->run;

my @maps = grep { DubTest::read_proc("/proc/$_/maps") =~ /\Q$so\E/ }
           $t->workers;
ok(@maps, "the worker runs the installed $so");

my $rec = $t->dir . '/out.flv';
my $player = $t->play('dubbed/d', $rec);
ok($t->wait_player('d', 30), 'player waits');
my $pub = $t->publish('short', 'live/d');
is($t->wait_exit($pub, 60), 0, 'published the 12 s fixture');
is($t->wait_exit($player, 60), 0, 'played dubbed/d to its end');

my $s = DubTest::streams($rec);
ok(defined $s->{h264} && defined $s->{aac}, 'the output has video and audio');

# 6 segments of 2 s; the echo STS answers at once, 8 s before their slot
my @dubbed = $t->log_lines(
    qr/"live\/d" segment \d+ fragment \S+ out with dubbed/);
my @original = $t->log_lines(qr/"live\/d" segment \d+ out with original/);
ok(@dubbed >= 5 && !@original, 'every segment went out with the STS\'s '
   . 'audio (' . @dubbed . ' dubbed, ' . @original . ' not)');

my $m = $t->metrics;
my ($n) = map { $m->{$_} } grep { /^nginx_dub_segments_dubbed_total\{stream="live\/d"/ }
          keys %$m;
is($n, scalar @dubbed, '/metrics counts them');
ok(grep({ /^nginx_dub_build_info\{version="\Q$version\E"/ } keys %$m),
   "/metrics: version $version");

$t->stop_ok;

# purged

($rc, $out) = dpkg_locked("dpkg --purge $pkg");
$purged = 1;
is($rc, 0, "dpkg --purge $pkg") or diag($out);
like(`dpkg-query -W -f='\${Status}' $pkg 2>&1`, qr/not-installed|no packages/,
     'the package is gone');
ok(!-e $so && !-e $avail, 'its files are gone');
opendir $d, $enabled or die "$enabled: $!";
my @left = grep { /mod-rtmp-dub/ } readdir $d;
closedir $d;
ok(!@left, "no link of it left in $enabled (@left)");
ok(-e "$enabled/50-mod-rtmp.conf", "nginx-rtmp's link stays");

($rc, $out) = run_cmd('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t passes after the purge') or diag($out);

done_testing;

#!/bin/bash
# Builds the Debian package build/libnginx-mod-rtmp-dub_VERSION_ARCH.deb
# from debian/ (debhelper with nginx-dev's nginx addon), and checks it
# with lintian: an error fails the build, warnings are printed.
#
# The package is built from a copy of what it needs in build/deb/, with
# nginx-rtmp-module's sources (setup.sh fetched them) where "config"
# looks for them, so that the work tree gets no build files.  VERSION is
# the module's own (NGX_RTMP_DUB_VERSION, the one /metrics reports):
# debian/changelog is written here, with that version.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=$top/build
pkg=libnginx-mod-rtmp-dub

version=$(sed -n 's/^#define NGX_RTMP_DUB_VERSION *"\(.*\)"$/\1/p' \
          "$top/src/ngx_rtmp_dub_module.h")
if [ -z "$version" ]; then
    echo "deb: no NGX_RTMP_DUB_VERSION in src/ngx_rtmp_dub_module.h" >&2
    exit 1
fi

deb=${pkg}_${version}_$(dpkg --print-architecture).deb
rtmp=$(ls -d "$b"/deps/nginx-rtmp-module-*/ | tail -1)
work=$b/deb
src=$work/$pkg-$version

rm -rf "$work"
mkdir -p "$src/build/deps"
cp -a "$top/config" "$top/src" "$top/docs" "$top/conf" "$top/README.md" \
      "$top/debian" "$src/"
cp -a "$rtmp" "$src/build/deps/"

# one entry, dated by the last commit (or now, out of git)
when=$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)
maintainer=$(sed -n 's/^Maintainer: //p' "$top/debian/control")

cat > "$src/debian/changelog" <<EOF
$pkg ($version) unstable; urgency=medium

  * nginx-dub $version.

 -- $maintainer  $(date -R -u -d "@$when")
EOF

echo "deb: building $deb (log: build/deb/build.log)"
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -b --no-sign) > "$work/build.log" 2>&1
then
    tail -30 "$work/build.log"
    exit 1
fi

echo "deb: lintian"
status=0
lintian --fail-on error "$work/$deb" > "$work/lintian.log" 2>&1 || status=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
if [ "$status" != 0 ]; then
    echo "deb: lintian found errors in build/deb/$deb" >&2
    exit 1
fi

rm -f "$b/${pkg}"_*.deb
cp "$work/$deb" "$b/$deb.tmp"
mv "$b/$deb.tmp" "$b/$deb"
echo "deb: build/$deb"

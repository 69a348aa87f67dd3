#!/bin/bash
# Installs what the module needs from Debian's packages, and fetches
# nginx-rtmp-module's sources for its headers.  Idempotent and quick when
# all is in place.
#
#   setup.sh [build]        building the module ("make")
#   setup.sh run            and running it with its demo ("make run"):
#                           ffmpeg, the speech stack of the local STS
#   setup.sh test           and testing it ("make test"): Prometheus'
#                           promtool, clang for the fuzzers, chromium and
#                           the Node dependencies (puppeteer-core) that
#                           drive it for the watch page's test, and what
#                           building the Debian package needs
#   setup.sh deb            building the Debian package ("make deb"):
#                           debhelper (nginx-dev has its nginx addon),
#                           lintian
#   setup.sh ... --nginx-source    and nginx's own sources (make asan)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/build/deps

BUILD="nginx libnginx-mod-rtmp nginx-dev
       libavcodec-dev libavformat-dev libavutil-dev libswresample-dev
       libavfilter-dev libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
       libyajl-dev libssl-dev pkg-config gcc make dpkg-dev xz-utils
       ca-certificates"
RUN="ffmpeg espeak-ng pocketsphinx pocketsphinx-en-us apertium
     apertium-eng-spa procps"
TEST="prometheus perl openssl clang libclang-rt-14-dev chromium"
DEB="debhelper lintian"

role=build
source=

for a in "$@"; do
    case "$a" in
    build|run|test|deb) role=$a ;;
    --nginx-source) source=1 ;;
    *) echo "setup: unknown argument $a" >&2; exit 1 ;;
    esac
done

case "$role" in
build) PKGS="$BUILD" ;;
run)   PKGS="$BUILD $RUN" ;;
test)  PKGS="$BUILD $RUN $TEST $DEB" ;;
deb)   PKGS="$BUILD $DEB" ;;
esac

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

updated=
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    as_root apt-get update -qq
    updated=1
    # the nginx package must not start a system nginx on port 80
    printf '#!/bin/sh\nexit 101\n' > /tmp/dub-policy-rc.d
    chmod +x /tmp/dub-policy-rc.d
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        as_root cp /tmp/dub-policy-rc.d /usr/sbin/policy-rc.d
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $missing >/dev/null
fi

# a deb-src entry beside the deb one, for "apt-get source"
if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list \
        /etc/apt/sources.list.d/; then
    src=/etc/apt/sources.list.d/debian.sources
    if [ -f "$src" ]; then
        sed 's/^Types: deb$/Types: deb-src/' "$src" \
            | as_root tee /etc/apt/sources.list.d/dub-deb-src.sources >/dev/null
    else
        grep -h '^deb ' /etc/apt/sources.list 2>/dev/null \
            | sed 's/^deb /deb-src /' \
            | as_root tee /etc/apt/sources.list.d/dub-deb-src.list >/dev/null
    fi
    updated=
fi

fetch_source() {            # package, directory glob
    if ! ls -d $deps/$2 >/dev/null 2>&1; then
        [ -n "$updated" ] || { as_root apt-get update -qq; updated=1; }
        mkdir -p "$deps"
        (cd "$deps" && apt-get source -qq --download-only --tar-only "$1" \
            2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
        for t in "$deps"/$1_*.orig.tar.*; do
            tar -C "$deps" -xf "$t"
        done
        ls -d $deps/$2 >/dev/null
    fi
}

fetch_source libnginx-mod-rtmp 'nginx-rtmp-module-*/ngx_rtmp.h'

if [ -n "$source" ]; then
    fetch_source nginx 'nginx-1.*/configure'
fi

# the Node dependencies, those of the tests' browser driver with them
if [ "$role" = test ]; then
    "$top/scripts/setup-sts.sh" test
fi

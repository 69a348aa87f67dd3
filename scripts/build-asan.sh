#!/bin/bash
# Builds build/asan/nginx: nginx from Debian's source with nginx-rtmp and
# this module linked in statically (this also checks that "config" builds
# the module static), under AddressSanitizer and UndefinedBehaviorSanitizer,
# with NGX_DEBUG_PALLOC so that pool overflows are seen too, and with
# NGX_RTMP_DUB_TEST: hooks that only tests use (a slow thread task).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=$top/build
"$top/scripts/setup.sh" test --nginx-source

src=$(ls -d "$b"/deps/nginx-1.*/ | head -1)
rtmp=$(ls -d "$b"/deps/nginx-rtmp-module-*/ | head -1)
obj=$b/asan

mkdir -p "$obj"

# configure again when "config" changes or a source file comes or goes
(cd "$top" && ls src/*.c) > "$b/asan-sources.new"

if [ ! -f "$obj/Makefile" ] || [ "$top/config" -nt "$obj/Makefile" ] \
    || [ "$0" -nt "$obj/Makefile" ] \
    || ! cmp -s "$b/asan-sources.new" "$b/asan-sources"
then
    (cd "$src" && ./configure \
        --builddir="$obj" \
        --prefix="$obj" \
        --with-debug \
        --with-threads \
        --with-http_ssl_module \
        --with-http_stub_status_module \
        --without-http_rewrite_module \
        --without-http_gzip_module \
        --with-cc-opt="-g -O1 -fno-omit-frame-pointer \
-fsanitize=address,undefined -fno-sanitize=nonnull-attribute,alignment \
-fno-sanitize-recover=undefined \
-DNGX_DEBUG_PALLOC=1 -DNGX_RTMP_DUB_TEST=1 -Wno-error=stringop-truncation \
-Wno-error=stringop-overflow -Wno-error=dangling-pointer" \
        --with-ld-opt="-fsanitize=address,undefined" \
        --add-module="$rtmp" \
        --add-module="$top") > "$b/asan-configure.log" 2>&1 \
        || { tail -20 "$b/asan-configure.log"; exit 1; }
fi

mv "$b/asan-sources.new" "$b/asan-sources"

# a failed build stops here (pipefail), whatever binary is left over
make -s -C "$src" -f "$obj/Makefile" -j"$(nproc)" binary 2>&1 \
    | sed '/^$/d'
test -x "$obj/nginx"

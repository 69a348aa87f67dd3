#!/bin/bash
# Builds build/ngx_rtmp_dub_module.so against Debian's nginx (nginx-dev)
# with the exact configure arguments of Debian's binary.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=$top/build
ngx=$b/nginx-dev

. /usr/share/nginx/src/conf_flags

if [ ! -x "$ngx/configure" ]; then
    rm -rf "$ngx"
    mkdir -p "$ngx"
    cp -a /usr/share/nginx/src/. "$ngx/"
fi

cd "$ngx"

# configure again when "config" changes or a source file comes or goes
(cd "$top" && ls src/*.c) > "$b/sources.new"

if [ ! -f objs/Makefile ] || [ "$top/config" -nt objs/Makefile ] \
    || ! cmp -s "$b/sources.new" "$b/sources"
then
    ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="-g -O2 -fstack-protector-strong -Wformat \
-Werror=format-security -fPIC -D_FORTIFY_SOURCE=2" \
        --with-ld-opt="-Wl,-z,relro -Wl,-z,now -fPIC" \
        --add-dynamic-module="$top" > "$b/configure.log" 2>&1 \
        || { tail -20 "$b/configure.log"; exit 1; }
fi

mv "$b/sources.new" "$b/sources"

make -s -f objs/Makefile modules
cp objs/ngx_rtmp_dub_module.so "$b/ngx_rtmp_dub_module.so.tmp"
mv "$b/ngx_rtmp_dub_module.so.tmp" "$b/ngx_rtmp_dub_module.so"

#!/bin/bash
# The Node dependencies, pinned by their lock files, from the npm
# registry: those of the echo STS and of the speech STS (socket.io), and
# the watch page's player (hls.js, www/); with "test", those of the
# tests' browser driver too (puppeteer-core, t/tools/: it drives Debian's
# chromium and downloads no browser).  Quick when they are in place.
#
#   setup-sts.sh [test]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

dirs=("$top/sts/echo" "$top/sts/speech" "$top/www")

if [ "${1:-}" = test ]; then
    dirs+=("$top/t/tools")
fi

export PUPPETEER_SKIP_DOWNLOAD=1

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: installing nodejs and npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends nodejs npm >/dev/null
fi

for dir in "${dirs[@]}"; do
    stamp=$dir/node_modules/.dub-stamp

    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch "$stamp"
    fi
done

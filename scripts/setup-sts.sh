#!/bin/bash
# The Node dependencies of the echo STS and of the speech STS (socket.io,
# pinned by their lock files), from the npm registry.  Quick when they are
# in place.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: installing nodejs and npm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends nodejs npm >/dev/null
fi

for dir in "$top/sts/echo" "$top/sts/speech"; do
    stamp=$dir/node_modules/.dub-stamp

    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        touch "$stamp"
    fi
done

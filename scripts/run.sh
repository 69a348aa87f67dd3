#!/bin/bash
# The main job on the embedded default: nginx with this module and
# conf/nginx.conf, in the foreground, until Ctrl-C.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/build/run

mkdir -p "$run/logs" "$run/hls/live" "$run/hls/dubbed" "$run/modules" \
         "$run/client_body_temp" "$run/proxy_temp" "$run/fastcgi_temp" \
         "$run/uwsgi_temp" "$run/scgi_temp"
chmod 0777 "$run/hls" "$run/hls/live" "$run/hls/dubbed"
ln -sf "$top/build/ngx_rtmp_dub_module.so" "$run/modules/"

# the watch page, and its player (hls.js, installed by "make sts")
ln -sfn "$top/www" "$run/www"

for port in 1935 8080 8000; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "run: port $port is in use; stop what listens there" >&2
        exit 1
    fi
done

# from the directory nginx runs in: hls_path is relative to it
(cd "$run" && nginx -t -q -p "$run/" -c "$top/conf/nginx.conf")

# the STS: the speech STS (English speech to Spanish speech), on its local
# offline stages, or on the services STS_ARGS names; with STS=echo the
# echo service (each fragment comes back as it went)
read -r -a sts_args <<< "${STS_ARGS:-}"
case "${STS:-speech}" in
speech|local)
    node "$top/sts/speech/server.js" --port 8000 "${sts_args[@]}" \
        > "$run/logs/sts.out" 2> "$run/logs/sts.log" &
    if [ -z "${STS_ARGS:-}" ]; then
        stages="English speech recognized (pocketsphinx), translated to
         Spanish (apertium), spoken again (espeak-ng), all on this machine"
    else
        stages="its stages as STS_ARGS says: $STS_ARGS"
    fi
    sts_what="the speech STS on 127.0.0.1:8000: $stages; each fragment's
         text is in $run/logs/sts.log; its /health and /metrics on
         http://127.0.0.1:8000"
    ;;
echo)
    node "$top/sts/echo/server.js" --port 8000 --mode echo "${sts_args[@]}" \
        > "$run/logs/sts.out" 2> "$run/logs/sts.log" &
    sts_what="the echo STS on 127.0.0.1:8000 (logs: $run/logs/sts.log): each
         segment goes through it and comes back as the same speech"
    ;;
*)
    echo "run: STS=$STS: speech or echo" >&2
    exit 1
    ;;
esac
sts=$!
trap 'kill $sts 2>/dev/null' EXIT

# a flag it does not take, a port it cannot have: say so now
for _ in $(seq 100); do
    grep -q '^listening' "$run/logs/sts.out" 2>/dev/null && break
    if ! kill -0 $sts 2>/dev/null; then
        echo "run: the STS did not start:" >&2
        cat "$run/logs/sts.log" >&2
        exit 1
    fi
    sleep 0.1
done

cat <<MSG
nginx with the dubbing module (config: conf/nginx.conf, logs: $run/logs)

  push   rtmp://127.0.0.1:1935/live/NAME
         e.g. ffmpeg -re -i $top/fixtures/out/main.flv -c copy \\
                     -f flv rtmp://127.0.0.1:1935/live/demo
  watch  http://127.0.0.1:8080/                  (the page: streams,
         dubbed or original, each language's state)
  play   rtmp://127.0.0.1:1935/dubbed/NAME       (14 s later)
         http://127.0.0.1:8080/hls/dubbed/NAME.m3u8
  status http://127.0.0.1:8080/status           (JSON, docs/status.md)
         http://127.0.0.1:8080/metrics          (Prometheus)
         http://127.0.0.1:8080/stub_status
  STS    $sts_what

Ctrl-C stops it.
MSG

# hls_path is relative to the working directory
cd "$run"
nginx -p "$run/" -c "$top/conf/nginx.conf" -g 'daemon off;'

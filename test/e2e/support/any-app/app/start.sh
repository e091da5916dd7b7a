#!/bin/sh
# any-app's own start script (the image's CMD). Writes the front page naming SITE_VERSION, then
# runs busybox httpd in the foreground on $PORT (image ENV PORT=8000, a run-time PORT wins).
# sh stays PID 1 so that `docker stop` (SIGTERM) ends httpd at once instead of after the grace period.
set -u
port=${PORT:-8000}
version=${SITE_VERSION:-unknown}
esc() { printf '%s' "$1" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
v=$(esc "$version")
host=$(esc "$(hostname)")
cat > /www/index.html <<HTML
<!doctype html>
<html><head><meta charset="utf-8"><title>any-app $v</title></head>
<body><h1>any-app $v</h1><p>SITE_VERSION=$v, served by busybox httpd on port $port from $host.</p></body></html>
HTML
# HEALTH_PATH (e.g. /healthz): the health page is also served there, for a platform that asks it.
case "${HEALTH_PATH:-}" in
  /*[!a-zA-Z0-9/_.-]*|'') ;;
  /*) mkdir -p "/www$(dirname "$HEALTH_PATH")" && cp /www/health "/www$HEALTH_PATH" ;;
esac
# Each container counts its own /cgi-bin/work requests from zero.
: > /tmp/any-app.served
httpd -f -p "$port" -h /www &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"

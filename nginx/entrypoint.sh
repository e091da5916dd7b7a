#!/bin/sh
# Renders /etc/nginx/nginx.conf from env and its upstream groups (bluegreen-nginx-members, which
# owns APP_PORT, MAX_FAILS and FAIL_TIMEOUT), makes sure the active-pool flag exists, then runs nginx.
# The maintenance-page flag (STATE_DIR/maintenance-page) is the bot's alone: left as it is, so the
# page survives an nginx restart.
# POSIX sh only: runs on the official images (alpine/debian) and on the busybox stand-in.
set -eu

ACTIVE_POOL=${ACTIVE_POOL:-blue}
PORT=${PORT:-80}
PROXY_CONNECT_TIMEOUT=${PROXY_CONNECT_TIMEOUT:-250ms}
PROXY_READ_TIMEOUT=${PROXY_READ_TIMEOUT:-800ms}
PROXY_NEXT_UPSTREAM_TIMEOUT=${PROXY_NEXT_UPSTREAM_TIMEOUT:-5s}
MAINTENANCE_RETRY_AFTER=${MAINTENANCE_RETRY_AFTER:-300}
STATE_DIR=/etc/nginx/bluegreen
LOG_DIR=/var/log/bluegreen
TEMPLATE=/etc/bluegreen/nginx.conf.template

fail() { echo "bluegreen-nginx: $*" >&2; exit 64; }

case "$ACTIVE_POOL" in blue|green) ;; *) fail "ACTIVE_POOL: got '$ACTIVE_POOL', wants blue or green" ;; esac
val=
for v in PORT MAINTENANCE_RETRY_AFTER; do
  eval "val=\$$v"
  case "$val" in ''|*[!0-9]*) fail "$v: got '$val', wants a whole number" ;; esac
done
for v in PROXY_CONNECT_TIMEOUT PROXY_READ_TIMEOUT PROXY_NEXT_UPSTREAM_TIMEOUT; do
  eval "val=\$$v"
  echo "$val" | grep -Eq '^[0-9]+(ms|s|m)?$' || fail "$v: got '$val', wants an nginx time such as 500ms, 2s"
done

mkdir -p "$STATE_DIR" "$LOG_DIR" /tmp/nginx /etc/bluegreen/maintenance-page
# A drain flag left by an apply that was stopped half-way (nginx/bluegreen-nginx-members.sh).
rm -f /tmp/nginx/draining
# The flag file is the upstream choice. It lives on a volume, so it survives nginx restarts; only
# create it when no choice has been recorded yet (the bot rewrites it on switch).
if [ ! -e "$STATE_DIR/active-blue" ] && [ ! -e "$STATE_DIR/active-green" ]; then
  : > "$STATE_DIR/active-$ACTIVE_POOL"
fi
chmod 755 "$STATE_DIR"
# The bot's switch checks prove themselves with this token (on the state volume the bot shares) to
# be told nginx's upstream statuses; nobody else is.
[ -s "$STATE_DIR/probe-token" ] || head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE_DIR/probe-token"
PROBE_TOKEN=$(cat "$STATE_DIR/probe-token")
case "$PROBE_TOKEN" in ''|*[!0-9a-f]*) fail "$STATE_DIR/probe-token: wants hex digits (delete it to get a new one)" ;; esac
# A real file, never the image's /dev/stdout symlink: the bot tails it.
[ -f "$LOG_DIR/access.json.log" ] || : > "$LOG_DIR/access.json.log"

sed \
  -e "s|@PORT@|$PORT|g" \
  -e "s|@PROXY_CONNECT_TIMEOUT@|$PROXY_CONNECT_TIMEOUT|g" \
  -e "s|@PROXY_READ_TIMEOUT@|$PROXY_READ_TIMEOUT|g" \
  -e "s|@PROXY_NEXT_UPSTREAM_TIMEOUT@|$PROXY_NEXT_UPSTREAM_TIMEOUT|g" \
  -e "s|@MAINTENANCE_RETRY_AFTER@|$MAINTENANCE_RETRY_AFTER|g" \
  -e "s|@STATE_DIR@|$STATE_DIR|g" \
  -e "s|@PROBE_TOKEN@|$PROBE_TOKEN|g" \
  -e "s|@LOG_DIR@|$LOG_DIR|g" \
  "$TEMPLATE" > /etc/nginx/nginx.conf
# The groups from the member files on the state volume (none under Compose: the service names).
# A bad member file stops the start here, with the line it refuses.
bluegreen-nginx-members render || fail "cannot render the upstream groups (see above)"

nginx -t -q || fail "rendered /etc/nginx/nginx.conf is invalid (see nginx's message above)"
exec "$@"

#!/bin/sh
# PID 1 of the nginx container. Renders nginx's two configs from env and the upstream groups
# (bluegreen-nginx-members, which owns APP_PORT, MAX_FAILS and FAIL_TIMEOUT), makes sure the
# active-pool flag exists, then runs two nginx masters as its children:
#   inner  the command given (CMD: `nginx -g 'daemon off;'`), with /etc/nginx/nginx.conf from
#          nginx.conf.template: the pools, the flag files, the access log. It listens on a unix
#          socket, and it is the nginx that `nginx -t`, `nginx -s reload|reopen` and
#          bluegreen-nginx-members act on (the default config and pid file).
#   edge   /etc/nginx/edge.conf from edge.conf.template: the public port, passing every request to
#          the inner; never reloaded, so a reload of the inner closes no client connection.
# SIGQUIT (Docker's stop signal here), SIGTERM and SIGINT stop both gracefully; SIGHUP and SIGUSR1
# go to the inner (reload, reopen its log), as they did when nginx itself was PID 1. When either
# master exits by itself the other is stopped and this exits non-zero, so Docker or Swarm restart
# the container: one master alone is either unreachable or cannot serve.
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
# X-Bluegreen-Pool (the pool that answered) on public responses; the bot's probes always get it.
POOL_HEADER=${POOL_HEADER:-on}
STATE_DIR=/etc/nginx/bluegreen
LOG_DIR=/var/log/bluegreen
TEMPLATE=/etc/bluegreen/nginx.conf.template
EDGE_TEMPLATE=/etc/bluegreen/edge.conf.template
EDGE_CONF=/etc/nginx/edge.conf
# nginx's runtime folder: both pid files, the temp folders and the inner's socket (the templates').
RUN_DIR=/tmp/nginx

fail() { echo "bluegreen-nginx: $*" >&2; exit 64; }
NL='
'
# Milliseconds in nginx time $1, as checked below (500ms, 2s, 1m; no unit is seconds).
ms() {
  n=$(echo "$1" | sed -e 's/[a-z]*$//' -e 's/^0*//')
  case "$1" in
    *ms) echo "${n:-0}" ;;
    *m) echo $(( ${n:-0} * 60000 )) ;;
    *) echo $(( ${n:-0} * 1000 )) ;;
  esac
}

case "$ACTIVE_POOL" in blue|green) ;; *) fail "ACTIVE_POOL: got '$ACTIVE_POOL', wants blue or green" ;; esac
val=
for v in PORT MAINTENANCE_RETRY_AFTER; do
  eval "val=\$$v"
  case "$val" in ''|*[!0-9]*) fail "$v: got '$val', wants a whole number" ;; esac
done
case "$POOL_HEADER" in
  on) POOL_HEADER_PUBLIC='$bg_pool_known' ;;
  off) POOL_HEADER_PUBLIC='""' ;;
  *) fail "POOL_HEADER: got '$POOL_HEADER', wants on or off" ;;
esac
for v in PROXY_CONNECT_TIMEOUT PROXY_READ_TIMEOUT PROXY_NEXT_UPSTREAM_TIMEOUT; do
  eval "val=\$$v"
  # grep checks line by line: a newline would carry the rest of the value into nginx's config.
  case "$val" in *"$NL"*) fail "$v: a newline in the value, wants an nginx time such as 500ms, 2s" ;; esac
  echo "$val" | grep -Eq '^[0-9]+(ms|s|m)?$' || fail "$v: got '$val', wants an nginx time such as 500ms, 2s"
done

mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR" /etc/bluegreen/maintenance-page
# A socket left by an inner master that did not exit cleanly (killed): it could not listen again.
rm -f "$RUN_DIR/inner.sock"
# The flag file is the upstream choice. It lives on a volume, so it survives nginx restarts; only
# create it when no choice has been recorded yet (the bot rewrites it on switch).
if [ ! -e "$STATE_DIR/active-blue" ] && [ ! -e "$STATE_DIR/active-green" ]; then
  : > "$STATE_DIR/active-$ACTIVE_POOL"
fi
chmod 755 "$STATE_DIR"
# The bot (uid 1000, not root) writes the flag and member files here: the folder is its to write,
# the files nginx writes (probe-token, upstream-pools) stay root's and readable.
chown 1000:1000 "$STATE_DIR"
# The bot's switch checks prove themselves with this token (on the state volume the bot shares) to
# be told nginx's upstream statuses; nobody else is. A new one at each start, written whole (the bot
# reads it at each check): a token that leaked stops working at the next restart.
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE_DIR/probe-token.tmp"
mv -f "$STATE_DIR/probe-token.tmp" "$STATE_DIR/probe-token"
PROBE_TOKEN=$(cat "$STATE_DIR/probe-token")
case "$PROBE_TOKEN" in ''|*[!0-9a-f]*) fail "$STATE_DIR/probe-token: wants hex digits (/dev/urandom unreadable?)" ;; esac
# A real file, never the image's /dev/stdout symlink: the bot tails it.
[ -f "$LOG_DIR/access.json.log" ] || : > "$LOG_DIR/access.json.log"

sed \
  -e "s|@PROXY_CONNECT_TIMEOUT@|$PROXY_CONNECT_TIMEOUT|g" \
  -e "s|@PROXY_READ_TIMEOUT@|$PROXY_READ_TIMEOUT|g" \
  -e "s|@PROXY_NEXT_UPSTREAM_TIMEOUT@|$PROXY_NEXT_UPSTREAM_TIMEOUT|g" \
  -e "s|@MAINTENANCE_RETRY_AFTER@|$MAINTENANCE_RETRY_AFTER|g" \
  -e "s|@STATE_DIR@|$STATE_DIR|g" \
  -e "s|@PROBE_TOKEN@|$PROBE_TOKEN|g" \
  -e "s|@POOL_HEADER_PUBLIC@|$POOL_HEADER_PUBLIC|g" \
  -e "s|@LOG_DIR@|$LOG_DIR|g" \
  "$TEMPLATE" > /etc/nginx/nginx.conf
# The groups from the member files on the state volume (none under Compose: the service names).
# A bad member file stops the start here, with the line it refuses.
bluegreen-nginx-members render || fail "cannot render the upstream groups (see above)"

nginx -t -q || fail "rendered /etc/nginx/nginx.conf is invalid (see nginx's message above)"

# The edge waits for the inner as long as the inner may take to answer (a last try on a pool
# started just before PROXY_NEXT_UPSTREAM_TIMEOUT runs out, then its connect, send and read), plus
# 10 s, so a slow answer is always the inner's own 504 and never an edge timeout.
edge_timeout_ms=$(( $(ms "$PROXY_NEXT_UPSTREAM_TIMEOUT") + $(ms "$PROXY_CONNECT_TIMEOUT") + 2 * $(ms "$PROXY_READ_TIMEOUT") + 10000 ))
sed \
  -e "s|@PORT@|$PORT|g" \
  -e "s|@EDGE_TIMEOUT@|${edge_timeout_ms}ms|g" \
  "$EDGE_TEMPLATE" > "$EDGE_CONF"
nginx -t -q -c "$EDGE_CONF" || fail "rendered $EDGE_CONF is invalid (see nginx's message above)"

# Whether child $1 still runs. Not `kill -0`: a child that exited stays a zombie until it is waited
# for, and kill -0 still finds it. /proc/PID/stat reads "PID (COMM) STATE …".
running() {
  state=
  { read -r _ _ state _ < "/proc/$1/stat"; } 2>/dev/null || return 1
  [ "$state" != Z ]
}

# Before the masters start, so no signal is lost (PID 1 ignores a signal it has no trap for).
inner=
stopping=
trap 'stopping=yes' QUIT TERM INT
trap '[ -z "$inner" ] || kill -HUP "$inner" 2>/dev/null || :' HUP
trap '[ -z "$inner" ] || kill -USR1 "$inner" 2>/dev/null || :' USR1

"$@" &
inner=$!
nginx -c "$EDGE_CONF" -g 'daemon off;' &
edge=$!

# Both run: look again every second. A trapped signal ends the `wait` at once.
while [ -z "$stopping" ] && running "$inner" && running "$edge"; do
  sleep 1 &
  wait $! || :
done

if [ -n "$stopping" ]; then
  # Edge first: its requests in flight still need the inner. Then the inner finishes its own.
  # QUIT is nginx's graceful stop (TERM would cut requests short).
  kill -QUIT "$edge" 2>/dev/null || :
  while running "$edge"; do wait "$edge" || :; done
  kill -QUIT "$inner" 2>/dev/null || :
  while running "$inner"; do wait "$inner" || :; done
  exit 0
fi

if running "$inner"; then gone=edge pid=$edge other=$inner; else gone=inner pid=$inner other=$edge; fi
status=0
wait "$pid" || status=$?
echo "bluegreen-nginx: the $gone nginx exited (status $status): stopping the other so the container restarts" >&2
kill -QUIT "$other" 2>/dev/null || :
while running "$other"; do wait "$other" || :; done
[ "$status" -ne 0 ] || status=70
exit "$status"

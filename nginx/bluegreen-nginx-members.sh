#!/bin/sh
# bluegreen-nginx-members: nginx's two upstream groups (blue_primary, green_primary) from the pools'
# member files, installed in the nginx image as /usr/local/bin/bluegreen-nginx-members.
#
#   render   write the groups (entrypoint.sh, before nginx starts)
#   apply    render; when the result is the running file, print `unchanged` and leave nginx alone;
#            else swap it in, `nginx -t`, reload (below) and print `reloaded`
#   reload   render, swap in, `nginx -t` and reload even when the file did not change, print
#            `reloaded`: for a change nginx cannot see in the files (under Compose, a service name
#            moved to a new container)
# Each of them also names the pool and release of every answer for the access log (maps on
# $upstream_addr and on the pool) and writes the address table `upstream-pools` (`address:port
# pool` a line) next to the member files, for the bot's watcher: nginx, not the app, says which pool
# served. Host names are resolved with getent, as nginx resolves them when it loads the config.
# A reload here is `nginx -s reload` of the inner nginx (the one the default config and pid file
# name), and returns once no old worker takes new connections. Clients do not notice it: they talk
# to the edge master (nginx/edge.conf.template), which resends a request whose connection the
# reload closed.
#
# Member files, on the state volume the bot shares (it writes a temp file and renames it):
#   members-blue, members-green   one `address:port` a line (IPv4 address or host name), `#` starts a
#                                 comment, blank lines are skipped; order and repeats do not matter
#   absent                        the pool's service name, app_<pool>:APP_PORT (Compose mode)
#   empty                         the pool has no member: a placeholder server marked `down`
#   release-blue, release-green   the release id the pool runs (the bot writes what it deployed);
#                                 absent: the log's `release` is the app's X-Release-Id, if any
#
# Exit status: 0 rendered / `reloaded` / `unchanged`; 1 refused: a member line is invalid, `nginx -t`
# failed (its message on stderr) or the reload did not take, and the previous file is back, so nginx
# keeps serving with the config it has; 64 bad usage or env (as entrypoint.sh).
# One apply or reload at a time: the caller serializes them (two at once could put back each other's
# file). POSIX sh only: runs on the official images (alpine/debian) and on the busybox stand-in.
set -eu

APP_PORT=${APP_PORT:-3000}
MAX_FAILS=${MAX_FAILS:-1}
FAIL_TIMEOUT=${FAIL_TIMEOUT:-5s}
# Fixed in the image; the overrides let a test run this against a host nginx and a temp folder.
MEMBERS_DIR=${BLUEGREEN_MEMBERS_DIR:-/etc/nginx/bluegreen}
UPSTREAMS=${BLUEGREEN_UPSTREAMS_CONF:-/etc/nginx/bluegreen-upstreams.conf}
# nginx/nginx.conf.template's `pid` directive: the inner master (the edge has a pid file of its own).
PID_FILE=${BLUEGREEN_NGINX_PID:-/tmp/nginx/nginx.pid}
# How long a reload waits for the workers to show that nginx took the new config.
RELOAD_WAIT_TENTHS=100

usage() { echo "usage: bluegreen-nginx-members render|apply|reload" >&2; exit 64; }
bad_env() { echo "bluegreen-nginx-members: $*" >&2; exit 64; }
refuse() { echo "bluegreen-nginx-members: $*" >&2; exit 1; }

case "$APP_PORT" in ''|*[!0-9]*) bad_env "APP_PORT: got '$APP_PORT', wants a whole number" ;; esac
case "$MAX_FAILS" in ''|*[!0-9]*) bad_env "MAX_FAILS: got '$MAX_FAILS', wants a whole number" ;; esac
# grep checks line by line: a value with a newline would pass on its first line and carry the rest
# into nginx's config. One line, then the pattern.
NL='
'
case "$FAIL_TIMEOUT" in *"$NL"*) bad_env "FAIL_TIMEOUT: a newline in the value, wants an nginx time such as 500ms, 2s" ;; esac
echo "$FAIL_TIMEOUT" | grep -Eq '^[0-9]+(ms|s|m)?$' || bad_env "FAIL_TIMEOUT: got '$FAIL_TIMEOUT', wants an nginx time such as 500ms, 2s"

# Whether $1 is a port nginx accepts: 1-65535, no sign, no leading zero.
valid_port() {
  case "$1" in ''|0*|*[!0-9]*|??????*) return 1 ;; esac
  [ "$1" -le 65535 ]
}

# Whether $1 is an IPv4 address (four numbers 0-255) or a host name (letters, digits, `.`, `-`, `_`:
# Compose and Swarm names such as app_blue or tasks.app_blue). Anything else could smuggle nginx syntax
# (`;`, `{`, spaces) into the config.
valid_address() {
  case "$1" in ''|[.-]*|*[!A-Za-z0-9._-]*) return 1 ;; esac
  case "$1" in *[!0-9.]*) return 0 ;; esac
  # Only digits and dots: it must be a whole IPv4 address, or nginx would look it up as a name.
  echo "$1" | grep -Eq '^(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}$'
}

# Prints the pool's members, one `address:port` a line, sorted and without repeats (so a list that
# only changed order renders the same and needs no reload); nothing for an empty file. Exits 1 at
# the first invalid line, naming it.
members() {
  file=$MEMBERS_DIR/members-$1
  if [ ! -e "$file" ]; then
    echo "app_$1:$APP_PORT"
    return
  fi
  [ -r "$file" ] || refuse "$file: cannot read it$KEPT"
  n=0
  found=
  # A last line without a newline counts too.
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    words=${line%%#*}
    # Split on blanks (no globbing): none is a blank line, more than one is an error.
    set -f
    # shellcheck disable=SC2086 # splitting is the point
    set -- $words
    set +f
    [ $# -eq 0 ] && continue
    if [ $# -eq 1 ] && [ "${1%:*}" != "$1" ] && valid_address "${1%:*}" && valid_port "${1##*:}"; then
      found="$found$1
"
    else
      refuse "$file line $n: got '$line', wants address:port (an IPv4 address or host name, a port 1-65535)$KEPT"
    fi
  done < "$file"
  printf '%s' "$found" | LC_ALL=C sort -u
}

# `server` lines for members $1 (one a line) with parameters $2. An upstream with no server at all is
# an error for nginx (and a group needs a primary that is not `backup`), so an empty pool gets a
# placeholder that is never tried: with the primary's only server `down`, nginx goes straight to the
# backup (checked with nginx 1.22: every request answered by the backup).
servers() {
  if [ -z "$1" ]; then
    echo "    server 127.0.0.1:1 $2 down; # no members"
    return
  fi
  echo "$1" | while IFS= read -r m; do echo "    server $m $2;"; done
}

# The IPv4 addresses nginx connects to for member $1 (`address:port`), one `address:port` a line:
# the address itself, or what a host name resolves to now (as nginx resolves it when it loads the
# config: app_blue under Compose); nothing when the name does not resolve.
addresses() {
  host=${1%:*}
  port=${1##*:}
  case "$host" in
    *[!0-9.]*)
      { getent ahostsv4 "$host" 2>/dev/null || getent hosts "$host" 2>/dev/null || :; } |
        while read -r ip _; do
          valid_address "$ip" && case "$ip" in *[!0-9.]*) ;; *) echo "$ip:$port" ;; esac
        done | LC_ALL=C sort -u ;;
    *) echo "$1" ;;
  esac
}

# The release id in file release-$1 (the bot writes what it deployed there), when it is one nginx can
# print: letters, digits and . _ - + : (what `deploy` accepts), at most 128. Anything else is left out
# with a warning: the log's `release` then falls back to the app's X-Release-Id.
release_of() {
  file=$MEMBERS_DIR/release-$1
  [ -f "$file" ] || return 0
  rel=$(head -c 200 "$file" | head -n 1)
  [ -n "$rel" ] || return 0
  if echo "$rel" | grep -Eq '^[A-Za-z0-9_.+:-]{1,128}$'; then
    echo "$rel"
  else
    echo "bluegreen-nginx-members: $file: got '$rel', wants letters, digits and . _ - + : (at most 128); release not named" >&2
  fi
}

# Both groups, in the shape nginx/nginx.conf.template explains (why zone, why the backup has
# max_fails=0), into file $1; then the maps that name the pool and release of each answer, and the
# address table (`address:port pool` a line) into $1.pools, for the bot's watcher.
render_to() {
  blue=$(members blue)
  green=$(members green)
  primary="max_fails=$MAX_FAILS fail_timeout=$FAIL_TIMEOUT"
  backup="backup max_fails=0"
  : > "$1.pools"
  for pool in blue green; do
    if [ "$pool" = blue ]; then list=$blue; else list=$green; fi
    [ -n "$list" ] || continue
    echo "$list" | while IFS= read -r m; do
      addresses "$m" | while IFS= read -r a; do echo "$a $pool"; done
    done >> "$1.pools"
  done
  {
    echo "# Rendered by bluegreen-nginx-members from $MEMBERS_DIR/members-blue, members-green,"
    echo "# release-blue and release-green. Do not edit: the next render or apply replaces it."
    for group in blue green; do
      if [ "$group" = blue ]; then first=$blue second=$green; else first=$green second=$blue; fi
      echo "upstream ${group}_primary {"
      echo "    zone ${group}_primary 64k;"
      servers "$first" "$primary"
      servers "$second" "$backup"
      echo "    keepalive 32;"
      echo "}"
    done
    # The pool of the last attempt: the last address of $upstream_addr ("a, b" between servers of a
    # group), one regex per member address, dots escaped.
    echo "map \$upstream_addr \$bg_upstream_pool {"
    echo "    default \"\";"
    while read -r a pool; do
      echo "    \"~(^| )$(echo "$a" | sed 's/\./\\./g')\$\" $pool;"
    done < "$1.pools"
    echo "}"
    # The release each pool runs, as the bot deployed it.
    echo "map \$bg_upstream_pool \$bg_nginx_release {"
    echo "    default \"\";"
    for pool in blue green; do
      rel=$(release_of "$pool")
      [ -z "$rel" ] || echo "    $pool \"$rel\";"
    done
    echo "}"
  } > "$1"
}

# The address table next to the member files, written whole (the bot reads it at any time).
install_pools() {
  [ -f "$1.pools" ] || return 0
  cp "$1.pools" "$MEMBERS_DIR/upstream-pools.tmp" && mv -f "$MEMBERS_DIR/upstream-pools.tmp" "$MEMBERS_DIR/upstream-pools"
  rm -f "$1.pools"
}

# pids of the workers that take new connections: the nginx master's children whose title is still
# "nginx: worker process", not "... is shutting down" (an old worker told to quit after a reload:
# it has closed its listening sockets and only finishes what it holds).
serving_workers() {
  master=$(cat "$PID_FILE" 2>/dev/null) || return 0
  for stat in /proc/[0-9]*/stat; do
    # "pid (comm) state ppid …"; a process may end between the glob and the reads.
    { read -r pid comm _ ppid _ < "$stat"; } 2>/dev/null || continue
    if [ "$ppid" != "$master" ] || [ "$comm" != "(nginx)" ]; then continue; fi
    title=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
    case "$title" in *"shutting down"*) ;; *"worker process"*) echo "$pid" ;; esac
  done
  return 0
}

# Render; swap the result in and reload when it differs from the running file (always with $1 =
# force: a name may now resolve to another address, which only a reload makes nginx see).
apply() {
  new=$(mktemp "$UPSTREAMS.new.XXXXXX")
  previous=$UPSTREAMS.previous
  render_to "$new"
  if [ "${1:-}" != force ] && [ -f "$UPSTREAMS" ] && cmp -s "$new" "$UPSTREAMS"; then
    # Never reload for nothing: a reload starts new workers and closes the edge's idle connections.
    install_pools "$new"
    echo unchanged
    return
  fi
  rm -f "$previous"
  [ ! -f "$UPSTREAMS" ] || cp -p "$UPSTREAMS" "$previous"
  mv -f "$new" "$UPSTREAMS"
  reload
  install_pools "$new"
  rm -f "$previous"
}

# `nginx -t`, `nginx -s reload`, wait until it took. On failure put_back runs and the script exits 1.
reload() {
  if ! nginx -t -q; then
    put_back
    refuse "nginx -t refused the configuration (its message above)$RESTORED"
  fi
  before=" $(serving_workers | tr '\n' ' ') "
  # On success it only logs a notice ("signal process started"): stdout stays the one word.
  if ! out=$(nginx -s reload 2>&1); then
    echo "$out" >&2
    put_back
    refuse "nginx -s reload failed (its message above)$RESTORED"
  fi
  # `nginx -s reload` only signals the master. When the new config loads, it starts new workers and,
  # 100 ms later, tells the old ones to quit; until then they still accept connections with the old
  # groups. So "reloaded" waits until none of the old workers serves and a new one does; when the
  # config does not load, the old workers are never told, and this runs out.
  tenths=0
  while :; do
    now=$(serving_workers)
    old=
    for pid in $now; do
      case "$before" in *" $pid "*) old=yes ;; esac
    done
    if [ -n "$now" ] && [ -z "$old" ]; then
      echo reloaded
      return
    fi
    tenths=$((tenths + 1))
    if [ "$tenths" -ge "$RELOAD_WAIT_TENTHS" ]; then
      put_back
      refuse "nginx was signalled but its old workers still serve after $((RELOAD_WAIT_TENTHS / 10)) s: it did not take the configuration (see its error log)$RESTORED"
    fi
    sleep 0.1
  done
}

# What an apply leaves behind however it ends.
cleanup() {
  [ -z "${new:-}" ] || rm -f "$new" "$new.pools"
}

# apply's previous file back in place; when there was none, the new one goes too (as before the
# apply).
put_back() {
  [ -n "${previous:-}" ] || return 0
  if [ -f "$previous" ]; then mv -f "$previous" "$UPSTREAMS"; else rm -f "$UPSTREAMS"; fi
}

[ $# -eq 1 ] || usage
# What a refusal adds: whether anything changed (KEPT, a member line refused) or was undone (RESTORED).
case "$1" in
  render)
    KEPT=''
    render_to "$UPSTREAMS"
    install_pools "$UPSTREAMS" ;;
  apply)
    KEPT='; nothing applied, nginx keeps its current config'
    RESTORED='; the previous file is back, nginx keeps its current config'
    trap cleanup EXIT
    apply ;;
  reload)
    KEPT='; nothing applied, nginx keeps its current config'
    RESTORED='; the previous file is back, nginx keeps its current config'
    trap cleanup EXIT
    apply force ;;
  *) usage ;;
esac

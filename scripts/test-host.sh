#!/usr/bin/env bash
# Gets this machine ready for the end-to-end suites, then returns; `npm test` runs it first, and CI
# runs nothing else before `npm ci && npm test`. On a Debian machine, as root, it installs what is
# missing (Docker engine, Compose 1.29 and the v2 plugin, nginx and a static busybox for the offline
# base images, Debian's docker-registry and openssl for the swarm suite, iproute2 and nsenter for its
# second node) and starts dockerd when no engine answers. Elsewhere it names what is missing.
# With CI=true anything missing fails the run; without, the suites that need it skip and say why.
set -uo pipefail

log() { echo "test-host: $*" >&2; }
fail_or_warn() {
  if [ "${CI:-}" = "true" ]; then
    log "CI=true: $*"
    exit 1
  fi
  log "$* (the suites that need it will skip)"
}

# The machine's own Debian mirror, read from its apt sources (deb822 files first, then sources.list),
# so the trixie download goes where this machine's apt already goes.
APT_ETC=${APT_ETC:-/etc/apt}
debian_mirror() {
  local f uri
  for f in "$APT_ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) print $i; break } }' "$f" | head -1)
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
}

# `test-host.sh --mirror` prints the mirror it would use, and does nothing else.
if [ "${1:-}" = "--mirror" ]; then
  debian_mirror
  exit 0
fi

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || need_apt+=(docker-compose)
[ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need_apt+=(busybox-static)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v nsenter >/dev/null 2>&1 || need_apt+=(util-linux)
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

if [ ${#need_apt[@]} -gt 0 ]; then
  if can_install; then
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null ||
      fail_or_warn "could not install ${need_apt[*]}"
  else
    fail_or_warn "missing packages ${need_apt[*]} (install them as root)"
  fi
fi

# Compose v2 is what most users have; Debian bookworm ships only 1.29 (kept: the stack suite runs
# under both). The v2 plugin comes from Debian trixie's docker-compose package, fetched with a
# private apt configuration so the machine's own sources stay as they are.
install_compose_v2() {
  local dir rc mirror
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { log "no Debian mirror in this machine's apt sources"; return 1; }
  dir=$(mktemp -d)
  printf '%s\n' 'Types: deb' "URIs: $mirror" 'Suites: trixie' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' >"$dir/trixie.sources"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  local opts=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/dev/null -o "Dir::Etc::sourcelist=$dir/trixie.sources"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
  apt-get "${opts[@]}" update -qq &&
    (cd "$dir" && apt-get "${opts[@]}" download docker-compose >/dev/null 2>&1) &&
    dpkg -x "$dir"/docker-compose_*.deb "$dir/x" &&
    install -D -m 0755 "$dir/x/usr/libexec/docker/cli-plugins/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
  rc=$?
  rm -rf "$dir"
  return $rc
}
if ! docker compose version >/dev/null 2>&1; then
  if can_install; then
    log "installing the Compose v2 plugin (Debian trixie's docker-compose)"
    install_compose_v2 && docker compose version >/dev/null 2>&1 || fail_or_warn "could not install Compose v2"
  else
    fail_or_warn "no Compose v2 (docker compose)"
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: /tmp/dockerd.log)"
    nohup dockerd >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
  fi
  if ! docker info >/dev/null 2>&1; then
    [ -f /tmp/dockerd.log ] && tail -20 /tmp/dockerd.log >&2
    fail_or_warn "no Docker engine answers"
  fi
fi
log "docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '-'), compose $(docker compose version --short 2>/dev/null || echo '-'), docker-compose $(docker-compose version --short 2>/dev/null || echo '-')"
exit 0

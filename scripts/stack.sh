#!/usr/bin/env bash
# The whole bring-up and tear-down, online or offline.
#   scripts/stack.sh build   build the bot (host npm), base images if needed, nginx and bot images,
#                            and the demo app's image only when a pool runs it (BLUE_IMAGE /
#                            GREEN_IMAGE of your own are used as they are: never built or retagged)
#   scripts/stack.sh up      build, then start the stack and wait until nginx answers
#   scripts/stack.sh down    stop and remove containers, networks and volumes of the project
#   scripts/stack.sh admin-token  print the pools' ADMIN_TOKEN (scripts/swarm.sh), made as `up` makes it
#   scripts/stack.sh docker-gid   print the Docker socket's group (docker-filter's), saved as `up` saves it
# Honours the env of shared/SPEC.md (ports, ACTIVE_POOL, images...), COMPOSE_FILE and
# COMPOSE_PROJECT_NAME, and BASE_IMAGES:
#   auto (default)  official images when present or pullable, else stand-ins built from the host
#   official        node:20-bookworm-slim / nginx:1.27-alpine (or NODE_IMAGE / NGINX_IMAGE)
#   local           stand-ins from scripts/build-base-images.sh (air-gapped machines)
set -euo pipefail

cd "$(dirname "$0")/.."
cmd=${1:-up}
# IMAGE_TAG tags the images built here; the pools' default image (the demo app) follows it.
DEMO_IMAGE=bluegreen-demo-app:${IMAGE_TAG:-local}
export BLUE_IMAGE=${BLUE_IMAGE:-$DEMO_IMAGE} GREEN_IMAGE=${GREEN_IMAGE:-$DEMO_IMAGE}

log() { echo "stack: $*" >&2; }
die() { echo "stack: $*" >&2; exit 1; }

# Compose v2 (`docker compose`) when present, else docker-compose 1.29; BLUEGREEN_COMPOSE=v1|v2 insists.
compose() {
  case "${BLUEGREEN_COMPOSE:-}" in
    v1) docker-compose "$@" ;;
    v2) docker compose "$@" ;;
    *) if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi ;;
  esac
}

require_docker() {
  command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install -y docker.io docker-compose)"
  docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd, or check permissions on /var/run/docker.sock)"
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null ||
    die "neither 'docker compose' nor 'docker-compose' is installed"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Prints the official image when it is present or pullable, else builds the stand-in and prints it.
official_or_standin() {
  local kind=$1 official=$2 standin=$3
  if have_image "$official" || timeout 120 docker pull -q "$official" >/dev/null 2>&1; then
    echo "$official"
  else
    log "cannot pull $official: building a stand-in from the host's $kind"
    bash scripts/build-base-images.sh "$kind" >&2
    echo "$standin"
  fi
}

# Picks NODE_IMAGE / NGINX_IMAGE for the builds and exports them.
choose_base_images() {
  local mode=${BASE_IMAGES:-auto}
  local node_official=${NODE_IMAGE:-node:20-bookworm-slim}
  local nginx_official=${NGINX_IMAGE:-nginx:1.27-alpine}
  case "$mode" in
    official)
      export NODE_IMAGE=$node_official NGINX_IMAGE=$nginx_official ;;
    local)
      bash scripts/build-base-images.sh all >&2
      export NODE_IMAGE=bluegreen/node-base:local NGINX_IMAGE=bluegreen/nginx-base:local ;;
    auto)
      NODE_IMAGE=$(official_or_standin node "$node_official" bluegreen/node-base:local)
      NGINX_IMAGE=$(official_or_standin nginx "$nginx_official" bluegreen/nginx-base:local)
      export NODE_IMAGE NGINX_IMAGE ;;
    *) die "BASE_IMAGES: got '$mode', wants auto, official or local" ;;
  esac
  log "base images: NODE_IMAGE=$NODE_IMAGE NGINX_IMAGE=$NGINX_IMAGE"
}

# Containers cannot reach a registry: build on the host and stage what the bot image copies.
stage_bot() {
  [ -d node_modules ] || npm ci --no-audit --no-fund
  npm run --silent build
  rm -rf .build/bot
  mkdir -p .build/bot
  cp package.json package-lock.json .build/bot/
  cp -R dist .build/bot/dist
  (cd .build/bot && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error)
}

# The demo app's image, when a pool runs it. The pools' services have no `build:`: an image you
# name is yours, and `compose build` never overwrites its tag with the demo app.
build_demo_app() {
  if [ "$BLUE_IMAGE" != "$DEMO_IMAGE" ] && [ "$GREEN_IMAGE" != "$DEMO_IMAGE" ]; then
    log "pools run $BLUE_IMAGE and $GREEN_IMAGE: the demo app is not built"
    return
  fi
  docker build -q --build-arg "NODE_IMAGE=$NODE_IMAGE" -t "$DEMO_IMAGE" demo-app >/dev/null || die "building the demo app ($DEMO_IMAGE) failed"
  log "built $DEMO_IMAGE"
}

# The network-fault helper of `chaos start <pool> loss|delay`, from the host's iptables and tc.
build_chaos_net() {
  if command -v xtables-nft-multi >/dev/null && command -v tc >/dev/null; then
    CHAOS_NET_TAG=bluegreen-chaos-net:${IMAGE_TAG:-local} bash scripts/build-base-images.sh chaos-net >&2
  else
    log "no iptables or tc on this host: chaos loss and delay will be refused (apt-get install -y iptables iproute2)"
  fi
}

build() {
  require_docker
  choose_base_images
  stage_bot
  build_demo_app
  build_chaos_net
  compose build
}

# A setting from the shell, else from .env as Compose reads it (the last line wins, quotes dropped).
setting() {
  local name=$1 value=${!1:-}
  if [ -z "$value" ] && [ -f .env ]; then
    value=$(sed -n "s/^[[:space:]]*$name=//p" .env | tail -n 1 | tr -d '\r')
    value=${value#[\"\']}
    value=${value%[\"\']}
  fi
  printf '%s\n' "$value"
}

# Adds NAME=VALUE to .env (created readable by its owner only), so a plain `docker compose up` later
# (Compose reads .env itself) gets it too. An empty NAME= line would win over it if it came last: dropped.
save_setting() {
  local name=$1 value=$2
  if [ -f .env ]; then
    sed -i "/^[[:space:]]*$name=[[:space:]]*\$/d" .env
    [ ! -s .env ] || [ -z "$(tail -c 1 .env)" ] || echo >>.env
  fi
  (umask 077 && echo "$name=$value" >>.env)
}

# The secret the bot sends to the pools' admin listener; the demo app refuses chaos without it, so
# the stack must always have one: the shell's, else .env's, else a new random one saved to .env, so
# that every later `up` gives the pools and the bot the same. Printed on stdout.
admin_token() {
  local token
  token=$(setting ADMIN_TOKEN)
  if [ -z "$token" ]; then
    token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    save_setting ADMIN_TOKEN "$token"
    log "wrote a new random ADMIN_TOKEN to .env (the pools want it for chaos; the bot sends it)"
  fi
  printf '%s\n' "$token"
}

# The Docker socket's group: docker-filter runs as uid 1000 in it (not root). The shell's DOCKER_GID
# wins; else the socket's own group, saved to .env when .env does not say it already, so a plain
# `docker compose up` later starts the filter in the same group. Printed on stdout.
docker_gid() {
  local gid sock=${DOCKER_SOCKET_HOST:-/var/run/docker.sock}
  gid=${DOCKER_GID:-}
  if [ -z "$gid" ]; then
    gid=$(stat -c %g "$sock" 2>/dev/null) || die "cannot stat $sock (is dockerd running?): set DOCKER_GID to the Docker socket's group id"
    if [ "$(setting DOCKER_GID)" != "$gid" ]; then
      save_setting DOCKER_GID "$gid"
      log "wrote DOCKER_GID=$gid (the group of $sock) to .env: docker-filter runs in that group"
    fi
  fi
  printf '%s\n' "$gid"
}

wait_ready() {
  local port=${NGINX_PORT:-8080} deadline=$((SECONDS + ${STACK_WAIT_SEC:-120}))
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/"; do
    if [ $SECONDS -ge $deadline ]; then
      compose ps >&2 || true
      die "nginx did not answer on 127.0.0.1:$port within ${STACK_WAIT_SEC:-120}s (see: docker-compose logs nginx)"
    fi
    sleep 1
  done
  log "up: http://127.0.0.1:$port/ (bot: http://127.0.0.1:${BOT_PORT:-3000}/healthz)"
}

case "$cmd" in
  build) build ;;
  up)
    build
    ADMIN_TOKEN=$(admin_token)
    DOCKER_GID=$(docker_gid)
    export ADMIN_TOKEN DOCKER_GID
    compose up -d --remove-orphans
    wait_ready ;;
  down)
    require_docker
    compose down -v --remove-orphans ;;
  admin-token) admin_token ;;
  docker-gid) docker_gid ;;
  ps | logs | exec | config)
    shift
    compose "$cmd" "$@" ;;
  *) die "usage: $0 build|up|down|admin-token|docker-gid|ps|logs|exec|config" ;;
esac

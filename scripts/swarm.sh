#!/usr/bin/env bash
# Docker Swarm mode (issue #13): the stack of docker-stack.yml on the swarm the docker CLI talks to
# (a manager).
#   scripts/swarm.sh up     build the images as stack:up does, label the edge node, deploy, wait until
#                           every pool task runs and nginx answers on 127.0.0.1:NGINX_PORT
#   scripts/swarm.sh down   remove the stack, wait until its containers and networks are gone, then
#                           remove its volumes on this node
# Env (shared/SPEC.md): STACK_NAME [bluegreen], BLUE_REPLICAS / GREEN_REPLICAS [2], NGINX_PORT [8080],
# EDGE_NODE [this node: id or name], IMAGE_TAG [local], SWARM_WAIT_SEC [180],
# REGISTRY (host:port every node can pull from: the built images are tagged REGISTRY/name:IMAGE_TAG,
# pushed there and deployed from there; without it each node uses its own image store, so load the
# images onto workers yourself: `docker save … | docker -H <worker> load`).
# BLUEGREEN_IMAGES_READY=1 skips the build (the test runner built them already). DOCKER_GID [the
# socket's group, saved to .env] is docker-filter's group. ADMIN_TOKEN [from .env,
# else a random one written there] is given to the pools and the bot (chaos on the admin listener).
set -euo pipefail

cd "$(dirname "$0")/.."
cmd=${1:-up}
STACK_NAME=${STACK_NAME:-bluegreen}
export IMAGE_TAG=${IMAGE_TAG:-local}
export STACK_NAME
export IMAGE_PREFIX=${REGISTRY:+$REGISTRY/}
export BLUE_IMAGE=${BLUE_IMAGE:-${IMAGE_PREFIX}bluegreen-demo-app:$IMAGE_TAG} GREEN_IMAGE=${GREEN_IMAGE:-${IMAGE_PREFIX}bluegreen-demo-app:$IMAGE_TAG}
EDGE_LABEL=bluegreen.edge

log() { echo "swarm: $*" >&2; }
die() { echo "swarm: $*" >&2; exit 1; }

require_manager() {
  command -v docker >/dev/null || die "docker is not installed (Debian: apt-get install -y docker.io)"
  local state
  state=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null) ||
    die "no Docker engine answers (start dockerd, or check permissions on /var/run/docker.sock)"
  case "$state" in
    "active true") ;;
    active*) die "this engine is a swarm worker: run swarm:up against a manager (DOCKER_HOST)" ;;
    *) die "this engine is not in a swarm (docker swarm init, or point DOCKER_HOST at a manager)" ;;
  esac
}

# The edge node carries the label; every other node loses it, so nginx and the bot have one home.
label_edge() {
  local edge=${EDGE_NODE:-$(docker info --format '{{.Swarm.NodeID}}')} edge_id node
  edge_id=$(docker node inspect --format '{{.ID}}' "$edge") || die "EDGE_NODE: no node '$edge' in this swarm (docker node ls)"
  for node in $(docker node ls -q); do
    [ "$node" = "$edge_id" ] && continue
    docker node update --label-rm "$EDGE_LABEL" "$node" >/dev/null 2>&1 || true
  done
  docker node update --label-add "$EDGE_LABEL=true" "$edge_id" >/dev/null
  log "edge node: $edge_id (label $EDGE_LABEL=true)"
}

# "2/2" for every service of the stack (Swarm counts running tasks, healthy ones for healthchecked images).
converged() {
  local lines
  lines=$(docker service ls --filter "label=com.docker.stack.namespace=$STACK_NAME" --format '{{.Replicas}}')
  [ -n "$lines" ] || return 1
  ! echo "$lines" | awk -F'[/ ]' '$1 != $2 { bad = 1 } END { exit !bad }'
}

# REGISTRY: every node pulls the stack's images from there.
push_images() {
  local name
  local names=(bluegreen-nginx bluegreen-bot)
  # The demo app only when a pool runs it: an image of your own is pulled by the nodes as you named it.
  case " $BLUE_IMAGE $GREEN_IMAGE " in *"bluegreen-demo-app:$IMAGE_TAG "*) names+=(bluegreen-demo-app) ;; esac
  for name in "${names[@]}"; do
    docker tag "$name:$IMAGE_TAG" "$REGISTRY/$name:$IMAGE_TAG"
    docker push -q "$REGISTRY/$name:$IMAGE_TAG" >/dev/null || die "pushing $REGISTRY/$name:$IMAGE_TAG failed (is $REGISTRY a registry every node trusts? insecure-registries in daemon.json for plain HTTP)"
  done
  log "images pushed to $REGISTRY"
}

nginx_container() {
  docker ps -q --filter "label=com.docker.swarm.service.name=${STACK_NAME}_nginx" --filter status=running | head -n1
}

wait_ready() {
  local port=${NGINX_PORT:-8080} deadline=$((SECONDS + ${SWARM_WAIT_SEC:-180})) ctr
  until converged; do
    if [ $SECONDS -ge $deadline ]; then
      docker stack ps --no-trunc "$STACK_NAME" >&2 || true
      die "the stack did not reach its replicas within ${SWARM_WAIT_SEC:-180}s"
    fi
    sleep 1
  done
  # Until the bot's first round writes the member files, nginx resolves app_blue / app_green (every
  # task, dnsrr) when it loads its config, maybe before every pool task ran: one reload lists them all.
  ctr=$(nginx_container)
  [ -n "$ctr" ] || die "no running nginx container on this node: run swarm:up on the edge node"
  docker exec "$ctr" bluegreen-nginx-members reload >/dev/null
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/"; do
    if [ $SECONDS -ge $deadline ]; then
      docker service logs --tail 20 "${STACK_NAME}_nginx" >&2 || true
      die "nginx did not answer on 127.0.0.1:$port within ${SWARM_WAIT_SEC:-180}s"
    fi
    sleep 1
  done
  log "up: http://127.0.0.1:$port/ (stack $STACK_NAME: docker stack ps $STACK_NAME)"
}

wait_gone() {
  local deadline=$((SECONDS + ${SWARM_WAIT_SEC:-180}))
  while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK_NAME")" ] ||
    [ -n "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK_NAME")" ]; do
    [ $SECONDS -ge $deadline ] && die "the stack's containers or networks are still here after ${SWARM_WAIT_SEC:-180}s"
    sleep 1
  done
}

case "$cmd" in
  up)
    require_manager
    # stack.sh builds the demo app when a pool runs it (named here with the registry in front).
    [ "${BLUEGREEN_IMAGES_READY:-}" = 1 ] || BLUE_IMAGE=${BLUE_IMAGE#"$IMAGE_PREFIX"} GREEN_IMAGE=${GREEN_IMAGE#"$IMAGE_PREFIX"} bash scripts/stack.sh build
    [ -z "${REGISTRY:-}" ] || push_images
    label_edge
    # `docker stack deploy` reads no .env: the pools' and the bot's ADMIN_TOKEN comes from the shell,
    # else from .env, else a new one that stack.sh writes there.
    ADMIN_TOKEN=$(bash scripts/stack.sh admin-token)
    # docker-filter runs as uid 1000 in the socket's group: this node's socket (the edge node's,
    # where the filter runs, is expected to have the same group; set DOCKER_GID when it does not).
    DOCKER_GID=$(bash scripts/stack.sh docker-gid)
    export ADMIN_TOKEN DOCKER_GID
    # --resolve-image never: local images have no digest to pin; with REGISTRY the tag is pulled as it is.
    docker stack deploy --prune --resolve-image never --with-registry-auth -c docker-stack.yml "$STACK_NAME"
    wait_ready ;;
  down)
    require_manager
    docker stack rm "$STACK_NAME" >/dev/null 2>&1 || true
    wait_gone
    # Volumes are the nodes' own: the stack's live on the edge node (this one), where nginx and the bot ran.
    vols=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK_NAME")
    [ -z "$vols" ] || docker volume rm $vols >/dev/null
    log "down: stack $STACK_NAME removed" ;;
  *) die "usage: $0 up|down" ;;
esac

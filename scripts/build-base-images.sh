#!/usr/bin/env bash
# Builds stand-in base images from what the host already has, for machines that cannot pull:
#   bluegreen/node-base:local   the host's node binary + its ldd libraries + busybox
#   bluegreen/nginx-base:local  Debian's nginx binary + its ldd libraries + busybox
#   bluegreen-chaos-net:local   the chaos helper (`chaos start <pool> loss|delay`): busybox, the host's
#                               iptables and tc (CHAOS_NET_TAG names it; stack.sh tags it with IMAGE_TAG)
# Each is a folder tarred into `docker import`: no registry, seconds to build.
# Needs: docker, node, nginx (apt-get install nginx-light) and busybox (apt-get install busybox-static).
set -euo pipefail

NODE_TAG=${NODE_BASE_TAG:-bluegreen/node-base:local}
NGINX_TAG=${NGINX_BASE_TAG:-bluegreen/nginx-base:local}
CHAOS_NET_TAG=${CHAOS_NET_TAG:-bluegreen-chaos-net:local}
what=${1:-all}

die() { echo "build-base-images: $*" >&2; exit 1; }

find_busybox() {
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return; fi
  done
  die "a static busybox is needed: apt-get install -y busybox-static"
}

# Copies a binary and every library ldd names (plus the loader) into $root, keeping paths.
copy_with_libs() {
  local root=$1 bin=$2
  mkdir -p "$root$(dirname "$bin")"
  cp -L "$bin" "$root$bin"
  ldd "$bin" | grep -oE '/[^ ]+' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

base_root() {
  local root=$1
  mkdir -p "$root"/{bin,etc,tmp,root,run,var/run,var/tmp,home/node}
  chmod 1777 "$root/tmp" "$root/var/tmp"
  local bb
  bb=$(find_busybox)
  cp "$bb" "$root/bin/busybox"
  for applet in $("$bb" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  mkdir -p "$root/usr/bin" "$root/sbin" "$root/usr/sbin"
  ln -sf /bin/env "$root/usr/bin/env"
  cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nginx:x:101:101:nginx:/nonexistent:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat > "$root/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nginx:x:101:
www-data:x:33:
nogroup:x:65534:
GROUP
  chown 1000:1000 "$root/home/node"
  echo 'hosts: files dns' > "$root/etc/nsswitch.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$root/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  fi
}

build_node() {
  local node_bin root
  node_bin=$(readlink -f "$(command -v node)") || die "no node on this host"
  root=$(mktemp -d)
  base_root "$root"
  copy_with_libs "$root" "$node_bin"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["node"]' - "$NODE_TAG" >/dev/null
  rm -rf "$root"
  echo "built $NODE_TAG from $node_bin ($(node --version))"
}

build_nginx() {
  local nginx_bin root
  nginx_bin=$(command -v nginx || true)
  [ -n "$nginx_bin" ] || nginx_bin=/usr/sbin/nginx
  [ -x "$nginx_bin" ] || die "no nginx on this host: apt-get install -y nginx-light"
  root=$(mktemp -d)
  base_root "$root"
  copy_with_libs "$root" "$nginx_bin"
  # bluegreen-nginx-members resolves the pools' names with getent (as the official images can).
  copy_with_libs "$root" "$(command -v getent)"
  # Paths compiled into Debian's nginx (nginx -V): it opens/creates these before reading its config.
  mkdir -p "$root/etc/nginx" "$root/var/log/nginx" "$root/var/lib/nginx" "$root/usr/share/nginx/html"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["nginx", "-g", "daemon off;"]' - "$NGINX_TAG" >/dev/null
  rm -rf "$root"
  echo "built $NGINX_TAG from $nginx_bin ($("$nginx_bin" -v 2>&1))"
}

# The chaos helper (docker/chaos-net/chaos-net.sh): busybox, the host's iptables (nf_tables and
# legacy, with their extensions) and tc, for `chaos start <pool> loss|delay`.
build_chaos_net() {
  local root ipt tc lib
  ipt=$(command -v xtables-nft-multi || true)
  tc=$(command -v tc || true)
  [ -n "$ipt" ] && [ -n "$tc" ] || die "the chaos helper needs iptables and tc on this host: apt-get install -y iptables iproute2"
  root=$(mktemp -d)
  base_root "$root"
  copy_with_libs "$root" "$ipt"
  copy_with_libs "$root" "$tc"
  ln -s "$ipt" "$root/usr/sbin/iptables-nft"
  if command -v xtables-legacy-multi >/dev/null; then
    copy_with_libs "$root" "$(command -v xtables-legacy-multi)"
    ln -s "$(command -v xtables-legacy-multi)" "$root/usr/sbin/iptables-legacy"
  fi
  # iptables loads its matches (statistic) as plugins: ldd does not name them.
  lib=$(readlink -f "$(dirname "$(ldd "$ipt" | grep -oE '/[^ ]*libxtables[^ ]*')")")/xtables
  [ -d "$lib" ] || die "no iptables extensions at $lib"
  mkdir -p "$root$lib"
  cp -a "$lib/." "$root$lib/"
  mkdir -p "$root/usr/local/bin"
  install -m 0755 "$(dirname "$0")/../docker/chaos-net/chaos-net.sh" "$root/usr/local/bin/chaos-net"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENV XTABLES_LIBDIR=$lib" \
    -c 'LABEL com.bluegreen.role=chaos-net' \
    -c 'ENTRYPOINT ["/usr/local/bin/chaos-net"]' - "$CHAOS_NET_TAG" >/dev/null
  rm -rf "$root"
  echo "built $CHAOS_NET_TAG from $ipt and $tc"
}

case "$what" in
  node) build_node ;;
  nginx) build_nginx ;;
  chaos-net) build_chaos_net ;;
  all) build_node; build_nginx ;;
  *) die "usage: $0 [node|nginx|chaos-net|all]" ;;
esac

#!/usr/bin/env bash
# Builds "any-app": a tiny HTTP app that knows nothing about bluegreen, served by busybox httpd.
# Offline: FROM scratch, the host's static busybox plus this folder's app/ and www/, tarred into
# `docker import` with the image's own ENV/CMD/EXPOSE/LABEL. No registry, no node.
#
#   build.sh <image-ref> [SITE_VERSION] [--env KEY=VALUE]...
#     SITE_VERSION  named on the front page (default v1)
#     --env K=V     baked into the image's own ENV, e.g. --env FAIL_PCT=30 --env FAIL_AFTER=20,
#                   --env SLOW_MS=1500 (repeatable; a later one wins)
#
# Idempotent: when <image-ref> already holds an image built from the same inputs (busybox, app
# files, version, env, this script) nothing is rebuilt. Prints the ref on stdout, notes on stderr.
# Needs: docker with an engine, a static busybox (apt-get install busybox-static), GNU tar.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "any-app build: $*" >&2; exit 1; }
usage() { die "usage: $0 <image-ref> [SITE_VERSION] [--env KEY=VALUE]..."; }

ref=""
version=""
envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env) [ $# -ge 2 ] || usage; envs+=("$2"); shift 2 ;;
    --env=*) envs+=("${1#--env=}"); shift ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *)
      if [ -z "$ref" ]; then ref=$1
      elif [ -z "$version" ]; then version=$1
      else usage
      fi
      shift ;;
  esac
done
[ -n "$ref" ] || usage
version=${version:-v1}
for kv in ${envs[@]+"${envs[@]}"}; do
  [[ "$kv" =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]] || die "--env wants KEY=VALUE, got '$kv'"
done

find_busybox() {
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return; fi
  done
  die "a static busybox is needed: apt-get install -y busybox-static"
}
bb=$(find_busybox)
case " $("$bb" --list | tr "\n" " ") " in *" httpd "*) ;; *) die "$bb has no httpd applet" ;; esac
docker info >/dev/null 2>&1 || die "no Docker engine answers"

# What the image is made of; equal inputs mean the image under $ref is already this build.
inputs=$(
  {
    sha256sum < "$bb"
    (cd "$here" && find app www -type f | LC_ALL=C sort | while read -r f; do
      printf '%s %s ' "$f" "$(stat -c %a "$f")"; sha256sum < "$f"
    done)
    sha256sum < "$here/build.sh"
    printf 'version=%s\n' "$version"
    printf 'env=%s\n' ${envs[@]+"${envs[@]}"}
  } | sha256sum | cut -c1-64
)
old_id=$(docker image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
if [ -n "$old_id" ]; then
  have=$(docker image inspect --format '{{index .Config.Labels "bluegreen.any-app.inputs"}}' "$ref" 2>/dev/null || true)
  if [ "$have" = "$inputs" ]; then
    echo "any-app build: $ref is up to date ($version)" >&2
    echo "$ref"
    exit 0
  fi
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,app,www/cgi-bin}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
ln -s /bin/env "$root/usr/bin/env"
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
install -m 755 "$here/app/start.sh" "$root/app/start.sh"
install -m 644 "$here/www/health" "$root/www/health"
install -m 755 "$here/www/cgi-bin/work" "$root/www/cgi-bin/work"

# The image's own settings. --env values come last so they win (PORT included).
port=8000
changes=(
  -c 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  -c "ENV PORT=8000"
  -c "ENV SITE_VERSION=\"$version\""
)
for kv in ${envs[@]+"${envs[@]}"}; do
  k=${kv%%=*} v=${kv#*=}
  v=${v//\\/\\\\}; v=${v//\"/\\\"}
  changes+=(-c "ENV $k=\"$v\"")
  [ "$k" = PORT ] && port=${kv#*=}
done
changes+=(
  -c "EXPOSE $port"
  -c 'WORKDIR /www'
  -c 'CMD ["/app/start.sh"]'
  -c 'LABEL org.opencontainers.image.title="any-app"'
  -c "LABEL org.opencontainers.image.version=\"$version\""
  -c 'LABEL org.opencontainers.image.description="busybox httpd test app, knows nothing about bluegreen"'
  -c "LABEL bluegreen.any-app.inputs=\"$inputs\""
)

tar --sort=name --mtime='2024-01-01 00:00:00Z' --owner=0 --group=0 --numeric-owner -C "$root" -c . \
  | docker import "${changes[@]}" - "$ref" >/dev/null

# A rebuild under the same ref leaves the old image untagged: drop it unless something uses it.
new_id=$(docker image inspect --format '{{.Id}}' "$ref")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "any-app build: built $ref ($version${envs[*]:+, ${envs[*]}}) from $bb" >&2
echo "$ref"

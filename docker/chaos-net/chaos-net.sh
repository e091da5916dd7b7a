#!/bin/sh
# chaos-net: a network fault inside the network namespace of the container this one joined
# (`docker run --network container:<app> --cap-add NET_ADMIN`), started by the bot for
# `chaos start <pool> loss <pct>|delay <ms>`. It applies the fault, prints `applied`, keeps it for
# SECONDS, then removes it; SIGTERM (`chaos stop`, docker stop) removes it at once. So a fault ends
# even when the bot that started it is gone.
#
#   chaos-net loss PERCENT SECONDS   iptables: drop PERCENT% of the packets coming in (statistic match)
#   chaos-net delay MS SECONDS       tc netem: hold every packet going out MS milliseconds
#
# Exit status: 0 done; 3 refused (the kernel cannot: no netem, no nf_tables/iptables), with the
# reason on stdout as `refused: …`; 64 bad usage. POSIX sh (busybox).
set -eu
# Full paths: busybox's sh runs its own applets first, and its tc knows no netem.
TC=/usr/sbin/tc

usage() { echo "usage: chaos-net loss PERCENT SECONDS | delay MS SECONDS" >&2; exit 64; }
[ $# -eq 3 ] || usage
kind=$1 amount=$2 secs=$3
case "$amount" in ''|*[!0-9]*) usage ;; esac
case "$secs" in ''|*[!0-9]*) usage ;; esac

# The container's interfaces but loopback: the app's traffic to nginx goes through them.
ifaces=$(ls /sys/class/net | grep -v '^lo$' || true)
[ -n "$ifaces" ] || { echo "refused: the container has no network interface but lo"; exit 3; }

# iptables: nf_tables when the kernel has it, else the legacy tables.
ipt() {
  iptables-nft "$@" 2>/tmp/ipt.err || iptables-legacy "$@" 2>>/tmp/ipt.err
}

rule() { echo "INPUT ! -i lo -m statistic --mode random --probability $(awk "BEGIN { printf \"%.4f\", $amount / 100 }") -j DROP"; }

apply() {
  case "$kind" in
    loss)
      [ "$amount" -ge 1 ] && [ "$amount" -le 100 ] || usage
      # shellcheck disable=SC2046 # the rule's words
      if ! ipt -A $(rule); then
        echo "refused: iptables cannot add the rule here: $(tr '\n' ' ' < /tmp/ipt.err)"
        exit 3
      fi ;;
    delay)
      [ "$amount" -ge 1 ] && [ "$amount" -le 60000 ] || usage
      for i in $ifaces; do
        if ! out=$($TC qdisc add dev "$i" root netem delay "${amount}ms" 2>&1); then
          echo "refused: this kernel cannot delay packets (tc netem: $out); delay needs the sch_netem module on the host"
          undo
          exit 3
        fi
      done ;;
    *) usage ;;
  esac
}

undo() {
  case "$kind" in
    # shellcheck disable=SC2046
    loss) while ipt -D $(rule) 2>/dev/null; do :; done ;;
    delay) for i in $ifaces; do $TC qdisc del dev "$i" root 2>/dev/null || :; done ;;
  esac
}

trap 'undo; echo removed; exit 0' TERM INT
apply
echo applied
sleep "$secs" &
wait $! || :
undo
echo removed

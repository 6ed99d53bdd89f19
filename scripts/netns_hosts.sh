#!/usr/bin/env bash
# Two test hosts on this machine for MPI runs across a network: two network namespaces joined
# by a veth pair, each with its own address and hostname, and an ssh stand-in that lets
# mpirun start ranks on either (issue 13). Used by tests/train/netns_hosts_test.sh and
# bench/mpi_bench.py --links.
#
#   scripts/netns_hosts.sh up TAG [RATE]   make hosts aiok_h1_TAG / aiok_h2_TAG (10.200.0.1, .2;
#                                          addresses only these namespaces see); RATE (e.g.
#                                          10gbit, 1gbit) shapes each direction of the link
#   scripts/netns_hosts.sh run TAG CMD...  run CMD on host 1 (its network and hostname)
#   scripts/netns_hosts.sh mpirun-args TAG print mpirun's arguments for one rank per host,
#                                          TCP only, one per line
#   scripts/netns_hosts.sh bytes TAG       bytes host 1's end of the link sent plus received
#   scripts/netns_hosts.sh down TAG        end every process on the hosts, remove them and
#                                          the link
#
# TAG: 1-12 letters or digits (the veth names, av<TAG>a/b, have at most 15 characters).
# Needs root (CAP_NET_ADMIN), iproute2 and util-linux's unshare. `up` exits 77 with the reason
# on stderr when this machine does not allow network namespaces. The ssh stand-in is written
# to ${TMPDIR:-/tmp}/aiok_netns_TAG.agent and removed by `down`.
set -euo pipefail

action=${1:?usage: netns_hosts.sh up|run|mpirun-args|bytes|down TAG ...}
tag=${2:?usage: netns_hosts.sh $action TAG ...}
shift 2
[[ "$tag" =~ ^[A-Za-z0-9]{1,12}$ ]] || {
  echo "netns_hosts.sh: TAG must be 1-12 letters or digits, found '$tag'" >&2
  exit 2
}
host1=aiok_h1_$tag
host2=aiok_h2_$tag
link1=av${tag}a  # veth names are at most 15 characters
link2=av${tag}b
agent="${TMPDIR:-/tmp}/aiok_netns_$tag.agent"

remove_hosts() {
  local ns pid
  for ns in "$host1" "$host2"; do
    # A namespace with processes in it outlives `ip netns del`: end them first.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true  # takes its end of the veth with it
  done
  ip link del "$link1" 2>/dev/null || true  # an end still in this namespace
  rm -f "$agent"
}

case "$action" in
  up)
    rate=${1:-}
    for tool in ip unshare tc; do
      command -v "$tool" >/dev/null ||
        { echo "$tool is not on PATH (iproute2, util-linux; as root: /usr/sbin)" >&2; exit 77; }
    done
    if ! err=$(ip netns add "$host1" 2>&1); then
      echo "this machine does not allow creating a network namespace: $err" >&2
      exit 77
    fi
    trap 'status=$?; remove_hosts; exit "$status"' ERR  # no half-made hosts left behind
    ip netns add "$host2"
    ip link add "$link1" type veth peer name "$link2"
    ip link set "$link1" netns "$host1"
    ip link set "$link2" netns "$host2"
    ip -n "$host1" addr add 10.200.0.1/24 dev "$link1"
    ip -n "$host2" addr add 10.200.0.2/24 dev "$link2"
    for ns in "$host1" "$host2"; do ip -n "$ns" link set lo up; done
    ip -n "$host1" link set "$link1" up
    ip -n "$host2" link set "$link2" up
    if [ -n "$rate" ]; then
      # A token bucket on each end's egress: each direction carries at most RATE.
      ip netns exec "$host1" tc qdisc add dev "$link1" root tbf rate "$rate" burst 1mb latency 50ms
      ip netns exec "$host2" tc qdisc add dev "$link2" root tbf rate "$rate" burst 1mb latency 50ms
    fi
    # Open MPI's ssh: "AGENT [ssh options] HOST COMMAND..." runs COMMAND in HOST's namespaces,
    # under HOST's own hostname (with one shared hostname Open MPI would see one node).
    cat >"$agent" <<EOF
#!/bin/sh
while [ "\${1#-}" != "\$1" ]; do shift; done
host=\$1; shift
case "\$host" in
  10.200.0.1) ns=$host1; name=aiok-host1 ;;
  10.200.0.2) ns=$host2; name=aiok-host2 ;;
  *) echo "aiok netns agent: unknown host \$host" >&2; exit 255 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name && \$*"
EOF
    chmod +x "$agent"
    trap - ERR
    ;;
  run)
    exec ip netns exec "$host1" unshare --uts /bin/sh -c 'hostname aiok-host1 && exec "$@"' sh "$@"
    ;;
  mpirun-args)
    printf '%s\n' --allow-run-as-root --host 10.200.0.1:1,10.200.0.2:1 --bind-to none \
      --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1 --mca btl self,tcp \
      --mca btl_tcp_if_include 10.200.0.0/24 --mca oob_tcp_if_include 10.200.0.0/24
    ;;
  bytes)
    ip netns exec "$host1" cat "/sys/class/net/$link1/statistics/tx_bytes" \
      "/sys/class/net/$link1/statistics/rx_bytes" | awk '{ n += $1 } END { print n }'
    ;;
  down)
    remove_hosts
    ;;
  *)
    echo "netns_hosts.sh: unknown action '$action' (up, run, mpirun-args, bytes, down)" >&2
    exit 2
    ;;
esac

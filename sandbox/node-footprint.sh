#!/usr/bin/env bash
# What the sandbox node leaves on the machine, as text, so that a snapshot taken before
# `sandbox.sh up` can be compared with one taken after `sandbox.sh down`:
#   node-footprint.sh                 print the snapshot
#   node-footprint.sh compare FILE    exit 1 (with a diff) when the machine differs from FILE
# It covers what a kubelet, containerd and the CNI plugins change: processes, mounts, network
# namespaces, links, iptables chains and rules, sysctls, cgroups and the global directories.
# Things other sandboxes on the same machine change at any time (their dockerd's veths, DOCKER
# chains, container mounts outside our directories) are left out so the comparison is stable.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"
KUBE_DIR=$SANDBOX_DIR/kube
# shellcheck source=sandbox/node.sh
. "$HERE/node.sh"

snapshot() {
  local p m ipt t
  echo "## processes (kubelet, kube-scheduler, kube-proxy, containerd and shims of this sandbox)"
  for p in $(pgrep -x kubelet; pgrep -x kube-scheduler; pgrep -x kube-proxy; pgrep -f containerd-shim-runc-v2; pgrep -x containerd) ; do
    if [ "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" = containerd ] &&
       ! tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "$NODE_DIR"; then
      continue  # another daemon's containerd (dockerd starts its own)
    fi
    if [ "$(basename "$(readlink "/proc/$p/exe" 2>/dev/null)")" = containerd-shim-runc-v2 ] &&
       ! tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qx -- "$CONTAINERD_SOCK"; then
      continue
    fi
    echo "process $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
  done | sort
  echo "## mounts under the node's directories"
  awk '{print $2, $3}' /proc/mounts |
    grep -E "^($NODE_DIR|/var/lib/kubelet|/run/containerd|/run/netns|/var/run/netns|/tmp/prsbx-node-)" | sort || true
  echo "## named network namespaces"
  ip netns list 2>/dev/null | sort || true
  echo "## links: all but veths attached to a bridge other than the pod bridge"
  ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | while read -r l; do
    case $l in
      veth*) m=$(basename "$(readlink "/sys/class/net/$l/master" 2>/dev/null)")
             [ -n "$m" ] && [ "$m" != "$CNI_BRIDGE" ] && continue ;;
    esac
    echo "link $l"
  done
  echo "## iptables: chains (DOCKER* aside) and rules of the kubelet and CNI"
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      "$ipt" -t "$t" -S 2>/dev/null | grep -v -- '-N DOCKER' |
        grep -E -- "^-N |KUBE-|CNI-|$CNI_BRIDGE|${POD_CIDR%/*}" | sed "s/^/$ipt -t $t /" || true
    done
  done
  # The node must work whatever these are (node.sh node_forward_up) and must leave them as found.
  echo "## FORWARD policy and bridge netfilter"
  echo "FORWARD policy $(forward_policy)"
  echo "net.bridge.bridge-nf-call-iptables = $(bridge_nf_call_iptables)"
  echo "## nftables tables of kube-proxy (nftables mode; --cleanup removes them)"
  if command -v nft >/dev/null; then nft list tables 2>/dev/null | grep -E ' kube-proxy$' || true; fi
  echo "## sysctls"
  for p in "${NODE_SYSCTLS[@]}"; do echo "$p = $(sysctl -n "$p" 2>/dev/null)"; done
  echo "## global directories"
  for p in "${NODE_GLOBAL_PATHS[@]}" "${NODE_DEFAULT_PATHS[@]}"; do [ -e "$p" ] && echo "exists $p"; done
  echo "## cgroups (the node's cgroupRoot and kubepods at a hierarchy root)"
  for m in $(node_cgroup_mounts); do
    for p in "$m/$NODE_CGROUP" "$m"/kubepods*; do [ -e "$p" ] && echo "cgroup $p"; done
  done
  return 0
}

case "${1:-}" in
  "") snapshot ;;
  compare)
    [ -f "${2:-}" ] || die "usage: node-footprint.sh compare SNAPSHOT_FILE"
    now=$(mktemp); trap 'rm -f "$now"' EXIT
    # Other sandboxes' dockerd create veths that have no bridge for a moment: a difference must
    # last a few seconds to count.
    for attempt in 1 2 3 4 5; do
      snapshot > "$now"
      diff -q "$2" "$now" >/dev/null && break
      [ "$attempt" = 5 ] || sleep 1
    done
    if ! diff -u "$2" "$now"; then
      echo "node-footprint: the machine differs from the snapshot taken before the sandbox started" >&2
      exit 1
    fi
    echo "node-footprint: nothing of the node left behind" >&2 ;;
  *) die "usage: node-footprint.sh [compare SNAPSHOT_FILE]" ;;
esac

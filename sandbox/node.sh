# The sandbox node: containerd + kube-scheduler + kubelet + kube-proxy registered with the sandbox API server
# (sourced by sandbox.sh after its helpers; README "Node"). Entry points: node_up, node_down,
# node_status, node_env; kube_up uses node_apiserver_pki and NODE_APISERVER_ARGS.
#   sandbox.sh node up|down|status   the node alone (the control plane must be up)
#
# The kubelet changes machine-global things (sysctls, iptables chains, /var/lib/kubelet,
# /var/log/containers, /var/lib/cni, cgroups): node_up records their state before it starts
# anything, and node_down restores exactly that. Only one kubelet can run on a machine.
# shellcheck shell=bash

NODE_DIR=$SANDBOX_DIR/node
NODE_NAME=$(hostname)  # the apiserver reaches the kubelet by this name (kubectl logs/exec)
KUBELET_PORT=${SANDBOX_KUBELET_PORT:-10250}
KUBELET_HEALTHZ_PORT=${SANDBOX_KUBELET_HEALTHZ_PORT:-10248}
SCHEDULER_PORT=${SANDBOX_SCHEDULER_PORT:-10259}
KUBE_PROXY_HEALTHZ_PORT=${SANDBOX_KUBE_PROXY_HEALTHZ_PORT:-10256}
KUBE_PROXY_METRICS_PORT=${SANDBOX_KUBE_PROXY_METRICS_PORT:-10249}
# The node's InternalIP (kubelet --node-ip), where NodePorts answer: the address of the default
# route's interface unless set. Not loopback: NodePorts on 127.0.0.1 need route_localnet.
node_default_ip() { ip -4 route get 192.0.2.255 2>/dev/null | grep -o 'src [0-9.]*' | cut -d' ' -f2; }
NODE_IP=${SANDBOX_NODE_IP:-$(node_default_ip)}
# Pod network: its own bridge and subnet, apart from the docker bridges (172.31.250-252.0/24).
POD_CIDR=${SANDBOX_POD_CIDR:-172.31.248.0/24}
CNI_BRIDGE=${SANDBOX_CNI_BRIDGE:-prsbxcni0}
# kubelet cgroupRoot: a cgroup of our own in every v1 hierarchy (created by node_up)
NODE_CGROUP=${SANDBOX_NODE_CGROUP:-prsbx-node}
CONTAINERD_DIR=$NODE_DIR/containerd
CONTAINERD_SOCK=$CONTAINERD_DIR/containerd.sock
CONTAINERD_CERTS_D=$CONTAINERD_DIR/certs.d
# shim sockets: containerd refuses a socket_dir longer than 42 characters
SHIM_SOCKET_DIR=$NODE_DIR/s
if [ ${#SHIM_SOCKET_DIR} -gt 42 ] || [ ${#CONTAINERD_SOCK} -gt 100 ]; then
  SHIM_SOCKET_DIR=/tmp/prsbx-node-$(echo -n "$SANDBOX_DIR" | sha1sum | cut -c1-10)/s
  CONTAINERD_SOCK=${SHIM_SOCKET_DIR%/s}/containerd.sock
fi
KUBELET_DIR=$NODE_DIR/kubelet
CNI_DIR=$NODE_DIR/cni
# Recorded before the node starts, restored by node_down.
NODE_BEFORE=$NODE_DIR/machine-before
# What the kubelet and the CNI plugins change on the machine.
# kube-proxy's conntrack and route_localnet settings are switched off in its configuration; they
# are listed so that node-footprint.sh would see a change anyway.
NODE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward
  net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
  net.netfilter.nf_conntrack_tcp_timeout_close_wait net.ipv4.conf.all.route_localnet)
# Created by the kubelet (device plugins, /var/log/containers links) and libcni (result cache),
# whatever their configuration says; node_down removes those that did not exist before.
NODE_GLOBAL_PATHS=(/var/lib/kubelet /var/log/containers /var/log/pods /var/lib/cni)
# Defaults our configuration moves away from: node-footprint.sh checks they stay untouched.
# shellcheck disable=SC2034  # used by node-footprint.sh
NODE_DEFAULT_PATHS=(/run/containerd /etc/cni /etc/containerd /run/netns /var/lib/containerd)
# node_down removes every KUBE-* and CNI-* chain that was not there before (after
# `kube-proxy --cleanup`, which removes its own).

node_kubectl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
node_ctr() { "$(containerd_bin_dir)/ctr" --address "$CONTAINERD_SOCK" "$@"; }

# ---------------------------------------------------------------- pki (called by kube_up)
# The API server's client certificate for the kubelet (kubectl logs/exec/port-forward).
node_apiserver_pki() {
  local pki=$KUBE_DIR/pki
  [ -f "$pki/apiserver-kubelet-client.crt" ] && return 0
  (
    cd "$pki" || exit 1
    openssl req -newkey rsa:2048 -nodes -keyout apiserver-kubelet-client.key \
      -out apiserver-kubelet-client.csr -subj "/CN=kube-apiserver-kubelet-client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in apiserver-kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -extfile client.ext -out apiserver-kubelet-client.crt 2>/dev/null
    chmod 600 apiserver-kubelet-client.key
  )
}

# Flags kube_up gives kube-apiserver: authorize kubelets as nodes, and authenticate to them.
# shellcheck disable=SC2034,SC2054  # used by sandbox.sh; Node,RBAC is one value
NODE_APISERVER_ARGS=(
  --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction
  --kubelet-client-certificate "$KUBE_DIR/pki/apiserver-kubelet-client.crt"
  --kubelet-client-key "$KUBE_DIR/pki/apiserver-kubelet-client.key"
)

# ---------------------------------------------------------------- machine state
# Records (once per node lifetime) what node_down must restore.
node_record_machine() {
  [ -f "$NODE_BEFORE/.complete" ] && return 0
  rm -rf "$NODE_BEFORE"; mkdir -p "$NODE_BEFORE"
  local s p ipt t
  for s in "${NODE_SYSCTLS[@]}"; do
    # a key of a module that is not loaded (nf_conntrack) has nothing to restore
    sysctl -n "$s" >/dev/null 2>&1 && echo "$s=$(sysctl -n "$s")" >> "$NODE_BEFORE/sysctls"
  done
  for p in "${NODE_GLOBAL_PATHS[@]}"; do
    [ -e "$p" ] && echo "$p" >> "$NODE_BEFORE/paths"
  done
  touch "$NODE_BEFORE/paths"
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      "$ipt" -t "$t" -S 2>/dev/null | awk -v t="$t" '$1 == "-N" {print t, $2}' >> "$NODE_BEFORE/$ipt-chains" || true
    done
    touch "$NODE_BEFORE/$ipt-chains"
  done
  touch "$NODE_BEFORE/.complete"
}

# cgroup v1 mount points (one per hierarchy)
node_cgroup_mounts() { awk '$3 == "cgroup" {print $2}' /proc/mounts; }

# The kubelet's cgroupRoot must exist in every v1 hierarchy; a new cpuset cgroup starts with
# empty cpus/mems, so copy them from the parent or nothing can run in it.
node_cgroup_root() {
  local m
  for m in $(node_cgroup_mounts); do
    mkdir -p "$m/$NODE_CGROUP"
    if [ -f "$m/cpuset.cpus" ]; then
      [ "$(cat "$m/$NODE_CGROUP/cpuset.cpus")" != "" ] || cat "$m/cpuset.cpus" > "$m/$NODE_CGROUP/cpuset.cpus"
      [ "$(cat "$m/$NODE_CGROUP/cpuset.mems")" != "" ] || cat "$m/cpuset.mems" > "$m/$NODE_CGROUP/cpuset.mems"
    fi
  done
}

# The Pod bridge's forwarding. Whether Pod-to-Pod traffic on the bridge (a ClusterIP that
# kube-proxy sends to a Pod on the same node, for one) meets iptables' FORWARD chain depends on
# the machine: with br_netfilter loaded (net.bridge.bridge-nf-call-iptables = 1) it does, and
# with the policy DROP (what dockerd sets when it turns on ip_forward itself) and no rule for
# the bridge it is dropped: the connection hangs. Two rules of our own accept what enters or
# leaves the bridge, whatever the machine's policy and modules; node_down removes them (by
# their comment), and node-footprint.sh would see one left behind.
NODE_FORWARD_COMMENT=prsbx-node-forward
node_forward_rules() {
  echo "-i $CNI_BRIDGE -m comment --comment $NODE_FORWARD_COMMENT -j ACCEPT"
  echo "-o $CNI_BRIDGE -m comment --comment $NODE_FORWARD_COMMENT -j ACCEPT"
}
node_forward_up() {
  local r
  while read -r r; do
    # shellcheck disable=SC2086  # a rule is several words
    iptables -C FORWARD $r 2>/dev/null || iptables -I FORWARD 1 $r
  done < <(node_forward_rules)
  log "FORWARD accepts the Pod bridge $CNI_BRIDGE (policy $(forward_policy), bridge-nf-call-iptables $(bridge_nf_call_iptables))"
}
node_forward_down() {
  command -v iptables >/dev/null || return 0
  local r
  iptables -S FORWARD 2>/dev/null | grep -- "--comment $NODE_FORWARD_COMMENT" | sed 's/^-A FORWARD //' |
    while read -r r; do
      # shellcheck disable=SC2086
      iptables -D FORWARD $r && log "removed FORWARD rule: $r"
    done || true
}

# ---------------------------------------------------------------- configuration files
node_write_cni() {
  mkdir -p "$CNI_DIR/bin" "$CNI_DIR/net.d" "$CNI_DIR/ipam"
  local p
  # Debian's plugins (containernetworking-plugins), linked into a bin dir of our own
  for p in bridge host-local loopback; do
    [ -x "/usr/lib/cni/$p" ] || die "/usr/lib/cni/$p missing: run sandbox/install-deps.sh"
    ln -sfn "/usr/lib/cni/$p" "$CNI_DIR/bin/$p"
  done
  # No ipMasq: pods only talk to this host (the registry on the docker bridge), so the plugin
  # adds no iptables rules; host-local keeps its leases in our dir, not /var/lib/cni/networks.
  cat > "$CNI_DIR/net.d/10-prsbx.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "prsbx-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$CNI_DIR/ipam"
      }
    }
  ]
}
JSON
}

node_write_containerd_config() {
  local bin=$1
  mkdir -p "$CONTAINERD_DIR" "$CONTAINERD_CERTS_D" "$SHIM_SOCKET_DIR"
  cat > "$CONTAINERD_DIR/config.toml" <<TOML
# containerd $CONTAINERD_VERSION for the sandbox node: every path under $NODE_DIR.
version = 4
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
# NRI off; the opt plugin would create /opt/containerd.
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt"]

# version 4: the sockets are server plugins (the default ones are under /run/containerd)
[plugins.'io.containerd.server.v1.grpc']
  address = "$CONTAINERD_SOCK"
[plugins.'io.containerd.server.v1.ttrpc']
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins.'io.containerd.server.v1.debug']
  address = ""

[plugins.'io.containerd.shim.v1.manager']
  # default /run/containerd/s
  socket_dir = "$SHIM_SOCKET_DIR"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    # built locally (sandbox/go/pause) and imported by node_up: nothing is pulled from outside
    sandbox = "docker.io/$PAUSE_IMAGE"
  [plugins.'io.containerd.cri.v1.images'.registry]
    # <certs.d>/<host:port>/hosts.toml + ca.crt, the layout of the containerdHostsToml output
    config_path = "$CONTAINERD_CERTS_D"

[plugins.'io.containerd.cri.v1.runtime']
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower a sandbox's oom_score_adj, and every
  # pod sandbox fails ("can't get final child's PID from pipe: EOF") unless it is clamped.
  restrict_oom_score_adj = true
  # network namespaces under the state dir, not /run/netns
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_DIR/bin"]
    conf_dir = "$CNI_DIR/net.d"
    max_conf_num = 1
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      # containerd 2's own shim (Debian's containerd 1.6 installs an older one on PATH)
      runtime_path = "$bin/containerd-shim-runc-v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        Root = "$CONTAINERD_DIR/runc"
        SystemdCgroup = false

[plugins.'io.containerd.grpc.v1.cri']
  # exec/attach/port-forward streams: loopback only, a free port
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
TOML
}

# A client certificate from the sandbox CA with subject $2 in folder $1 (client.crt, client.key;
# made again when the subject changes) and $1/kubeconfig for the sandbox API server as user $3.
node_client_kubeconfig() {
  local dir=$1 subject=$2 user=$3
  mkdir -p "$dir"
  if [ ! -f "$dir/client.crt" ] || [ "$(cat "$dir/subject" 2>/dev/null)" != "$subject" ]; then
    (
      cd "$dir" || exit 1
      openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "$subject" 2>/dev/null
      printf 'extendedKeyUsage=clientAuth\n' > client.ext
      openssl x509 -req -in client.csr -CA "$KUBE_DIR/pki/ca.crt" -CAkey "$KUBE_DIR/pki/ca.key" \
        -CAcreateserial -days 3650 -extfile client.ext -out client.crt 2>/dev/null
      chmod 600 client.key
      echo "$subject" > subject
    )
  fi
  (
    umask 077
    cat > "$dir/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority: $KUBE_DIR/pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $dir/client.crt
    client-key: $dir/client.key
contexts:
- name: sandbox
  context: {cluster: sandbox, user: "$user"}
current-context: sandbox
KCFG
  )
}

node_write_kubelet_files() {
  local pki=$KUBELET_DIR/pki
  mkdir -p "$pki" "$KUBELET_DIR/root" "$KUBELET_DIR/pod-logs"
  node_client_kubeconfig "$pki" "/O=system:nodes/CN=system:node:$NODE_NAME" "system:node:$NODE_NAME"
  cat > "$KUBELET_DIR/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# These VMs run cgroup v1 (hybrid: v1 controllers, an empty unified mount). kubelet 1.35+
# refuses to start on cgroup v1 unless failCgroupV1 is false (v1 support is deprecated).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
imageServiceEndpoint: unix://$CONTAINERD_SOCK
# Serving on loopback only; the node name resolves to 127.0.0.1 on these VMs.
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
podLogsDir: $KUBELET_DIR/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $KUBE_DIR/pki/ca.crt}
authorization:
  mode: Webhook
# KUBE-IPTABLES-HINT / KUBE-FIREWALL exist for kube-proxy and other components; there are none
# here, so the kubelet leaves iptables alone (node_down still removes them if present).
makeIPTablesUtilChains: false
failSwapOn: false
# a busy shared disk must not evict the test pods or taint the node
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
YAML
}

# ---------------------------------------------------------------- lifecycle
node_containerd_up() {
  local bin=$1
  if pid_alive "$CONTAINERD_DIR/containerd.pid" && node_ctr version >/dev/null 2>&1; then
    log "containerd already running (pid $(cat "$CONTAINERD_DIR/containerd.pid"))"
    return 0
  fi
  node_write_containerd_config "$bin"
  rm -f "$CONTAINERD_SOCK" "$CONTAINERD_SOCK.ttrpc"
  : > "$CONTAINERD_DIR/containerd.log"
  # containerd 2's shim and ctr first on PATH (Debian's containerd 1.6 ships an older shim)
  PATH=$bin:$PATH spawn "$CONTAINERD_DIR/containerd.pid" "$CONTAINERD_DIR/containerd.log" \
    "$bin/containerd" --config "$CONTAINERD_DIR/config.toml"
  local rc=0
  wait_for 30 "$CONTAINERD_DIR/containerd.pid" node_ctr version || rc=$?
  [ $rc -eq 0 ] || fail_with_log "containerd did not come up (rc=$rc)" "$CONTAINERD_DIR/containerd.log"
  log "containerd up (pid $(cat "$CONTAINERD_DIR/containerd.pid")), unix://$CONTAINERD_SOCK"
}

node_pause_image() {
  local tar=$1 want
  want=$(tar -xOf "$tar" ./index.json | grep -o '"digest":"sha256:[0-9a-f]*"' | head -1 | cut -d'"' -f4)
  if node_ctr -n k8s.io images ls -q "name==docker.io/$PAUSE_IMAGE" 2>/dev/null | grep -q . &&
     [ "$(node_ctr -n k8s.io images ls "name==docker.io/$PAUSE_IMAGE" | awk 'NR==2 {print $3}')" = "$want" ]; then
    return 0
  fi
  node_ctr -n k8s.io images import "$tar" >/dev/null
  log "imported pause image docker.io/$PAUSE_IMAGE ($want)"
}

# An OCI layout tar $1 named docker.io/$2 (build-node.sh), imported into containerd's k8s.io
# namespace unless that name already points at the same manifest. Used for the node's test image
# (Pods that must run before the node trusts any registry, e.g. the node-trust DaemonSet) and its
# registry image (the registry Deployment), both with imagePullPolicy IfNotPresent.
node_import_image() {
  local tar=$1 name=$2 want
  want=$(tar -xOf "$tar" ./index.json | grep -o '"digest":"sha256:[0-9a-f]*"' | head -1 | cut -d'"' -f4)
  if [ "$(node_ctr -n k8s.io images ls "name==docker.io/$name" | awk 'NR==2 {print $3}')" = "$want" ]; then
    return 0
  fi
  node_ctr -n k8s.io images import "$tar" >/dev/null
  log "imported docker.io/$name ($want) into the node's containerd"
}

node_scheduler_up() {
  local bin=$1
  if pid_alive "$NODE_DIR/kube-scheduler.pid"; then
    log "kube-scheduler already running (pid $(cat "$NODE_DIR/kube-scheduler.pid"))"
    return 0
  fi
  port_free "$SCHEDULER_PORT" || die "port $SCHEDULER_PORT is taken: set SANDBOX_SCHEDULER_PORT"
  : > "$NODE_DIR/kube-scheduler.log"
  spawn "$NODE_DIR/kube-scheduler.pid" "$NODE_DIR/kube-scheduler.log" "$bin/kube-scheduler" \
    --kubeconfig "$KUBECONFIG_PATH" \
    --authentication-kubeconfig "$KUBECONFIG_PATH" --authorization-kubeconfig "$KUBECONFIG_PATH" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port "$SCHEDULER_PORT" \
    --cert-dir "$NODE_DIR/scheduler-certs"
  local rc=0
  wait_for 60 "$NODE_DIR/kube-scheduler.pid" \
    curl -fsSk --max-time 2 "https://127.0.0.1:$SCHEDULER_PORT/healthz" || rc=$?
  [ $rc -eq 0 ] || fail_with_log "kube-scheduler did not become healthy (rc=$rc)" "$NODE_DIR/kube-scheduler.log"
  log "kube-scheduler up (pid $(cat "$NODE_DIR/kube-scheduler.pid"))"
}

node_ready() {
  [ "$(node_kubectl get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

node_kubelet_up() {
  local bin=$1
  if pid_alive "$NODE_DIR/kubelet.pid"; then
    log "kubelet already running (pid $(cat "$NODE_DIR/kubelet.pid"))"
  else
    port_free "$KUBELET_PORT" || die "port $KUBELET_PORT is taken: set SANDBOX_KUBELET_PORT"
    port_free "$KUBELET_HEALTHZ_PORT" || die "port $KUBELET_HEALTHZ_PORT is taken: set SANDBOX_KUBELET_HEALTHZ_PORT"
    node_write_kubelet_files
    # the API server (user kube-apiserver-kubelet-client) may use the kubelet API: logs, exec
    node_kubectl create clusterrolebinding sandbox-apiserver-kubelet-client \
      --clusterrole system:kubelet-api-admin --user kube-apiserver-kubelet-client \
      --dry-run=client -o yaml | node_kubectl apply -f - >/dev/null
    : > "$NODE_DIR/kubelet.log"
    spawn "$NODE_DIR/kubelet.pid" "$NODE_DIR/kubelet.log" "$bin/kubelet" \
      --config "$KUBELET_DIR/config.yaml" --kubeconfig "$KUBELET_DIR/pki/kubeconfig" \
      --root-dir "$KUBELET_DIR/root" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1
  fi
  local rc=0
  wait_for 120 "$NODE_DIR/kubelet.pid" node_ready || rc=$?
  [ $rc -eq 0 ] || fail_with_log "node $NODE_NAME did not become Ready (rc=$rc)" "$NODE_DIR/kubelet.log"
  log "kubelet up (pid $(cat "$NODE_DIR/kubelet.pid")), node $NODE_NAME Ready"
}

# kube-proxy's client certificate: CN system:kube-proxy is the user the default ClusterRoleBinding
# system:node-proxier grants what kube-proxy needs (watch Services, EndpointSlices, Nodes; events).
node_write_kube_proxy_files() {
  local dir=$NODE_DIR/kube-proxy
  node_client_kubeconfig "$dir" "/CN=system:kube-proxy" system:kube-proxy
  cat > "$dir/config.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $dir/kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
# Traffic from outside the pod network to a ClusterIP is masqueraded (detectLocalMode ClusterCIDR).
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
# NodePorts answer on the node's InternalIP only, not on every address of this shared machine;
# no loopback NodePorts, so kube-proxy leaves net.ipv4.conf.all.route_localnet alone.
nodePortAddresses: ["$NODE_IP/32"]
iptables:
  localhostNodePorts: false
  masqueradeAll: false
  syncPeriod: 30s
  minSyncPeriod: 1s
# root here lacks CAP_SYS_RESOURCE: kube-proxy could not lower its own OOM score (-999)
oomScoreAdj: 0
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
# 0 leaves the machine's conntrack sysctls as they are (kube-proxy would raise nf_conntrack_max
# and shorten the TCP timeouts machine-wide).
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
YAML
}

node_kube_proxy_healthy() {
  curl -fsS --max-time 2 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz" >/dev/null 2>&1
}

# After the kubelet: kube-proxy reads the node's InternalIP from the Node object.
node_kube_proxy_up() {
  local bin=$1
  if pid_alive "$NODE_DIR/kube-proxy.pid"; then
    log "kube-proxy already running (pid $(cat "$NODE_DIR/kube-proxy.pid"))"
    return 0
  fi
  command -v iptables-restore >/dev/null || die "iptables missing: run sandbox/install-deps.sh"
  port_free "$KUBE_PROXY_HEALTHZ_PORT" || die "port $KUBE_PROXY_HEALTHZ_PORT is taken: set SANDBOX_KUBE_PROXY_HEALTHZ_PORT"
  port_free "$KUBE_PROXY_METRICS_PORT" || die "port $KUBE_PROXY_METRICS_PORT is taken: set SANDBOX_KUBE_PROXY_METRICS_PORT"
  node_write_kube_proxy_files
  : > "$NODE_DIR/kube-proxy.log"
  spawn "$NODE_DIR/kube-proxy.pid" "$NODE_DIR/kube-proxy.log" "$bin/kube-proxy" \
    --config "$NODE_DIR/kube-proxy/config.yaml" --v 1
  local rc=0
  wait_for 60 "$NODE_DIR/kube-proxy.pid" node_kube_proxy_healthy || rc=$?
  [ $rc -eq 0 ] || fail_with_log "kube-proxy did not become healthy (rc=$rc)" "$NODE_DIR/kube-proxy.log"
  log "kube-proxy up (pid $(cat "$NODE_DIR/kube-proxy.pid")), iptables mode, NodePorts on $NODE_IP"
}

# Stops kube-proxy, then removes every chain and rule it made (iptables, and nftables/ipvs if a
# mode was ever switched): `kube-proxy --cleanup` exits once done.
node_kube_proxy_down() {
  stop_pid "$NODE_DIR/kube-proxy.pid" 15 kube-proxy
  [ -f "$NODE_DIR/kube-proxy/config.yaml" ] || return 0
  local bin; bin=$(kube_node_bin_dir)
  [ -x "$bin/kube-proxy" ] || return 0
  "$bin/kube-proxy" --config "$NODE_DIR/kube-proxy/config.yaml" --cleanup >>"$NODE_DIR/kube-proxy.log" 2>&1 ||
    log "WARNING: kube-proxy --cleanup failed (see $NODE_DIR/kube-proxy.log); removing KUBE-* chains by hand"
}

node_up() {
  local start; start=$(date +%s%N)
  [ "$(id -u)" -eq 0 ] || die "the node needs root"
  local ctrd kube pause testimg regimg
  ctrd=$("$HERE/build-node.sh" containerd) || die "building containerd failed"
  kube=$("$HERE/build-node.sh" kube) || die "building kubelet/kube-scheduler failed"
  pause=$("$HERE/build-node.sh" pause) || die "building the pause image failed"
  testimg=$("$HERE/build-node.sh" test-image) || die "building the node's test image failed"
  regimg=$("$HERE/build-node.sh" registry-image) || die "building the node's registry image failed"
  [ -n "$NODE_IP" ] || die "no IPv4 default route to take the node IP from: set SANDBOX_NODE_IP"
  if ! tr '\0' ' ' < "/proc/$(cat "$KUBE_DIR/kube-apiserver.pid")/cmdline" | grep -q -- --kubelet-client-certificate; then
    die "kube-apiserver runs without the node flags (started by an older sandbox.sh): run sandbox.sh down, then up"
  fi
  if ! pid_alive "$NODE_DIR/kubelet.pid" && pgrep -x kubelet >/dev/null; then
    die "another kubelet runs on this machine (pid $(pgrep -x kubelet | head -1)): only one node per machine"
  fi
  mkdir -p "$NODE_DIR"
  touch "$NODE_DIR/enabled"
  node_record_machine
  node_cgroup_root
  node_write_cni
  node_forward_up
  node_containerd_up "$ctrd"
  node_pause_image "$pause"
  node_import_image "$testimg" "$NODE_TEST_IMAGE"
  node_import_image "$regimg" "$NODE_REGISTRY_IMAGE"
  node_scheduler_up "$kube"
  node_kubelet_up "$kube"
  node_kube_proxy_up "$kube"
  log "node up in $(elapsed "$start")s"
}

# Deletes the Pods on the node while the kubelet runs, so it stops their containers and tears
# down their network (CNI DEL). A NoExecute taint keeps DaemonSets from replacing them.
node_drain() {
  pid_alive "$NODE_DIR/kubelet.pid" || return 0
  apiserver_ready || return 0
  node_kubectl get node "$NODE_NAME" >/dev/null 2>&1 || return 0
  node_kubectl taint node "$NODE_NAME" sandbox.private-registry/down=true:NoExecute --overwrite >/dev/null 2>&1 || true
  node_kubectl delete pods --all-namespaces --field-selector "spec.nodeName=$NODE_NAME" \
    --grace-period 1 --wait=true --timeout 90s >/dev/null 2>&1 ||
    log "WARNING: pods on $NODE_NAME not all deleted: cleaning up with ctr"
}

# Leftover tasks (kubelet or API server gone): kill them through containerd.
node_kill_tasks() {
  pid_alive "$CONTAINERD_DIR/containerd.pid" || return 0
  local id
  for id in $(node_ctr -n k8s.io tasks ls -q 2>/dev/null); do
    node_ctr -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    node_ctr -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
  done
}

# Shims outlive containerd: stop the ones our containerd started (their -address is our socket).
node_kill_shims() {
  local p
  for p in $(pgrep -f containerd-shim-runc-v2 || true); do
    if tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qx -- "$CONTAINERD_SOCK"; then
      kill -KILL "$p" 2>/dev/null && log "killed leftover shim pid $p"
    fi
  done
}

node_unmount_under() {
  local m
  # shellcheck disable=SC2013  # our mount points have no spaces
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^($1)(/|$)" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "WARNING: could not unmount $m"
  done
}

node_restore_iptables() {
  local ipt t chain r
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for t in filter nat mangle; do
      for chain in $("$ipt" -t "$t" -S 2>/dev/null | awk '$1 == "-N" {print $2}'); do
        [[ $chain == KUBE-* || $chain == CNI-* ]] || continue
        grep -qx "$t $chain" "$NODE_BEFORE/$ipt-chains" 2>/dev/null && continue
        # rules that jump to it, then the chain itself
        "$ipt" -t "$t" -S | grep -E -- "-j $chain( |$)" | grep -v "^-A $chain " | sed 's/^-A /-D /' |
          while read -r r; do eval "$ipt -t $t $r" || true; done
        "$ipt" -t "$t" -F "$chain" && "$ipt" -t "$t" -X "$chain" && log "removed $ipt -t $t $chain"
      done
    done
  done
}

node_restore_machine() {
  [ -f "$NODE_BEFORE/.complete" ] || return 0
  local line name value now p m
  while IFS='=' read -r name value; do
    now=$(sysctl -n "$name")
    if [ "$now" != "$value" ]; then
      sysctl -qw "$name=$value" && log "restored $name=$value (was $now)"
    fi
  done < "$NODE_BEFORE/sysctls"
  node_restore_iptables
  node_forward_down
  for p in "${NODE_GLOBAL_PATHS[@]}"; do
    if [ -e "$p" ] && ! grep -qx "$p" "$NODE_BEFORE/paths"; then
      node_unmount_under "$p"
      rm -rf "$p" && log "removed $p"
    fi
  done
  for m in $(node_cgroup_mounts); do
    [ -d "$m/$NODE_CGROUP" ] || continue
    find "$m/$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null ||
      log "WARNING: cgroup $m/$NODE_CGROUP not removed (processes left in it?)"
  done
  for line in $(ip -o link show master "$CNI_BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link del "$line" 2>/dev/null || true
  done
  ip link del "$CNI_BRIDGE" 2>/dev/null && log "removed bridge $CNI_BRIDGE"
  rm -rf "$NODE_BEFORE"
}

node_down() {
  [ -d "$NODE_DIR" ] || return 0
  local start; start=$(date +%s%N)
  node_drain
  node_kube_proxy_down
  stop_pid "$NODE_DIR/kubelet.pid" 20 kubelet
  if apiserver_ready 2>/dev/null; then
    node_kubectl delete node "$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
  fi
  stop_pid "$NODE_DIR/kube-scheduler.pid" 15 kube-scheduler
  node_kill_tasks
  stop_pid "$CONTAINERD_DIR/containerd.pid" 20 containerd
  node_kill_shims
  node_unmount_under "$NODE_DIR"
  node_restore_machine
  rm -f "$CONTAINERD_SOCK" "$CONTAINERD_SOCK.ttrpc"
  [ "$SHIM_SOCKET_DIR" = "$NODE_DIR/s" ] || rm -rf "${SHIM_SOCKET_DIR%/s}"
  rm -f "$NODE_DIR/enabled"
  log "node down in $(elapsed "$start")s"
}

node_status() {
  local ok=0 f
  for f in containerd/containerd kube-scheduler kubelet kube-proxy; do
    if pid_alive "$NODE_DIR/$f.pid"; then
      printf '%-16s up (pid %s)\n' "${f#*/}:" "$(cat "$NODE_DIR/$f.pid")"
    else
      printf '%-16s down\n' "${f#*/}:"; ok=1
    fi
  done
  if [ $ok -eq 0 ] && node_ready; then echo "node:           $NODE_NAME Ready, InternalIP $NODE_IP"
  else echo "node:           $NODE_NAME not Ready"; ok=1; fi
  if pid_alive "$NODE_DIR/kube-proxy.pid" && ! node_kube_proxy_healthy; then
    echo "kube-proxy:     not healthy (http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/healthz)"; ok=1
  fi
  return $ok
}

node_env() {
  [ -f "$NODE_DIR/enabled" ] || return 0
  echo "export SANDBOX_NODE_NAME=$NODE_NAME"
  # a node provisioning step installs <host:port>/hosts.toml and ca.crt here
  echo "export SANDBOX_CONTAINERD_CERTS_D=$CONTAINERD_CERTS_D"
  echo "export SANDBOX_CONTAINERD_ADDRESS=$CONTAINERD_SOCK"
  echo "export SANDBOX_CTR=$(containerd_bin_dir)/ctr"
  echo "export SANDBOX_PAUSE_IMAGE=$PAUSE_IMAGE"
  # in the node's containerd without any pull (imagePullPolicy IfNotPresent)
  echo "export SANDBOX_NODE_TEST_IMAGE=$NODE_TEST_IMAGE"
  # the registry image under the name the program uses (docker.io/library/ implied)
  echo "export SANDBOX_NODE_REGISTRY_IMAGE=${NODE_REGISTRY_IMAGE#library/}"
  # the node's InternalIP: NodePorts answer at $NODE_IP:<nodePort> (kube-proxy, iptables mode)
  echo "export SANDBOX_NODE_IP=$NODE_IP"
}

#!/usr/bin/env bash
# Local sandbox for the end-to-end tests: a Docker daemon, an S3-compatible object store
# (versitygw), a KMS API (moto's server, for awskms:// secrets providers), a Kubernetes API server (etcd + kube-apiserver + kube-controller-manager) and one
# node (containerd + kube-scheduler + kubelet + kube-proxy, sandbox/node.sh), state in <repo>/.sandbox.
#   sandbox.sh up [--no-kube] [--no-node] [--no-s3] [--no-kms]
#                               start (idempotent); builds the images/binaries on first use;
#                               --no-s3 leaves out the team services (S3 store and KMS) both
#   sandbox.sh kms up|down|status  the KMS API alone, the rest staying as it is
#   sandbox.sh down [--purge]   stop what `up` started (by pid); --purge also deletes .sandbox/
#   sandbox.sh status           what runs, exit 0 only when everything is up
#   sandbox.sh parts            the parts running now (docker, s3, kms, kube, node), one a line
#   sandbox.sh stop PART...     stop only those parts (what a caller added to a sandbox it found)
#   sandbox.sh env              `export ...` lines: eval "$(bash sandbox/sandbox.sh env)"
#   sandbox.sh s3-bucket NAME   create bucket NAME in the sandbox's S3 store unless it exists
# Faults for the end-to-end tests (each acts only on what `up` started, by pid):
#   sandbox.sh restart-docker   stop dockerd (containers stop with it) and start it again
#   sandbox.sh stop-apiserver   stop kube-apiserver only (etcd and the controller-manager keep running)
#   sandbox.sh start-apiserver  start whatever of the Kubernetes part is down again
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=sandbox/lib.sh
. "$HERE/lib.sh"

# ---------------------------------------------------------------- layout
DOCKER_DIR=$SANDBOX_DIR/docker
KUBE_DIR=$SANDBOX_DIR/kube
DOCKER_PIDFILE=$DOCKER_DIR/dockerd.pid
DOCKER_LOG=$DOCKER_DIR/dockerd.log
# unix socket paths are limited to 107 bytes; fall back to a short path under /tmp
DOCKER_SOCK=$DOCKER_DIR/docker.sock
if [ ${#DOCKER_SOCK} -gt 100 ]; then
  DOCKER_SOCK=/tmp/prsbx-$(echo -n "$SANDBOX_DIR" | sha1sum | cut -c1-10)/docker.sock
fi
# dockerd puts containerd's socket under its exec root: keep it short as well
DOCKER_EXEC=$DOCKER_DIR/run
if [ ${#DOCKER_EXEC} -gt 60 ]; then
  DOCKER_EXEC=/tmp/prsbx-$(echo -n "$SANDBOX_DIR" | sha1sum | cut -c1-10)/run
fi
export DOCKER_HOST=unix://$DOCKER_SOCK

BRIDGE=${SANDBOX_BRIDGE:-prsbx0}
BRIDGE_CIDR=${SANDBOX_BRIDGE_CIDR:-172.31.250.1/24}
BRIDGE_IP=${BRIDGE_CIDR%/*}

ETCD_PORT=${SANDBOX_ETCD_PORT:-12379}
ETCD_PEER_PORT=${SANDBOX_ETCD_PEER_PORT:-12380}
APISERVER_PORT=${SANDBOX_APISERVER_PORT:-16443}
KUBECONFIG_PATH=$KUBE_DIR/kubeconfig

# S3-compatible object store (versitygw, posix backend): on the bridge address, so the host,
# containers of the sandbox dockerd and the node's Pods reach it; never on every address.
S3_DIR=$SANDBOX_DIR/s3
S3_PORT=${SANDBOX_S3_PORT:-19000}
S3_REGION=${SANDBOX_S3_REGION:-us-east-1}
S3_ENDPOINT=http://$BRIDGE_IP:$S3_PORT

# KMS API (moto's server from the project's venv): on the bridge address as well.
KMS_DIR=$SANDBOX_DIR/kms
KMS_PORT=${SANDBOX_KMS_PORT:-19001}
KMS_ENDPOINT=http://$BRIDGE_IP:$KMS_PORT

# ---------------------------------------------------------------- helpers
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

fail_with_log() {
  echo "sandbox: ERROR: $1" >&2
  if [ -f "$2" ]; then
    echo "----- last lines of $2 -----" >&2
    tail -n 30 "$2" >&2
    echo "-----" >&2
  fi
  exit 1
}

# Starts a command detached (own session), logging to $2, pid to $1. Daemons get umask 022
# whatever the caller's: containerd creates the snapshot directories that become a container's
# root with it, and at 077 a Pod running as non-root cannot exec anything (`stat /bin/...:
# permission denied`). The subshell execs setsid, which execs the command: $! is its pid.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  (umask 022; exec setsid "$@" >>"$logfile" 2>&1 < /dev/null) &
  echo $! > "$pidfile"
}

# Waits until "$@" succeeds; gives up after $1 seconds or when the process of pid file $2 dies.
wait_for() {
  local timeout=$1 pidfile=$2; shift 2
  local end=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pidfile" || return 2
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.3
  done
}

# Sends SIGTERM to the pid in $1, waits $2 seconds, then SIGKILL.
stop_pid() {
  local pidfile=$1 grace=$2 name=$3
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  local pid t0; pid=$(cat "$pidfile"); t0=$(date +%s%N)
  kill -TERM "$pid" 2>/dev/null || true
  local end=$(( $(date +%s) + grace ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "$name (pid $pid) did not stop in ${grace}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "stopped $name (pid $pid) in $(elapsed "$t0")s"
}

# seconds since $1 (date +%s%N), one decimal
elapsed() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }

# ---------------------------------------------------------------- node (node_up/down/status/env)
# shellcheck source=sandbox/node.sh
. "$HERE/node.sh"

# ---------------------------------------------------------------- docker
other_dockerd_running() {
  local p
  for p in $(pgrep -x dockerd || true); do
    if ! pid_alive "$DOCKER_PIDFILE" || [ "$p" != "$(cat "$DOCKER_PIDFILE")" ]; then return 0; fi
  done
  return 1
}

bridge_mac() {
  printf '%s' "$1" | sha256sum | sed -E 's/^(..)(..)(..)(..)(..).*/02:\1:\2:\3:\4:\5/'
}

ensure_bridge() {
  if ip link show "$BRIDGE" >/dev/null 2>&1; then return 0; fi
  if ip route | grep -q "^${BRIDGE_CIDR%.*}\."; then
    die "subnet of $BRIDGE_CIDR is already routed on this host: set SANDBOX_BRIDGE_CIDR"
  fi
  # A fixed MAC address, as dockerd gives docker0: a bridge without one takes the lowest MAC of its
  # ports and changes it when that container stops, and the other containers' replies to the host
  # then go to the old address until their ARP entry expires (seconds; CI saw a pull to a second
  # registry stall 10 s while the first one was stopped). Locally administered, from the bridge name.
  ip link add "$BRIDGE" address "$(bridge_mac "$BRIDGE")" type bridge
  ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  touch "$DOCKER_DIR/bridge.created"
}

# dockerd turns on net.ipv4.ip_forward and, when it had to, sets iptables' FORWARD policy to
# DROP; neither is undone when it stops. Recorded before our dockerd first starts, restored by
# docker_down, so that the sandbox leaves the machine as it found it (node-footprint.sh checks).
DOCKER_BEFORE=$DOCKER_DIR/machine-before
docker_record_machine() {
  [ -f "$DOCKER_BEFORE" ] && return 0
  {
    echo "ip_forward=$(sysctl -n net.ipv4.ip_forward)"
    echo "forward_policy=$(forward_policy)"
  } > "$DOCKER_BEFORE"
}
docker_restore_machine() {
  [ -f "$DOCKER_BEFORE" ] || return 0
  local was now
  was=$(sed -n 's/^ip_forward=//p' "$DOCKER_BEFORE") now=$(sysctl -n net.ipv4.ip_forward)
  if [ -n "$was" ] && [ "$was" != "$now" ]; then
    sysctl -qw "net.ipv4.ip_forward=$was" && log "restored net.ipv4.ip_forward=$was (was $now)"
  fi
  was=$(sed -n 's/^forward_policy=//p' "$DOCKER_BEFORE")
  now=$(forward_policy)
  if [ -n "$was" ] && [ "$was" != "$now" ]; then
    iptables -P FORWARD "$was" && log "restored the iptables FORWARD policy $was (was $now)"
  fi
  rm -f "$DOCKER_BEFORE"
}

docker_up() {
  mkdir -p "$DOCKER_DIR" "$(dirname "$DOCKER_SOCK")" "$DOCKER_EXEC"
  if pid_alive "$DOCKER_PIDFILE" && docker version >/dev/null 2>&1; then
    log "dockerd already running (pid $(cat "$DOCKER_PIDFILE"))"
    return 0
  fi
  command -v dockerd >/dev/null || die "dockerd not found: run sandbox/install-deps.sh"
  [ "$(id -u)" -eq 0 ] || die "dockerd needs root"
  ensure_bridge
  # Another dockerd owns the shared iptables chains: leave them alone then (published
  # ports still work through docker-proxy).
  local iptables=true
  if other_dockerd_running; then iptables=false; log "another dockerd runs: --iptables=false"
  else docker_record_machine; fi
  [ -f "$DOCKER_DIR/daemon.json" ] || echo '{}' > "$DOCKER_DIR/daemon.json"
  local args=(
    --host "$DOCKER_HOST"
    --data-root "$DOCKER_DIR/data"
    --exec-root "$DOCKER_EXEC"
    --pidfile "$DOCKER_DIR/dockerd.self.pid"
    --config-file "$DOCKER_DIR/daemon.json"
    --bridge "$BRIDGE"
    --iptables="$iptables"
    --containerd-namespace prsbx
    --containerd-plugins-namespace prsbx-plugins
    --shutdown-timeout 10
  )
  [ -n "${SANDBOX_STORAGE_DRIVER:-}" ] && args+=(--storage-driver "$SANDBOX_STORAGE_DRIVER")
  rm -f "$DOCKER_SOCK"
  : > "$DOCKER_LOG"
  spawn "$DOCKER_PIDFILE" "$DOCKER_LOG" dockerd "${args[@]}"
  local rc=0
  wait_for 60 "$DOCKER_PIDFILE" docker version || rc=$?
  [ $rc -eq 0 ] || fail_with_log "dockerd did not come up (rc=$rc)" "$DOCKER_LOG"
  log "dockerd up (pid $(cat "$DOCKER_PIDFILE")), $DOCKER_HOST"
}

docker_images() {
  "$HERE/registry-image.sh" || die "building/importing the sandbox images failed"
}

docker_down() {
  stop_pid "$DOCKER_PIDFILE" 40 dockerd
  # leftovers of a daemon that was killed: mounts under our roots
  local m
  # shellcheck disable=SC2013  # mount points under our roots have no spaces
  for m in $(awk '{print $2}' /proc/mounts | grep -E "^($DOCKER_DIR|$DOCKER_EXEC)/" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # dockerd leaves its iptables rules for our bridge behind: remove those (only ours)
  if command -v iptables >/dev/null; then
    local t r net=${BRIDGE_CIDR%.*}.0/${BRIDGE_CIDR#*/}
    for t in filter nat; do
      iptables -t "$t" -S 2>/dev/null | grep -E -- "(-i|-o) $BRIDGE |-s $net " | sed 's/^-A /-D /' |
        while read -r r; do eval "iptables -t $t $r" 2>/dev/null || true; done || true
    done
  fi
  docker_restore_machine
  if [ -f "$DOCKER_DIR/bridge.created" ]; then
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -f "$DOCKER_DIR/bridge.created"
  fi
  rm -f "$DOCKER_SOCK"
}

docker_status() {
  if pid_alive "$DOCKER_PIDFILE" && docker version >/dev/null 2>&1; then
    echo "dockerd:        up (pid $(cat "$DOCKER_PIDFILE")) $DOCKER_HOST"
    return 0
  fi
  echo "dockerd:        down"
  return 1
}

# ---------------------------------------------------------------- s3 (versitygw)
# Credentials of the store's root user: generated once, kept in .sandbox/s3/credentials (0600)
# as `access_key=...` and `secret_key=...` lines; `env` exports them.
s3_credentials() {
  [ -s "$S3_DIR/credentials" ] && return 0
  mkdir -p "$S3_DIR"
  (
    umask 077
    printf 'access_key=sandbox%s\nsecret_key=%s\n' "$(openssl rand -hex 6)" "$(openssl rand -hex 20)" \
      > "$S3_DIR/credentials.part"
    mv "$S3_DIR/credentials.part" "$S3_DIR/credentials"
  )
}
s3_key() { sed -n "s/^$1=//p" "$S3_DIR/credentials"; }

# Any HTTP answer (an unsigned request gets 403 AccessDenied) means the server listens.
s3_answers() {
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$S3_ENDPOINT/") || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

s3_up() {
  if pid_alive "$S3_DIR/versitygw.pid" && s3_answers; then
    log "versitygw already running (pid $(cat "$S3_DIR/versitygw.pid")) $S3_ENDPOINT"
    return 0
  fi
  local bin; bin=$("$HERE/build-s3.sh") || die "building versitygw failed"
  port_free "$S3_PORT" || die "port $S3_PORT is taken: set SANDBOX_S3_PORT"
  s3_credentials
  mkdir -p "$S3_DIR/data"
  : > "$S3_DIR/versitygw.log"
  # the keys go in through the environment, not the command line (ps would show them)
  ROOT_ACCESS_KEY=$(s3_key access_key) ROOT_SECRET_KEY=$(s3_key secret_key) \
    spawn "$S3_DIR/versitygw.pid" "$S3_DIR/versitygw.log" "$bin/versitygw" \
      --port "$BRIDGE_IP:$S3_PORT" --region "$S3_REGION" posix "$S3_DIR/data"
  local rc=0
  wait_for 30 "$S3_DIR/versitygw.pid" s3_answers || rc=$?
  [ $rc -eq 0 ] || fail_with_log "versitygw did not come up (rc=$rc)" "$S3_DIR/versitygw.log"
  log "versitygw up (pid $(cat "$S3_DIR/versitygw.pid")) $S3_ENDPOINT"
}

s3_down() { stop_pid "$S3_DIR/versitygw.pid" 15 versitygw; }

s3_status() {
  if pid_alive "$S3_DIR/versitygw.pid" && s3_answers; then
    echo "s3 (versitygw): up (pid $(cat "$S3_DIR/versitygw.pid")) $S3_ENDPOINT"
    return 0
  fi
  echo "s3 (versitygw): down"
  return 1
}

# A signed S3 request (curl's SigV4; the key pair goes through stdin, not the command line).
# Prints the HTTP status code. S3 wants x-amz-content-sha256, which Debian's curl 7.88 does not
# add by itself (every request is refused with 403 without it).
s3_request() {
  local method=(-X "$1") path=$2
  [ "$1" = HEAD ] && method=(--head)  # -X HEAD would wait for the body Content-Length announces
  printf 'user = "%s:%s"\n' "$(s3_key access_key)" "$(s3_key secret_key)" |
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 -K - "${method[@]}" \
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
      --aws-sigv4 "aws:amz:$S3_REGION:s3" "$S3_ENDPOINT/$path" || true
}

cmd_s3_bucket() {
  local name=${1:-}
  [[ $name =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "usage: sandbox.sh s3-bucket NAME (an S3 bucket name: 3-63 of a-z 0-9 . -)"
  s3_status >/dev/null || die "the S3 store of this sandbox is not running: sandbox.sh up"
  local code
  code=$(s3_request HEAD "$name")
  case $code in
    200) log "bucket $name exists"; return 0 ;;
    404) ;;
    *) die "HEAD bucket $name: HTTP $code" ;;
  esac
  code=$(s3_request PUT "$name")
  case $code in
    200) log "bucket $name created" ;;
    409) log "bucket $name exists" ;;  # made by a concurrent call (BucketAlreadyOwnedByYou)
    *) die "PUT bucket $name: HTTP $code" ;;
  esac
}

# ---------------------------------------------------------------- kms (moto server)
# An AWS KMS API for stacks with an awskms:// secrets provider (tests/e2e/test_team_kms.py points
# the CLI's AWS SDK at it with AWS_ENDPOINT_URL_KMS). moto keeps its keys in memory: a restart loses
# them, and with them every secret they encrypted; a sandbox's throwaway stacks only.
kms_answers() {
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$KMS_ENDPOINT/") || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

kms_up() {
  if pid_alive "$KMS_DIR/moto.pid" && kms_answers; then
    log "moto (KMS) already running (pid $(cat "$KMS_DIR/moto.pid")) $KMS_ENDPOINT"
    return 0
  fi
  ip addr show "$BRIDGE" 2>/dev/null | grep -q "inet $BRIDGE_IP/" || die "the KMS API listens on $BRIDGE_IP: start dockerd first (sandbox.sh up)"
  local moto=$REPO_ROOT/venv/bin/moto_server
  [ -x "$moto" ] || bash "$REPO_ROOT/scripts/setup-python.sh" --dev >&2 || die "installing the project's development packages (moto) failed"
  [ -x "$moto" ] || die "$moto missing: requirements-dev.txt pins moto[server]"
  port_free "$KMS_PORT" || die "port $KMS_PORT is taken: set SANDBOX_KMS_PORT"
  mkdir -p "$KMS_DIR"
  : > "$KMS_DIR/moto.log"
  spawn "$KMS_DIR/moto.pid" "$KMS_DIR/moto.log" "$moto" -H "$BRIDGE_IP" -p "$KMS_PORT"
  local rc=0
  wait_for 60 "$KMS_DIR/moto.pid" kms_answers || rc=$?
  [ $rc -eq 0 ] || fail_with_log "moto (KMS) did not come up (rc=$rc)" "$KMS_DIR/moto.log"
  log "moto (KMS) up (pid $(cat "$KMS_DIR/moto.pid")) $KMS_ENDPOINT"
}

kms_down() { stop_pid "$KMS_DIR/moto.pid" 15 moto; }

kms_status() {
  if pid_alive "$KMS_DIR/moto.pid" && kms_answers; then
    echo "kms (moto):     up (pid $(cat "$KMS_DIR/moto.pid")) $KMS_ENDPOINT"
    return 0
  fi
  echo "kms (moto):     down"
  return 1
}

# ---------------------------------------------------------------- kubernetes
kube_status() {
  local ok=0
  if pid_alive "$KUBE_DIR/etcd.pid"; then echo "etcd:           up (pid $(cat "$KUBE_DIR/etcd.pid")) http://127.0.0.1:$ETCD_PORT"
  else echo "etcd:           down"; ok=1; fi
  if pid_alive "$KUBE_DIR/kube-apiserver.pid" && apiserver_ready; then
    echo "kube-apiserver: up (pid $(cat "$KUBE_DIR/kube-apiserver.pid")) https://127.0.0.1:$APISERVER_PORT"
  else echo "kube-apiserver: down"; ok=1; fi
  if pid_alive "$KUBE_DIR/kube-controller-manager.pid"; then
    echo "kube-controller-manager: up (pid $(cat "$KUBE_DIR/kube-controller-manager.pid"))"
  else echo "kube-controller-manager: down"; ok=1; fi
  return $ok
}

apiserver_ready() {
  [ -f "$KUBE_DIR/pki/ca.crt" ] || return 1
  curl -fsS --max-time 3 --cacert "$KUBE_DIR/pki/ca.crt" \
    -H "Authorization: Bearer $(cat "$KUBE_DIR/admin.token")" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null 2>&1
}

kube_pki() {
  local pki=$KUBE_DIR/pki
  [ -f "$pki/.complete" ] && return 0
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=private-registry-sandbox-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\nextendedKeyUsage=serverAuth\n' > san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  openssl rand -hex 24 > "$KUBE_DIR/admin.token"
  chmod 600 "$KUBE_DIR/admin.token" "$pki"/*.key
  echo "$(cat "$KUBE_DIR/admin.token"),sandbox-admin,sandbox-admin,system:masters" > "$KUBE_DIR/tokens.csv"
  chmod 600 "$KUBE_DIR/tokens.csv"
  touch "$pki/.complete"
}

write_kubeconfig() {
  local ca; ca=$(base64 -w0 < "$KUBE_DIR/pki/ca.crt")
  # in a subshell: a bare umask 077 here once leaked into every daemon started after it
  (
  umask 077
  cat > "$KUBECONFIG_PATH" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $ca
users:
- name: sandbox-admin
  user:
    token: $(cat "$KUBE_DIR/admin.token")
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox-admin
    namespace: default
current-context: sandbox
KCFG
  )
}

kube_up() {
  mkdir -p "$KUBE_DIR"
  touch "$KUBE_DIR/enabled"
  local bin
  bin=$("$HERE/build-kube.sh") || die "building the Kubernetes binaries failed"
  kube_pki
  node_apiserver_pki
  write_kubeconfig

  if pid_alive "$KUBE_DIR/etcd.pid"; then
    log "etcd already running (pid $(cat "$KUBE_DIR/etcd.pid"))"
  else
    port_free "$ETCD_PORT" || die "port $ETCD_PORT is taken: set SANDBOX_ETCD_PORT"
    port_free "$ETCD_PEER_PORT" || die "port $ETCD_PEER_PORT is taken: set SANDBOX_ETCD_PEER_PORT"
    : > "$KUBE_DIR/etcd.log"
    spawn "$KUBE_DIR/etcd.pid" "$KUBE_DIR/etcd.log" "$bin/etcd" \
      --name sandbox --data-dir "$KUBE_DIR/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "sandbox=http://127.0.0.1:$ETCD_PEER_PORT" \
      --listen-metrics-urls "" \
      --unsafe-no-fsync --quota-backend-bytes 1073741824
    local rc=0
    wait_for 30 "$KUBE_DIR/etcd.pid" curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" || rc=$?
    [ $rc -eq 0 ] || fail_with_log "etcd did not come up (rc=$rc)" "$KUBE_DIR/etcd.log"
    log "etcd up (pid $(cat "$KUBE_DIR/etcd.pid"))"
  fi

  if pid_alive "$KUBE_DIR/kube-apiserver.pid"; then
    log "kube-apiserver already running (pid $(cat "$KUBE_DIR/kube-apiserver.pid"))"
  else
    port_free "$APISERVER_PORT" || die "port $APISERVER_PORT is taken: set SANDBOX_APISERVER_PORT"
    : > "$KUBE_DIR/kube-apiserver.log"
    spawn "$KUBE_DIR/kube-apiserver.pid" "$KUBE_DIR/kube-apiserver.log" "$bin/kube-apiserver" \
      --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
      --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
      --tls-cert-file "$KUBE_DIR/pki/apiserver.crt" --tls-private-key-file "$KUBE_DIR/pki/apiserver.key" \
      --client-ca-file "$KUBE_DIR/pki/ca.crt" \
      --token-auth-file "$KUBE_DIR/tokens.csv" \
      "${NODE_APISERVER_ARGS[@]}" \
      --service-account-issuer https://kubernetes.default.svc \
      --service-account-key-file "$KUBE_DIR/pki/sa.pub" \
      --service-account-signing-key-file "$KUBE_DIR/pki/sa.key" \
      --service-cluster-ip-range 10.96.0.0/24 \
      --allow-privileged=true --profiling=false \
      --cert-dir "$KUBE_DIR/apiserver-certs"
    local rc=0
    wait_for 90 "$KUBE_DIR/kube-apiserver.pid" apiserver_ready || rc=$?
    [ $rc -eq 0 ] || fail_with_log "kube-apiserver did not become ready (rc=$rc)" "$KUBE_DIR/kube-apiserver.log"
    log "kube-apiserver up (pid $(cat "$KUBE_DIR/kube-apiserver.pid"))"
  fi

  if pid_alive "$KUBE_DIR/kube-controller-manager.pid"; then
    log "kube-controller-manager already running (pid $(cat "$KUBE_DIR/kube-controller-manager.pid"))"
  else
    : > "$KUBE_DIR/kube-controller-manager.log"
    spawn "$KUBE_DIR/kube-controller-manager.pid" "$KUBE_DIR/kube-controller-manager.log" \
      "$bin/kube-controller-manager" \
      --kubeconfig "$KUBECONFIG_PATH" \
      --authentication-kubeconfig "$KUBECONFIG_PATH" --authorization-kubeconfig "$KUBECONFIG_PATH" \
      --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
      --service-account-private-key-file "$KUBE_DIR/pki/sa.key" \
      --root-ca-file "$KUBE_DIR/pki/ca.crt" \
      --use-service-account-credentials=false \
      --controllers '*,-bootstrapsigner,-tokencleaner'
    # ready when the serviceaccount controller has made the default ServiceAccount
    local rc=0
    wait_for 60 "$KUBE_DIR/kube-controller-manager.pid" \
      kubectl --kubeconfig "$KUBECONFIG_PATH" -n default get serviceaccount default || rc=$?
    [ $rc -eq 0 ] || fail_with_log "kube-controller-manager: no default ServiceAccount (rc=$rc)" \
      "$KUBE_DIR/kube-controller-manager.log"
    log "kube-controller-manager up (pid $(cat "$KUBE_DIR/kube-controller-manager.pid"))"
  fi
}

kube_down() {
  stop_pid "$KUBE_DIR/kube-controller-manager.pid" 15 kube-controller-manager
  stop_pid "$KUBE_DIR/kube-apiserver.pid" 30 kube-apiserver
  stop_pid "$KUBE_DIR/etcd.pid" 15 etcd
}

# ---------------------------------------------------------------- commands
print_env() {
  echo "export DOCKER_HOST=$DOCKER_HOST"
  [ -f "$KUBECONFIG_PATH" ] && echo "export KUBECONFIG=$KUBECONFIG_PATH"
  echo "export SANDBOX_REGISTRY_IMAGE=$REGISTRY_IMAGE"
  echo "export SANDBOX_TEST_IMAGE=$TEST_IMAGE"
  # Registry host the tests should use: NOT loopback (dockerd treats 127.0.0.0/8 registries
  # as insecure and would skip certificate verification); the sandbox bridge address is local.
  echo "export SANDBOX_REGISTRY_HOST=$BRIDGE_IP"
  # dockerd reads registry CAs from here whatever its data/exec root or config file
  echo "export SANDBOX_DOCKER_CERTS_D=/etc/docker/certs.d"
  if [ -s "$S3_DIR/credentials" ]; then
    # reachable from the host, from containers of the sandbox dockerd and from the node's Pods
    echo "export SANDBOX_S3_ENDPOINT=$S3_ENDPOINT"
    echo "export SANDBOX_S3_REGION=$S3_REGION"
    echo "export SANDBOX_S3_ACCESS_KEY=$(s3_key access_key)"
    echo "export SANDBOX_S3_SECRET_KEY=$(s3_key secret_key)"
  fi
  # any access key signs for moto; its region is the request's
  if [ -f "$KMS_DIR/moto.pid" ]; then echo "export SANDBOX_KMS_ENDPOINT=$KMS_ENDPOINT"; fi
  node_env
}

# up [--no-kube] [--no-node] [--no-s3]: what the tests need by default; the dev stack (scripts/up.sh)
# needs only dockerd, the registry image and the API server, so it skips the node and the S3
# store and does not build them (kubelet, containerd, versitygw: minutes on a cold machine).
cmd_up() {
  local kube=1 node=1 s3=1 kms=1 a
  for a in "$@"; do
    case $a in
      --no-kube) kube=0 node=0 ;;
      --no-node) node=0 ;;
      --no-s3) s3=0 kms=0 ;;
      --no-kms) kms=0 ;;
      *) die "up: unknown option '$a' (--no-kube, --no-node, --no-s3, --no-kms)" ;;
    esac
  done
  local start; start=$(date +%s%N)
  if docker_status >/dev/null 2>&1 \
     && { [ $s3 -eq 0 ] || s3_status >/dev/null 2>&1; } \
     && { [ $kms -eq 0 ] || kms_status >/dev/null 2>&1; } \
     && { [ $kube -eq 0 ] || kube_status >/dev/null 2>&1; } \
     && { [ $node -eq 0 ] || node_status >/dev/null 2>&1; } \
     && docker image inspect "$REGISTRY_IMAGE" "$TEST_IMAGE" >/dev/null 2>&1; then
    log "already up; nothing to do"
  else
    docker_up
    docker_images
    if [ $s3 -eq 1 ]; then s3_up; fi
    if [ $kms -eq 1 ]; then kms_up; fi
    if [ $kube -eq 1 ]; then kube_up; fi
    if [ $node -eq 1 ]; then node_up; fi
    log "up in $(elapsed "$start")s"
  fi
  echo "# sandbox state: $SANDBOX_DIR" >&2
  echo "# to use it: eval \"\$(bash $HERE/sandbox.sh env)\"" >&2
  print_env | sed "s|^\(export SANDBOX_S3_SECRET_KEY=\).*|\1<in $S3_DIR/credentials>|" >&2
}

cmd_down() {
  local start; start=$(date +%s%N)
  # the node first: its Pods are deleted through the API server
  node_down
  s3_down
  kms_down
  # the two stacks are independent: stop them in parallel
  docker_down &
  local dpid=$!
  kube_down
  rm -f "$KUBE_DIR/enabled"
  wait "$dpid" || log "WARNING: docker_down reported an error"
  log "down in $(elapsed "$start")s"
  if [ "${1:-}" = --purge ]; then
    rm -rf "$SANDBOX_DIR"
    log "removed $SANDBOX_DIR"
  fi
}

cmd_restart_docker() {
  pid_alive "$DOCKER_PIDFILE" || die "dockerd of this sandbox is not running: sandbox.sh up"
  local start; start=$(date +%s%N)
  stop_pid "$DOCKER_PIDFILE" 40 dockerd
  docker_up
  log "dockerd restarted in $(elapsed "$start")s"
}

cmd_stop_apiserver() {
  [ -f "$KUBE_DIR/enabled" ] || die "the Kubernetes part of this sandbox was not started"
  stop_pid "$KUBE_DIR/kube-apiserver.pid" 30 kube-apiserver
}

cmd_start_apiserver() {
  [ -f "$KUBE_DIR/enabled" ] || die "the Kubernetes part of this sandbox was not started"
  local start; start=$(date +%s%N)
  kube_up
  log "Kubernetes part up in $(elapsed "$start")s"
}

cmd_status() {
  local rc=0
  docker_status || rc=1
  s3_status || rc=1
  kms_status || rc=1
  if [ -f "$KUBE_DIR/enabled" ]; then
    kube_status || rc=1
    if [ -f "$NODE_DIR/enabled" ]; then node_status || rc=1; else echo "node:           not running"; rc=1; fi
  else
    echo "kubernetes:     not running (not started, or up --no-kube)"
  fi
  return $rc
}

# The parts that run now, one name a line (docker, s3, kms, kube, node): what a caller records before
# `up` so that it can stop exactly what it added (`stop`), leaving a sandbox someone else started.
cmd_parts() {
  if docker_status >/dev/null 2>&1; then echo docker; fi
  if s3_status >/dev/null 2>&1; then echo s3; fi
  if kms_status >/dev/null 2>&1; then echo kms; fi
  if [ -f "$KUBE_DIR/enabled" ] && kube_status >/dev/null 2>&1; then echo kube; fi
  if [ -f "$NODE_DIR/enabled" ] && node_status >/dev/null 2>&1; then echo node; fi
  return 0
}

# stop PART...: stop the named parts only, in dependency order (the node before the API server it
# registered with, the Kubernetes part before dockerd); stopping every part is `down`.
cmd_stop() {
  local want=" $* " p
  for p in "$@"; do
    case $p in docker | s3 | kms | kube | node) ;; *) die "stop: unknown part '$p' (docker, s3, kms, kube, node)" ;; esac
  done
  if [[ $want == *" node "* ]]; then node_down; fi
  if [[ $want == *" s3 "* ]]; then s3_down; fi
  if [[ $want == *" kms "* ]]; then kms_down; fi
  if [[ $want == *" kube "* ]]; then kube_down; rm -f "$KUBE_DIR/enabled"; fi
  if [[ $want == *" docker "* ]]; then docker_down; fi
  return 0
}

case "${1:-}" in
  node) case "${2:-}" in  # the node alone, the control plane staying up (sandbox/node.sh)
          up) node_up ;; down) node_down ;; status) node_status ;;
          *) echo "usage: $0 node up|down|status" >&2; exit 2 ;;
        esac ;;
  kms) case "${2:-}" in  # the KMS API alone
         up) kms_up ;; down) kms_down ;; status) kms_status ;;
         *) echo "usage: $0 kms up|down|status" >&2; exit 2 ;;
       esac ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  parts) cmd_parts ;;
  stop) shift; cmd_stop "$@" ;;
  env) print_env ;;
  s3-bucket) cmd_s3_bucket "${2:-}" ;;
  restart-docker) cmd_restart_docker ;;
  stop-apiserver) cmd_stop_apiserver ;;
  start-apiserver) cmd_start_apiserver ;;
  *) echo "usage: $0 up [--no-kube] [--no-node] [--no-s3] [--no-kms] | kms up|down|status | down [--purge] | status | parts | stop PART... | env | s3-bucket NAME | restart-docker | stop-apiserver | start-apiserver" >&2
     exit 2 ;;
esac

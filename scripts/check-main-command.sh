#!/usr/bin/env bash
# CI's check of the README's main command, run as a new user runs it: from a fresh clone of the
# committed tree (nothing of this checkout's state: no venv, stack files, passphrase, state or
# sandbox), twice, each time checked through the registry's own TLS and auth, then taken down:
#   1. a bare machine's way: no pulumi CLI on PATH, so the offline toolchain is used (built, or
#      reused from the cache in seconds), project defaults for backend and passphrase;
#   2. a user's own setup: a `pulumi` CLI on PATH (the toolchain's, standing in for the user's),
#      no Go on PATH (so no build can run), the user's own PULUMI_HOME, backend and passphrase,
#      which must be used and left as they were (nothing written into the clone instead).
#   bash scripts/check-main-command.sh
# Needs no sandbox running (each run starts its clone's own and stops it again).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/main-command.XXXXXX)
log() { echo "main-command: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# (read into a variable first: under pipefail, `status | grep -q` is false whenever any part is down)
if grep -qx docker <<<"$(bash "$repo/sandbox/sandbox.sh" parts)"; then
  die "a sandbox of this checkout runs: the clones' sandboxes would share its bridge and ports (sandbox.sh down first)"
fi
certs_before=$(ls /etc/docker/certs.d 2>/dev/null || true)

clone() {
  git clone -q "$repo" "$work/$1"
  # the committed tree only: a dirty checkout's changes are not what a user gets
  echo "$work/$1"
}

# The registry answers at its endpoint with a certificate from the stack's CA: 401 without
# credentials, 200 with the first user's (credentials through a curl config on stdin, never argv).
check_registry() {
  local dir=$1 endpoint ca user pass code
  endpoint=$(pulumi stack output endpoint --stack dev --cwd "$dir")
  ca=$work/ca.pem
  pulumi stack output caCertificate --stack dev --cwd "$dir" > "$ca"
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" "https://$endpoint/v2/")
  [ "$code" = 401 ] || die "GET https://$endpoint/v2/ without credentials: $code (want 401)"
  user=$(pulumi stack output usernames --json --stack dev --cwd "$dir" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')
  pass=$(pulumi stack output passwords --json --show-secrets --stack dev --cwd "$dir" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$user")
  code=$(printf 'user = "%s:%s"\n' "$user" "$pass" |
    curl -s -o /dev/null -w '%{http_code}' -K - --cacert "$ca" "https://$endpoint/v2/")
  [ "$code" = 200 ] || die "GET https://$endpoint/v2/ as $user: $code (want 200)"
  log "https://$endpoint/v2/ answers 401 without credentials and 200 as $user, TLS checked against the stack's CA"
  check_pull_endpoint "$dir" "$endpoint" "$ca"
}

# The dev stack's pull user (the pull secrets' credentials, from dockerConfigJson) reads through the
# read-only instance and nothing else: 200 there, 405 for an upload there, 401 at the writer.
check_pull_endpoint() {
  local dir=$1 endpoint=$2 ca=$3 pull_endpoint credentials code
  pull_endpoint=$(pulumi stack output pullEndpoint --stack dev --cwd "$dir")
  credentials=$(pulumi stack output dockerConfigJson --show-secrets --stack dev --cwd "$dir" |
    python3 -c 'import json,sys; a=json.load(sys.stdin)["auths"][sys.argv[1]]; print("user = \"" + a["username"] + ":" + a["password"] + "\"")' "$endpoint")
  code=$(curl -s -o /dev/null -w '%{http_code}' -K - --cacert "$ca" "https://$pull_endpoint/v2/" <<<"$credentials")
  [ "$code" = 200 ] || die "GET https://$pull_endpoint/v2/ as the pull secrets' user: $code (want 200)"
  code=$(curl -s -o /dev/null -w '%{http_code}' -K - --cacert "$ca" -X POST "https://$pull_endpoint/v2/x/blobs/uploads/" <<<"$credentials")
  [ "$code" = 405 ] || die "an upload at https://$pull_endpoint as the pull secrets' user: $code (want 405)"
  code=$(curl -s -o /dev/null -w '%{http_code}' -K - --cacert "$ca" "https://$endpoint/v2/" <<<"$credentials")
  [ "$code" = 401 ] || die "GET https://$endpoint/v2/ as the pull secrets' user: $code (want 401)"
  log "the pull secrets' user: 200 at https://$pull_endpoint/v2/, 405 for an upload there, 401 at https://$endpoint/v2/"
}

# pulumi destroy with the environment the clone's up.sh had ($work/<clone>.env), then its sandbox down.
take_down() {
  local dir=${1%/}
  (
    cd "$dir"
    # shellcheck disable=SC1090
    [ ! -f "$dir.env" ] || . "$dir.env"
    eval "$(bash sandbox/sandbox.sh env)"
    . scripts/pulumi-env.sh
    pulumi destroy --yes --stack dev --non-interactive >/dev/null || log "WARNING: pulumi destroy failed"
    docker volume rm registry-data-dev >/dev/null 2>&1 || true  # kept on destroy (retainData)
    bash sandbox/sandbox.sh down --purge
  )
}
cleanup() {
  local rc=$? d
  for d in "$work"/*/; do if [ -d "$d/.sandbox" ]; then take_down "$d"; fi; done
  # the CA folders up.sh wrote for the Docker daemon, if there were none before
  for d in $(ls /etc/docker/certs.d 2>/dev/null || true); do
    grep -qx "$d" <<<"$certs_before" || rm -rf "/etc/docker/certs.d/$d"
  done
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# 1. A bare machine.
one=$(clone bare)
bare_path=$(tr ':' '\n' <<<"$PATH" | while read -r p; do [ -x "$p/pulumi" ] || echo "$p"; done | paste -sd:)
log "1. a bare machine: bash scripts/up.sh in $one (no pulumi on PATH)"
started=$(date +%s)
(cd "$one" && env -u DOCKER_HOST -u KUBECONFIG -u PULUMI_BACKEND_URL -u PULUMI_HOME -u PULUMI_CONFIG_PASSPHRASE \
  -u PULUMI_CONFIG_PASSPHRASE_FILE PATH="$bare_path" bash scripts/up.sh) > "$work/bare.log" 2>&1 ||
  { tail -n 40 "$work/bare.log" >&2; die "bash scripts/up.sh (bare machine)"; }
log "1. bash scripts/up.sh: $(( $(date +%s) - started )) s"
echo "export PATH='$bare_path'" > "$one.env"
(
  cd "$one"
  . "$one.env"
  eval "$(bash sandbox/sandbox.sh env)"
  . scripts/pulumi-env.sh
  [ "$PRIVATE_REGISTRY_PULUMI" = offline ] || die "expected the offline toolchain"
  [ -s .secrets/passphrase ] && [ -d .pulumi-state ] || die "the project's default backend and passphrase were not made"
  check_registry "$one"
)
take_down "$one"

# 2. A user's own CLI (no Go), PULUMI_HOME, backend and passphrase.
two=$(clone user)
user_bin=$work/user-cli/bin
mkdir -p "$(dirname "$user_bin")"
cp -a "${PRIVATE_REGISTRY_CACHE:-$HOME/.cache/private-registry}/toolchain/bin" "$user_bin"
no_go=$(tr ':' '\n' <<<"$bare_path" | while read -r p; do [ -x "$p/go" ] || echo "$p"; done | paste -sd:)
mkdir -p "$work/user-home" "$work/user-state"
head -c 24 /dev/urandom | base64 > "$work/user-passphrase"
user_env=(PATH="$user_bin:$no_go" PULUMI_HOME="$work/user-home" PULUMI_BACKEND_URL="file://$work/user-state"
  PULUMI_CONFIG_PASSPHRASE_FILE="$work/user-passphrase" PULUMI_SKIP_UPDATE_CHECK=true)
printf 'export %q\n' "${user_env[@]}" > "$two.env"
log "2. your own pulumi ($user_bin/pulumi), no Go on PATH: bash scripts/up.sh in $two"
started=$(date +%s)
(cd "$two" && env -u DOCKER_HOST -u KUBECONFIG -u PULUMI_CONFIG_PASSPHRASE "${user_env[@]}" bash scripts/up.sh) \
  > "$work/user.log" 2>&1 || { tail -n 40 "$work/user.log" >&2; die "bash scripts/up.sh (your own pulumi)"; }
log "2. bash scripts/up.sh: $(( $(date +%s) - started )) s"
grep -q "using your pulumi CLI: $user_bin/pulumi" "$work/user.log" || die "the user's CLI was not used"
if grep -q "toolchain: " "$work/user.log"; then die "the offline toolchain was built or used beside the user's CLI"; fi
[ ! -e "$two/.pulumi-state" ] && [ ! -e "$two/.secrets" ] && [ ! -e "$two/.pulumi-home" ] ||
  die "the project's defaults were written beside the user's own backend, passphrase and PULUMI_HOME"
ls "$work/user-state/.pulumi/stacks/private-registry/dev.json"* >/dev/null || die "no stack in the user's backend"
ls -d "$work/user-home/plugins/resource-docker-v"* >/dev/null || die "no plugins in the user's PULUMI_HOME"
(
  cd "$two"
  . "$two.env"
  eval "$(bash sandbox/sandbox.sh env)"
  check_registry "$two"
)
take_down "$two"
log "both runs passed"

#!/usr/bin/env bash
# The main job: `pulumi up` of a stack (default dev), then how to log in.
#   bash scripts/up.sh [stack]
#
# Each part of the setup is the user's own where they have one, the project's default otherwise:
# - Pulumi CLI: a `pulumi` on PATH of a supported version (scripts/pulumi-cli.sh) is used as it is;
#   without one (or with PRIVATE_REGISTRY_PULUMI=offline) the offline toolchain is built from the
#   Go module proxy (toolchain/build.sh, cached) and used.
# - Backend, PULUMI_HOME, secrets provider: scripts/pulumi-env.sh (the user's login or
#   PULUMI_BACKEND_URL wins; else a file backend in the checkout and a generated passphrase).
# - Docker host and cluster: with DOCKER_HOST set, the user's Docker host (and kubeconfig); without it,
#   the local sandbox (its own dockerd and API server, sandbox/; no node, no S3 store: the dev stack
#   needs neither) is started, and this command's DOCKER_HOST and KUBECONFIG point at it.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
started=$(date +%s)
say() { echo "up: $* (+$(( $(date +%s) - started ))s)" >&2; }
# what runs in the background (the venv, a sandbox start) is waited for, whatever ends this script
trap 'for pid in ${venv_pid:-} ${sandbox_pid:-}; do wait "$pid" 2>/dev/null || true; done' EXIT

use_sandbox=1
if [ -n "${DOCKER_HOST:-}" ]; then use_sandbox=0; fi

# The sandbox's Debian packages first: a missing one then fails in seconds, not after the long build.
if [ "$use_sandbox" = 1 ]; then bash sandbox/install-deps.sh; fi
# The program's Python packages (run time only: requirements.txt) install beside the builds below;
# the program needs them only at `pulumi up`.
bash scripts/setup-python.sh &
venv_pid=$!

if [ "${PRIVATE_REGISTRY_PULUMI:-auto}" != offline ] && cli=$(bash scripts/pulumi-cli.sh); then
  say "using your pulumi CLI: $cli"
  export PRIVATE_REGISTRY_PULUMI=user
else
  say "building (or reusing) the offline Pulumi toolchain (PRIVATE_REGISTRY_PULUMI=${PRIVATE_REGISTRY_PULUMI:-auto})"
  if [ "$use_sandbox" = 1 ]; then
    # The sandbox's own builds (registry image, API server) run beside the toolchain's: on two cores
    # the Go builds overlap each other's downloads and single-threaded link steps. Its lines start
    # with "sandbox:", the toolchain's with "toolchain:" or "[part".
    bash sandbox/sandbox.sh up --no-node --no-s3 &
    sandbox_pid=$!
  fi
  bash toolchain/build.sh cli langhost tls docker kubernetes
  export PRIVATE_REGISTRY_PULUMI=offline
fi
if [ "$use_sandbox" = 1 ]; then
  if [ -n "${sandbox_pid:-}" ]; then
    rc=0; wait "$sandbox_pid" || rc=$?
    sandbox_pid=
    [ "$rc" = 0 ] || { echo "up: the sandbox did not start (above)" >&2; exit 1; }
  fi
  bash sandbox/sandbox.sh up --no-node --no-s3
  eval "$(bash sandbox/sandbox.sh env)"
  say "sandbox up: DOCKER_HOST=$DOCKER_HOST KUBECONFIG=$KUBECONFIG"
fi

rc=0; wait "$venv_pid" || rc=$?
venv_pid=
[ "$rc" = 0 ] || { echo "up: installing the Python packages into venv/ failed (above)" >&2; exit 1; }
say "venv ready"

# shellcheck source=scripts/pulumi-env.sh
. scripts/pulumi-env.sh
bash scripts/plugins.sh

select=(pulumi stack select "$stack" --create --non-interactive)
# A new stack on the project's default backend gets the passphrase provider and the generated
# passphrase; on the user's backend, its own default (or whatever the stack already has).
if [ "${PRIVATE_REGISTRY_DEFAULT_BACKEND:-0}" = 1 ]; then select+=(--secrets-provider passphrase); fi
"${select[@]}"
pulumi up --yes --stack "$stack" --non-interactive

endpoint=$(pulumi stack output endpoint --stack "$stack")
first_user=$(pulumi stack output usernames --json --stack "$stack" | venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0])')
pull_endpoint=$(pulumi stack output pullEndpoint --stack "$stack" 2>/dev/null) || pull_endpoint=""
pulls=""
if [ -n "$pull_endpoint" ]; then
  pulls="Pulls: clusters use the same names; the pull secrets hold the pull user, and the nodes' hosts.toml
  (output containerdHostsToml) sends their pulls to the read-only instance $pull_endpoint
"
fi
ca_dir=/etc/docker/certs.d/$endpoint
trust="The Docker daemon trusts its CA: $ca_dir/ca.crt"
case ${DOCKER_HOST:-unix://} in
  unix://*)
    # dockerd reads registry CAs from this folder on its own host, which is this one
    if mkdir -p "$ca_dir" 2>/dev/null && pulumi stack output caCertificate --stack "$stack" > "$ca_dir/ca.crt"; then :
    else trust="Make the Docker daemon trust its CA (as root): pulumi stack output caCertificate > $ca_dir/ca.crt"; fi ;;
  *) trust="On the Docker host ($DOCKER_HOST), as root: pulumi stack output caCertificate > $ca_dir/ca.crt" ;;
esac
cat <<MSG

Registry $endpoint is up (stack $stack, $(( $(date +%s) - started ))s). $trust
Log in:
  export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
  pulumi stack output passwords --show-secrets --json --stack $stack   # the passwords (secret)
  docker login $endpoint -u $first_user
Push:  docker tag <image> $endpoint/<name>:<tag> && docker push $endpoint/<name>:<tag>
${pulls}For pulumi commands in this shell: . scripts/pulumi-env.sh
Cluster stacks read the outputs with a StackReference; nodes need caCertificate and containerdHostsToml.
MSG

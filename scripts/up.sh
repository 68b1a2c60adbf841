#!/usr/bin/env bash
# The main job on one machine: `pulumi up` of a stack (default dev) against the local sandbox
# (its own dockerd and Kubernetes API server), then how to log in.
#   bash scripts/up.sh [stack]
# With DOCKER_HOST and KUBECONFIG already set (a real Docker host and cluster), no sandbox is started.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
use_sandbox=0
if [ -z "${DOCKER_HOST:-}" ] || [ -z "${KUBECONFIG:-}" ]; then use_sandbox=1; fi
bash scripts/setup-python.sh
# The sandbox's Debian packages first: a missing one then fails in seconds, not after the long build.
if [ "$use_sandbox" = 1 ]; then bash sandbox/install-deps.sh; fi
bash toolchain/build.sh all
if [ "$use_sandbox" = 1 ]; then
  bash sandbox/sandbox.sh up
  eval "$(bash sandbox/sandbox.sh env)"
fi
# shellcheck source=scripts/pulumi-env.sh
. scripts/pulumi-env.sh
bash toolchain/install-plugins.sh
pulumi stack select "$stack" --create --secrets-provider passphrase --non-interactive
pulumi up --yes --stack "$stack" --non-interactive

endpoint=$(pulumi stack output endpoint --stack "$stack")
ca_dir=/etc/docker/certs.d/$endpoint
mkdir -p "$ca_dir"
pulumi stack output caCertificate --stack "$stack" > "$ca_dir/ca.crt"
first_user=$(pulumi stack output usernames --json --stack "$stack" | venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0])')
cat <<MSG

Registry $endpoint is up (stack $stack). The Docker daemon trusts its CA: $ca_dir/ca.crt
Log in:
  export DOCKER_HOST=${DOCKER_HOST}
  pulumi stack output passwords --show-secrets --json --stack $stack   # the passwords (secret)
  docker login $endpoint -u $first_user
Push:  docker tag <image> $endpoint/<name>:<tag> && docker push $endpoint/<name>:<tag>
For pulumi commands in this shell: . scripts/pulumi-env.sh
Cluster stacks read the outputs with a StackReference; nodes need caCertificate and containerdHostsToml.
MSG

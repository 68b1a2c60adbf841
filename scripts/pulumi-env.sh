# Sourced by the project's scripts (and by a user's shell): the Pulumi environment, each part the
# user's own where they have one, the project's default only where they have none.
#   . scripts/pulumi-env.sh
# - CLI: a `pulumi` on PATH of a supported version (scripts/pulumi-cli.sh) stays as it is; else, or
#   with PRIVATE_REGISTRY_PULUMI=offline, the offline toolchain (toolchain/env.sh: first on PATH, no
#   network, plugins in PULUMI_HOME).
# - Backend: PULUMI_BACKEND_URL, or the backend of the user's `pulumi login`; else a file backend
#   in the checkout (.pulumi-state/), and PRIVATE_REGISTRY_DEFAULT_BACKEND=1 says so.
# - Passphrase (only with that default backend): PULUMI_CONFIG_PASSPHRASE or
#   PULUMI_CONFIG_PASSPHRASE_FILE if set, else .secrets/passphrase, made once (mode 0600). An empty
#   passphrase is refused. On the user's own backend, its secrets provider is left to the user.
# shellcheck shell=bash
_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${PRIVATE_REGISTRY_PULUMI:-auto}" != offline ] && bash "$_repo/scripts/pulumi-cli.sh" >/dev/null 2>&1; then
  export PRIVATE_REGISTRY_PULUMI=user
else
  # shellcheck source=toolchain/env.sh
  . "$_repo/toolchain/env.sh"
  export PRIVATE_REGISTRY_PULUMI=offline
fi

# The user's `pulumi login` (credentials.json of their PULUMI_HOME names the current backend).
_logged_in=$(python3 - "${PULUMI_HOME:-$HOME/.pulumi}/credentials.json" 2>/dev/null <<'PY' || true
import json, sys
try:
    print(json.load(open(sys.argv[1])).get("current") or "")
except (OSError, ValueError):
    print("")
PY
)
export PRIVATE_REGISTRY_DEFAULT_BACKEND=0
if [ -z "${PULUMI_BACKEND_URL:-}" ] && [ -z "$_logged_in" ]; then
  export PULUMI_BACKEND_URL=file://$_repo/.pulumi-state
  mkdir -p "$_repo/.pulumi-state"
  export PRIVATE_REGISTRY_DEFAULT_BACKEND=1
fi

if [ -n "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "$PULUMI_CONFIG_PASSPHRASE" ]; then
  echo "PULUMI_CONFIG_PASSPHRASE is set but empty: an empty passphrase does not protect the secrets in state" >&2
  return 1 2>/dev/null || exit 1
fi
if [ "$PRIVATE_REGISTRY_DEFAULT_BACKEND" = 1 ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] &&
   [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE_FILE=$_repo/.secrets/passphrase
  if [ ! -s "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
    mkdir -p "$_repo/.secrets" && chmod 700 "$_repo/.secrets"
    (umask 077 && head -c 32 /dev/urandom | base64 > "$PULUMI_CONFIG_PASSPHRASE_FILE")
    echo "created a passphrase for the stacks' secrets: $PULUMI_CONFIG_PASSPHRASE_FILE (keep it; back it up)" >&2
  fi
fi
if [ -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] &&
   { [ ! -s "$PULUMI_CONFIG_PASSPHRASE_FILE" ] || [ -z "$(tr -d '[:space:]' < "$PULUMI_CONFIG_PASSPHRASE_FILE")" ]; }; then
  echo "PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE is missing or empty: an empty passphrase is refused" >&2
  return 1 2>/dev/null || exit 1
fi
unset _repo _logged_in

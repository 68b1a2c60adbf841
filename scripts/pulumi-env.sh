# Sourced by the project's scripts (and by a user's shell): the Pulumi environment, each part the
# user's own where they have one, the project's default only where they have none.
#   . scripts/pulumi-env.sh
# - CLI: a `pulumi` on PATH of a supported version (scripts/pulumi-cli.sh) stays as it is; else, or
#   with PRIVATE_REGISTRY_PULUMI=offline, the offline toolchain (toolchain/env.sh: first on PATH, no
#   network, plugins in PULUMI_HOME).
# - Backend: the user's own when they named one the way the Pulumi CLI reads it (a non-empty
#   PULUMI_BACKEND_URL; backend.url in the project's Pulumi.yaml, PROJECT_DIR or this checkout; a
#   `pulumi login`; PULUMI_ACCESS_TOKEN for Pulumi Cloud: scripts/pulumi_backend.py), with its
#   secrets provider (passphrase, awskms://, ...) left to the user and nothing demanding a
#   passphrase; PRIVATE_REGISTRY_BACKEND_SOURCE says which. Else a file backend in the checkout
#   (.pulumi-state/), and PRIVATE_REGISTRY_DEFAULT_BACKEND=1 says so.
# - Empty variables count as unset (a workflow's absent secret arrives as "") and are dropped.
# - Passphrase (only with that default backend): PULUMI_CONFIG_PASSPHRASE or
#   PULUMI_CONFIG_PASSPHRASE_FILE if set, else .secrets/passphrase, made once (mode 0600). An empty
#   passphrase (the variable, or the file's content) is refused there.
# shellcheck shell=bash
_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "${PRIVATE_REGISTRY_PULUMI:-auto}" != offline ] && bash "$_repo/scripts/pulumi-cli.sh" >/dev/null 2>&1; then
  export PRIVATE_REGISTRY_PULUMI=user
else
  # shellcheck source=toolchain/env.sh
  . "$_repo/toolchain/env.sh"
  export PRIVATE_REGISTRY_PULUMI=offline
fi

# The backend, decided as the CLI decides it (scripts/pulumi_backend.py): the user's own when they
# named one, else the checkout's file backend with the generated passphrase.
_decision=$(python3 "$_repo/scripts/pulumi_backend.py" "${PROJECT_DIR:-$_repo}" "file://$_repo/.pulumi-state") || {
  echo "pulumi-env.sh: could not decide the Pulumi backend (python3 scripts/pulumi_backend.py)" >&2
  return 1 2>/dev/null || exit 1
}
_pr_env_field() { sed -n "s/^$1=//p" <<<"$_decision"; }
if [ -n "$(_pr_env_field error)" ]; then
  echo "$(_pr_env_field error)" >&2
  unset _repo _decision; unset -f _pr_env_field
  return 1 2>/dev/null || exit 1
fi
# Empty variables count as unset (a workflow's absent secret arrives as ""): dropped.
for _name in $(_pr_env_field unset); do unset "$_name"; done
PRIVATE_REGISTRY_BACKEND_SOURCE=$(_pr_env_field source)
PRIVATE_REGISTRY_DEFAULT_BACKEND=$(_pr_env_field default)
export PRIVATE_REGISTRY_BACKEND_SOURCE PRIVATE_REGISTRY_DEFAULT_BACKEND
if [ "$PRIVATE_REGISTRY_DEFAULT_BACKEND" = 1 ]; then
  export PULUMI_BACKEND_URL=file://$_repo/.pulumi-state
  mkdir -p "$_repo/.pulumi-state"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
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
    unset _repo _decision _name; unset -f _pr_env_field
    return 1 2>/dev/null || exit 1
  fi
fi
unset _repo _decision _name; unset -f _pr_env_field

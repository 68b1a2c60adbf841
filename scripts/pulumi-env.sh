# Sourced by the project's scripts: the offline toolchain on PATH, a local file backend and the
# passphrase secrets provider. A team sets PULUMI_BACKEND_URL (shared storage) and
# PULUMI_CONFIG_PASSPHRASE(_FILE) itself; otherwise a passphrase file is made once, mode 0600.
_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=toolchain/env.sh
. "$_repo/toolchain/env.sh"
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$_repo/.pulumi-state}
case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac

if [ -n "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "$PULUMI_CONFIG_PASSPHRASE" ]; then
  echo "PULUMI_CONFIG_PASSPHRASE is set but empty: an empty passphrase does not protect the secrets in state" >&2
  return 1 2>/dev/null || exit 1
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
  if [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE=$_repo/.secrets/passphrase
    if [ ! -s "$PULUMI_CONFIG_PASSPHRASE_FILE" ]; then
      mkdir -p "$_repo/.secrets" && chmod 700 "$_repo/.secrets"
      (umask 077 && head -c 32 /dev/urandom | base64 > "$PULUMI_CONFIG_PASSPHRASE_FILE")
      echo "created a passphrase for the stacks' secrets: $PULUMI_CONFIG_PASSPHRASE_FILE (keep it; back it up)" >&2
    fi
  fi
  if [ ! -s "$PULUMI_CONFIG_PASSPHRASE_FILE" ] || [ -z "$(tr -d '[:space:]' < "$PULUMI_CONFIG_PASSPHRASE_FILE")" ]; then
    echo "PULUMI_CONFIG_PASSPHRASE_FILE=$PULUMI_CONFIG_PASSPHRASE_FILE is missing or empty: an empty passphrase is refused" >&2
    return 1 2>/dev/null || exit 1
  fi
fi
unset _repo

#!/usr/bin/env bash
# Installs the Debian packages the local sandbox and the end-to-end tests need.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

PKGS=(
  docker.io        # dockerd (the machine may have only a docker CLI in /usr/local/bin)
  skopeo           # registry client used by tests (--authfile/--cert-dir)
  busybox-static   # static busybox for the registry image's health check and the test image
  openssl          # throwaway certs and service-account keys
  iproute2         # ip link (bridge checks)
  iptables         # dockerd's bridge networking
  ca-certificates
  python3-bcrypt   # htpasswd lines for manual/e2e checks
  curl
  runc                         # the node's OCI runtime (1.1.5; README "Node")
  containernetworking-plugins  # the node's CNI plugins: bridge, host-local, loopback (1.1.1)
  chromium         # a real headless browser for the page of scripts/status.sh --html
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh package lists only when an install fails for lack of them.
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The Debian package enables a system dockerd service; the sandbox runs its own daemon instead.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
fi
echo "install-deps: done"

#!/usr/bin/env bash
# Create or refresh the project's virtualenv (venv/) from requirements.txt; quick when up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -x venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv venv
venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$want" > "$stamp"
echo "venv/ ready: $(venv/bin/python --version), $(venv/bin/pip freeze | grep -c .) packages pinned by requirements.txt"

#!/usr/bin/env bash
# Create or refresh the project's virtualenv (venv/); quick when up to date.
#   bash scripts/setup-python.sh         what the program and the operations scripts need (requirements.txt)
#   bash scripts/setup-python.sh --dev   that and the tests, checks and sandbox services (requirements-dev.txt)
# A venv set up with --dev serves both; one set up without it gets the rest on the first --dev.
set -euo pipefail
cd "$(dirname "$0")/.."
case ${1:-} in
  "") files=(requirements.txt) ;;
  --dev) files=(requirements.txt requirements-dev.txt) ;;
  *) echo "setup-python.sh: unknown argument '$1' (allowed: --dev)" >&2; exit 2 ;;
esac
stamp_of() { echo "$1 $(sha256sum "$1" | cut -d' ' -f1)"; }
stamp=venv/.requirements.sha256
missing=()
for f in "${files[@]}"; do
  grep -qxF "$(stamp_of "$f")" "$stamp" 2>/dev/null || missing+=("$f")
done
if [ -x venv/bin/python ] && [ ${#missing[@]} = 0 ]; then
  exit 0
fi
[ -x venv/bin/python ] || python3 -m venv venv
# the last file names the others (-r): one resolution of everything asked for
venv/bin/pip install --quiet --disable-pip-version-check -r "${files[-1]}"
{ for f in "${files[@]}"; do stamp_of "$f"; done; } > "$stamp.new"
mv "$stamp.new" "$stamp"
echo "venv/ ready: $(venv/bin/python --version), $(venv/bin/pip freeze | grep -c .) packages pinned by ${files[*]}"

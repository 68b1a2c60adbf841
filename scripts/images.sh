#!/usr/bin/env bash
# Declared images in one file, for a registry whose machine cannot reach the sources (air-gapped).
#   bash scripts/images.sh save <stack | list-file> <out.tar>
# With a stack: its `images` and `sourceRegistries` settings (read with `pulumi config`, secrets
# decrypted in memory only); with a list file (YAML/JSON list of {source, name?} entries, or one
# image reference per line). Writes an OCI image layout in a tar, digests kept; on the air-gapped
# side, `images` entries with `bundle: <out.tar>` name its entries by their source reference and
# `pulumi up` pushes them from the file (docs/images.md "Air-gapped"). Standard output: one
# `source@digest` line per image saved, the pinned sources for those entries; the file is 0600.
# Uses the project's Python (venv/), the stack's PROJECT_DIR (default: this repository).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: $0 save <stack | list-file> <out.tar>" >&2; exit 2; }
[ $# -eq 3 ] && [ "$1" = save ] || usage
from=$2 out=$3
python=$repo/venv/bin/python
[ -x "$python" ] || { bash "$repo/scripts/setup-python.sh" >&2 || exit 1; }
if [ -f "$from" ]; then
  exec "$python" "$repo/scripts/images.py" save --list "$from" "$out"
fi
# shellcheck source=scripts/pulumi-env.sh
. "$repo/scripts/pulumi-env.sh"
project=${PROJECT_DIR:-$repo}
config=$(pulumi config --stack "$from" --cwd "$project" --json --show-secrets --non-interactive) \
  || { echo "images.sh: could not read the config of stack '$from' (a list file of that name does not exist either)" >&2; exit 1; }
out=$(realpath -m "$out")
cd "$project"  # bundle paths in the stack's settings are relative to its project
"$python" "$repo/scripts/images.py" save --config - "$out" <<<"$config"

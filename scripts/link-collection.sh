#!/usr/bin/env bash
# Make this checkout importable as fleetops.release: build/collections/ansible_collections/fleetops/release -> repo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
link="$root/build/collections/ansible_collections/fleetops/release"
mkdir -p "$(dirname "$link")"
if [ "$(readlink "$link" 2>/dev/null)" != "$root" ]; then
  ln -sfn "$root" "$link"
fi

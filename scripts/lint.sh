#!/usr/bin/env bash
# Run ansible-lint (production profile, offline) on the collection, from the collection root.
#
# ansible-lint resolves fleetops.release.* through ANSIBLE_COLLECTIONS_PATH, which must hold
# ansible_collections/fleetops/release: a throwaway directory with a symlink to this working tree
# serves (outside the repository, so no tool walking the tree ever meets a symlink loop).
# Extra arguments are passed to ansible-lint (e.g. a path, or -v).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${REPO_ROOT}/.venv/bin"

if [[ ! -x "${VENV_BIN}/ansible-lint" ]]; then
    printf 'lint: %s/ansible-lint not found: run "make deps" (scripts/bootstrap.sh) first\n' "${VENV_BIN}" >&2
    exit 1
fi
export PATH="${VENV_BIN}:${PATH}"

collections_dir="$(mktemp -d "${TMPDIR:-/tmp}/fleetops-lint.XXXXXX")"
trap 'rm -rf "${collections_dir}"' EXIT
mkdir -p "${collections_dir}/ansible_collections/fleetops"
ln -s "${REPO_ROOT}" "${collections_dir}/ansible_collections/fleetops/release"
export ANSIBLE_COLLECTIONS_PATH="${collections_dir}"

color_args=()
if [[ ! -t 1 ]]; then
    color_args=(--nocolor)
fi

cd "${REPO_ROOT}"
printf 'lint: ansible-lint --profile production --offline (ANSIBLE_COLLECTIONS_PATH=%s)\n' "${ANSIBLE_COLLECTIONS_PATH}"
ansible-lint --profile production --offline "${color_args[@]}" "$@"

#!/usr/bin/env bash
# Run `ansible-test sanity` (the default set of tests) on the collection, offline, without Docker.
#
# ansible-test needs the collection under .../ansible_collections/fleetops/release/, so this script
# copies the collection's files (tracked + untracked-but-not-ignored, as git lists them) to
# build/ansible_collections/fleetops/release/ and runs there. The copy gets its own `git init`:
# build/ is ignored by this repository, and ansible-test would otherwise ask the outer repository
# which files exist and get none.
#
# Options:  --copy-only   only refresh the copy and print its path (used by scripts/lint.sh)
#           any other argument is passed to `ansible-test sanity` (e.g. --test pep8)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${REPO_ROOT}/.venv/bin"
# SANITY_ROOT lets parallel runs use separate copies (default: build/ in the checkout).
COLLECTIONS_ROOT="${SANITY_ROOT:-${REPO_ROOT}/build}"
COPY="${COLLECTIONS_ROOT}/ansible_collections/fleetops/release"
PYTHON_VERSION=3.11

log() {
    printf 'sanity: %s\n' "$*" >&2
}

if [[ ! -x "${VENV_BIN}/ansible-test" ]]; then
    log "${VENV_BIN}/ansible-test not found: run 'make deps' (scripts/bootstrap.sh) first"
    exit 1
fi
export PATH="${VENV_BIN}:${PATH}"

# --- 1. the copy -----------------------------------------------------------------------------------
build_copy() {
    local file_list
    file_list="$(mktemp)"
    # NUL-separated list of files that exist (git lists deleted-but-tracked files too), minus the
    # directories that never belong to the collection.
    git -C "${REPO_ROOT}" ls-files -z --cached --others --exclude-standard \
        | "${VENV_BIN}/python" -c '
import os, sys
skip = (".venv/", "build/", "dist/", "tests/output/", ".git/")
names = sorted(set(n for n in sys.stdin.buffer.read().decode().split("\0") if n))
for name in names:
    if name.startswith(skip) or not os.path.lexists(name):
        continue
    sys.stdout.write(name + "\0")
' > "${file_list}"

    # A fresh copy every time, except tests/output/: ansible-test keeps the virtualenv it delegates to
    # there (tests/output/.tmp/delegation), and reusing it saves a pip bootstrap on every run.
    local kept_output="${COLLECTIONS_ROOT}/.sanity-output.keep"
    rm -rf "${kept_output}"
    if [[ -d "${COPY}/tests/output" ]]; then
        mv "${COPY}/tests/output" "${kept_output}"
    fi
    rm -rf "${COPY}"
    mkdir -p "${COPY}"
    rsync -a --from0 --files-from="${file_list}" "${REPO_ROOT}/" "${COPY}/"
    rm -f "${file_list}"
    if [[ -d "${kept_output}" ]]; then
        mkdir -p "${COPY}/tests"
        mv "${kept_output}" "${COPY}/tests/output"
    fi
    git -C "${COPY}" init -q
    log "copied $(git -C "${COPY}" ls-files --others --exclude-standard | wc -l) files to ${COPY}"
}

# ls-files runs with the repository root as working directory, so the python filter above resolves
# the relative names correctly.
cd "${REPO_ROOT}"
build_copy

if [[ "${1:-}" == "--copy-only" ]]; then
    printf '%s\n' "${COPY}"
    exit 0
fi

# --- 2. the get-pip stand-in ------------------------------------------------------------------------
# ansible-test bootstraps pip in each of its virtualenvs with a get-pip script that it downloads
# unless ~/.ansible/test/cache/get_pip_<pip version with _ for .>.py exists. This machine cannot reach
# that download. The stand-in installs pip from the interpreter's bundled wheel (ensurepip) and then
# the requested packages (pip==<version>) from the configured package index.
provide_get_pip_stand_in() {
    local pip_version cache_file
    pip_version="$("${VENV_BIN}/python" - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages


class _Python:  # stands in for ansible-test's PythonConfig, only .version is read
    version = "3.11"


print(get_venv_packages(_Python())["pip"])
EOF
)"
    cache_file="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    if [[ -f "${cache_file}" ]]; then
        log "get-pip: using ${cache_file}"
        return 0
    fi
    mkdir -p "$(dirname "${cache_file}")"
    cat > "${cache_file}" <<'EOF'
"""Offline stand-in for get-pip.py, written by fleetops.release scripts/sanity.sh.

ansible-test runs it as `python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools
--no-wheel` in a fresh virtualenv. It installs pip with ensurepip, then the requested packages with that
pip (from the configured package index), leaving out the get-pip-only options.
"""
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    main()
EOF
    log "get-pip: wrote the offline stand-in ${cache_file}"
}
provide_get_pip_stand_in

# --- 3. no ignore entries ---------------------------------------------------------------------------
ignore_entries="$(cat "${COPY}"/tests/sanity/ignore-*.txt 2>/dev/null | grep -Ev '^[[:space:]]*(#|$)' || true)"

# --- 4. run ------------------------------------------------------------------------------------------
log_file="$(mktemp)"
trap 'rm -f "${log_file}"' EXIT
cd "${COPY}"
log "running: ansible-test sanity --venv --python ${PYTHON_VERSION} --color no $*"
rc=0
ansible-test sanity --venv --python "${PYTHON_VERSION}" --color no "$@" 2>&1 | tee "${log_file}" || rc=$?

echo
echo "=== sanity tests that ran ==="
sed -nE 's/^Running sanity test "([^"]+)".*/  \1/p' "${log_file}" | grep . || echo "  (none)"
if grep -qE '^FATAL: The [0-9]+ sanity test\(s\) listed below' "${log_file}"; then
    echo "=== sanity tests that failed ==="
    sed -nE '/^FATAL: The [0-9]+ sanity test\(s\) listed below/,/^FATAL: Command/{/^FATAL/d;s/^/  /;p}' "${log_file}"
fi
if [[ -n "${ignore_entries}" ]]; then
    echo "=== FAIL: tests/sanity/ignore-*.txt has entries; this collection must pass without them ==="
    printf '%s\n' "${ignore_entries}" | sed 's/^/  /'
    [[ "${rc}" -ne 0 ]] || rc=1
fi
if [[ "${rc}" -eq 0 ]]; then
    echo "sanity: PASSED"
else
    echo "sanity: FAILED (exit ${rc})"
fi
exit "${rc}"

#!/usr/bin/env bash
# Install everything this repository needs on a fresh Debian 12, as root. Idempotent and quick when
# nothing changed: apt is skipped entirely when all packages are installed, and the virtualenv install
# is skipped while requirements.txt is unchanged since the last successful install.
#
# It never starts a service: while apt runs, /usr/sbin/policy-rc.d answers 101 ("action forbidden"),
# so installing openssh-server/haproxy/nginx starts no daemon (in particular no sshd on 0.0.0.0:22).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPO_ROOT}/.venv"
REQUIREMENTS="${REPO_ROOT}/requirements.txt"
STAMP="${VENV}/.requirements.sha256"
POLICY_RC_D=/usr/sbin/policy-rc.d

APT_PACKAGES=(
    openssh-server openssh-client haproxy socat nginx-light sudo
    python3 python3-venv python3-pip
    iproute2 util-linux rsync git make curl ca-certificates
    shellcheck prometheus
    postgresql sqitch libdbd-pg-perl
)

log() {
    printf 'bootstrap: %s\n' "$*"
}

created_policy_rc_d=0

cleanup() {
    if [[ "${created_policy_rc_d}" -eq 1 ]]; then
        rm -f "${POLICY_RC_D}"
        log "removed the temporary ${POLICY_RC_D}"
    fi
}
trap cleanup EXIT

missing_apt_packages() {
    local pkg status
    for pkg in "${APT_PACKAGES[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "${pkg}" 2>/dev/null || true)"
        if [[ "${status}" != "installed" ]]; then
            printf '%s\n' "${pkg}"
        fi
    done
}

install_apt_packages() {
    local -a missing
    mapfile -t missing < <(missing_apt_packages)
    if [[ "${#missing[@]}" -eq 0 ]]; then
        log "system packages: all ${#APT_PACKAGES[@]} installed, skipping apt"
        return 0
    fi
    if [[ "${EUID}" -ne 0 ]]; then
        log "missing system packages (${missing[*]}); run this script as root" >&2
        exit 1
    fi
    log "system packages missing: ${missing[*]}"

    if [[ ! -e "${POLICY_RC_D}" ]]; then
        printf '#!/bin/sh\n# Installed by fleetops.release scripts/bootstrap.sh: start no service.\nexit 101\n' \
            > "${POLICY_RC_D}"
        chmod 0755 "${POLICY_RC_D}"
        created_policy_rc_d=1
        log "installed a temporary ${POLICY_RC_D} (exit 101)"
    else
        log "keeping the existing ${POLICY_RC_D}"
    fi

    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"

    cleanup
    created_policy_rc_d=0
}

venv_is_healthy() {
    [[ -x "${VENV}/bin/python" ]] && "${VENV}/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null
}

install_venv() {
    local want have=""
    if [[ -d "${VENV}" ]] && ! venv_is_healthy; then
        log "${VENV} is broken or too old, recreating it"
        rm -rf "${VENV}"
    fi
    if [[ ! -d "${VENV}" ]]; then
        log "creating ${VENV} with $(command -v python3) ($(python3 --version 2>&1))"
        python3 -m venv "${VENV}"
    fi

    want="$(sha256sum "${REQUIREMENTS}" | cut -d' ' -f1)"
    if [[ -f "${STAMP}" ]]; then
        have="$(cat "${STAMP}")"
    fi
    if [[ "${want}" == "${have}" ]]; then
        log "python packages: requirements.txt unchanged since the last install, skipping pip"
        return 0
    fi

    log "installing requirements.txt into ${VENV}"
    rm -f "${STAMP}"
    "${VENV}/bin/python" -m pip install --no-input --disable-pip-version-check -r "${REQUIREMENTS}"
    "${VENV}/bin/python" -m pip check
    printf '%s\n' "${want}" > "${STAMP}"
    log "python packages installed ($("${VENV}/bin/ansible" --version | head -n 1))"
}

install_apt_packages
install_venv
log "done"

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""deploy.yml interrupted with kill -9 in the middle of a wave, then re-run; and a deploy limited to one region.

The module deploys its own releases (k-*) on top of the session's base state (every host on base-2, conftest.py on_base).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fleetlib

from test_release_lifecycle import DEPLOY, currents, deploy, health, names
from test_waves import lb_statuses, plan, summary

pytestmark = pytest.mark.fleet

RELEASES = ("k-2", "k-3")


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in RELEASES}


def complete_release(fleet, name):
    """The release the host's current symlink points at, checked complete (its manifest and code are there)."""
    link = fleet.host_path(name, "/srv/app/current")
    target = os.readlink(link)
    release = os.path.basename(target)
    root = fleet.host_path(name, "/srv/app/releases/" + release)
    manifest = json.loads((root / ".fleet-release.json").read_text())
    assert manifest["id"] == release and (root / "app.py").exists(), (name, release)
    return release


def start_deploy(fleet, releases, release_id, extra_vars):
    """ansible-playbook deploy.yml in its own process group, so the test can kill -9 all of it."""
    path, sha = releases[release_id]
    extra = {"fleet_release": release_id, "fleet_artifact": str(path), "fleet_artifact_sha256": sha, **extra_vars}
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ.get("PATH", "")))
    log = open(fleet.state_dir / "killed-deploy.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [str(bin_dir / "ansible-playbook"), "-i", str(fleet.inventory), "-e", json.dumps(extra), DEPLOY],
        cwd=str(Path(DEPLOY).parent.parent), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def hold_in_wave_two_hook(tmp_path):
    """A before-switch hook that touches ``<tmp_path>/drained`` once wave 2 is drained, then waits to be killed."""
    hook = tmp_path / "before_switch.yml"
    hook.write_text(
        "- name: Tell the test that wave 2 is drained\n"
        "  ansible.builtin.file: {path: \"%(dir)s/drained\", state: touch}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 2\n"
        "- name: Wait to be killed\n"
        "  ansible.builtin.wait_for: {path: \"%(dir)s/never\", timeout: 120}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 2\n" % {"dir": tmp_path})
    return hook


def kill_deploy_in_wave_two(fleet, releases, release_id, tmp_path, extra_vars=None):
    """deploy.yml held in wave 2 after its hosts were drained and before they switch, then killed with kill -9 of it
    and every descendant; returns the killed process."""
    hook = hold_in_wave_two_hook(tmp_path)
    proc, log = start_deploy(fleet, releases, release_id, {"fleet_hook_before_switch": str(hook), **(extra_vars or {})})
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "drained").exists():
            assert proc.poll() is None and time.monotonic() < deadline, (fleet.state_dir / "killed-deploy.log").read_text()
            time.sleep(0.2)
        time.sleep(1)
    finally:
        fleetlib.kill_tree(proc.pid)
        proc.wait(timeout=30)
        log.close()
    return proc


def test_kill_9_in_the_middle_of_a_wave_leaves_complete_releases_and_a_rerun_converges(fleet, releases, on_base, tmp_path):
    waves = plan(fleet)
    wave_two = waves[1]["hosts"]
    # Held in wave 2 after its hosts were drained and before they switch: the worst moment to lose the controller.
    kill_deploy_in_wave_two(fleet, releases, "k-2", tmp_path)

    # Every host is on a complete release and answers on it: wave 1 on k-2, the rest still on the base release.
    for name in names(fleet):
        release = complete_release(fleet, name)
        assert release == ("k-2" if name in waves[0]["hosts"] else on_base), (name, release)
        assert health(fleet, name)["release"] == release
    drained = {server for server, status in lb_statuses(fleet).items() if status != "UP"}
    assert drained and drained <= set(wave_two), drained

    # The same command again converges: the killed run's process is gone from this controller, so the next run breaks
    # its locks itself and says so (no break option needed).
    proc, out = deploy(fleet, releases, "k-2")
    assert re.search(r"the lock of run \d{8}T\d{6}Z-\d+ held by pid \d+ on \S+ was broken: that process is gone", out), out
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"k-2"}
    assert {health(fleet, name)["release"] for name in names(fleet)} == {"k-2"}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert not any(fleet.host_path(name, "/srv/app/.fleet/lock").exists() for name in names(fleet))
    # The drained wave-2 hosts that the dead run never switched were put back in the plan and switched now.
    assert all(summary(out)[name]["outcome"] == "switched" for name in wave_two), out


def test_a_deploy_limited_to_one_region_plans_and_checks_exactly_its_hosts(fleet, releases, on_base):
    region = fleet.regions[0]
    members = [host.name for host in fleet.hosts_in(region)]
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "k-3", limit=region)
    assert proc.returncode == 0, out
    assert "limited to: %s" % region in out and "limited to %s" % region in out, out
    rows = summary(out)
    assert set(rows) == set(members), rows
    assert {row["outcome"] for row in rows.values()} == {"switched"}, rows
    after = currents(fleet)
    assert {after[name] for name in members} == {"k-3"}
    assert {name: after[name] for name in names(fleet) if name not in members} == {
        name: before[name] for name in names(fleet) if name not in members}
    assert set(lb_statuses(fleet).values()) == {"UP"}

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Recovery after a fault leaves the fleet whole (issue 14, section 5).

- rollback.yml killed with kill -9 at moments spread over the run, then the re-run the product advises: rc 0, every
  host's ``current`` complete, every host on the same release and in rotation in HAProxy.
- (A deploy that lost a host, left drained, shown by status.yml and put back in rotation by the advised re-run: in
  test_waves.py.)
- deploy.yml killed with kill -9 in the middle of its waves (some hosts on the new release), then ONE rollback.yml
  without a named release: every host back where the killed run found it.

The module builds its own releases (rf-*) on top of the session's base state (base-1, base-2; conftest.py on_base): a
ladder of releases so that each trial has one to go back to. It runs on one region of the fleet (conftest.py
one_region: 4 hosts, waves of 1, 1 and 2, so every kill point still falls in a wave): what a kill -9 leaves on a host,
and the one command that converges, do not depend on how many regions there are, and its nine runs cost a third of
the hosts.
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

from test_release_lifecycle import DEPLOY, ROLLBACK, deploy, health, names, play
from test_waves import hold_in_wave_two_hook, lb_statuses, plan, summary

pytestmark = pytest.mark.fleet

# The ladder above the base releases (base-1, base-2), in ledger order: each kill trial goes one step down.
LADDER = ("rf-2", "rf-3", "rf-4")
LATER = ("rf-5",)
KEEP = {"fleet_keep_releases": 10}
LOCK = "/srv/app/.fleet/lock"
FLEET_LOCK = "/srv/fleetops/fleet.lock"

# Where each trial kills rollback.yml: the n-th time a task starts in its output, then a pause. Spread over the run:
# a wave's drain, a later batch's switch, an enable, and the close (audit record, fleet lock) at the end.
KILL_POINTS = (
    ("Set each region's load balancer members to drain", 1, 0.5),
    ("Put the release live", 2, 1.0),
    ("Set each region's load balancer members to ready", 3, 0.2),
    ("Write the run's audit record", 1, 0.1),
)


# -- helpers ------------------------------------------------------------------------------------------------------

def complete_release(fleet, name):
    """The release the host's ``current`` points at, checked complete (its manifest and code are there)."""
    target = os.readlink(fleet.host_path(name, "/srv/app/current"))
    release = os.path.basename(target)
    root = fleet.host_path(name, "/srv/app/releases/" + release)
    manifest = json.loads((root / ".fleet-release.json").read_text())
    assert manifest["id"] == release and (root / "app.py").exists(), (name, release)
    return release


def assert_whole(fleet, release):
    """Every host on ``release`` (complete, answering on it), in rotation in HAProxy, without a lock."""
    assert {name: complete_release(fleet, name) for name in names(fleet)} == dict.fromkeys(names(fleet), release)
    assert {name: health(fleet, name)["release"] for name in names(fleet)} == dict.fromkeys(names(fleet), release)
    statuses = lb_statuses(fleet)
    assert set(statuses) == set(names(fleet)) and set(statuses.values()) == {"UP"}, statuses
    assert not [name for name in names(fleet) if fleet.host_path(name, LOCK).exists()]


def held_run_ids(fleet):
    """Run ids of the locks left on the fleet (hosts' locks and the fleet-wide lock)."""
    found = set()
    for name in names(fleet):
        for path in (LOCK, FLEET_LOCK):
            lock = fleet.host_path(name, path)
            if lock.exists():
                found.add(json.loads(lock.read_text()).get("run_id"))
    return found - {None}


def killed(fleet, playbook, extra_vars, log_path, marker, nth, pause, hook_file=None):
    """Start ``playbook`` in its own process group and kill -9 all of it (every descendant) ``pause`` seconds after the ``nth`` start of
    task ``marker`` in its output (or once ``hook_file`` exists). Returns the output up to the kill."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ.get("PATH", "")))
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [str(bin_dir / "ansible-playbook"), "-i", str(fleet.inventory), "-e", json.dumps(extra_vars), playbook],
            cwd=str(Path(playbook).parent.parent), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 240
            while True:
                text = Path(log_path).read_text()
                if hook_file is not None and hook_file.exists():
                    break
                if marker and len(re.findall(r"TASK \[[^\]]*: %s" % re.escape(marker), text)) >= nth:
                    break
                assert proc.poll() is None, "the run ended before the kill point %r #%d:\n%s" % (marker, nth, text[-3000:])
                assert time.monotonic() < deadline, text[-3000:]
                time.sleep(0.05)
            time.sleep(pause)
        finally:
            fleetlib.kill_tree(proc.pid)
            proc.wait(timeout=30)
    return Path(log_path).read_text()


def advised_rerun(fleet, playbook, extra_vars):
    """The re-run the product advises after a killed run: the same command, nothing more. The killed run's locks name
    its ansible-playbook process on this controller, which is gone, so the run breaks them itself and says so."""
    ids = held_run_ids(fleet)
    assert len(ids) <= 1, ids
    proc, out = play(fleet, playbook, extra_vars=dict(extra_vars))
    for run_id in ids:
        assert re.search(r"the lock of run %s held by pid \d+ on \S+ was broken: that process is gone" % re.escape(run_id), out), out
    return proc, out


# -- fixtures -------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in LADDER + LATER}


@pytest.fixture(scope="module", name="ladder")
def fixture_ladder(one_region, releases, on_base, base_artifacts):
    fleet = one_region  # one region: see the module docstring
    """Every host on rf-4, with base-1, base-2, rf-2 and rf-3 installed before it (in ledger order), in rotation; returns
    that ladder of releases, oldest first."""
    assert set(complete_release(fleet, name) for name in names(fleet)) == {on_base}
    for release_id in LADDER[:-1]:
        path, sha = releases[release_id]
        results, proc = fleet.ansible_module("fleet", "fleetops.release.release", {
            "app_root": "/srv/app", "release": release_id, "artifact": str(path), "sha256": sha})
        assert not any(result.get("failed") for result in results.values()), proc.stdout
    proc, out = deploy(fleet, releases, "rf-4", extra_vars=KEEP)
    assert proc.returncode == 0, out
    assert_whole(fleet, "rf-4")
    return tuple(base_artifacts) + LADDER


# -- tests ------------------------------------------------------------------------------------------------------------

def test_kill_9_of_rollback_then_the_advised_rerun_leaves_every_host_whole_and_in_rotation(one_region, releases, ladder, tmp_path):
    fleet = one_region  # one region: see the module docstring
    started = time.monotonic()
    for trial, (marker, nth, pause) in enumerate(KILL_POINTS):
        source, target = ladder[-1 - trial], ladder[-2 - trial]
        assert_whole(fleet, source)
        command = {"fleet_release": target, "fleet_reason": "trial %d" % trial}
        out = killed(fleet, ROLLBACK, command, tmp_path / ("killed-%d.log" % trial), marker, nth, pause)
        proc, rerun = advised_rerun(fleet, ROLLBACK, command)
        context = "trial %d (killed at %r #%d + %.1f s):\n%s\n--- re-run:\n%s" % (trial, marker, nth, pause, out[-4000:], rerun)
        assert proc.returncode == 0, context
        try:
            assert_whole(fleet, target)
        except AssertionError as exc:
            raise AssertionError("%s\n%s" % (exc, context)) from exc
    assert time.monotonic() - started < 240


# A deploy that lost a host leaves it drained, status.yml shows it, and the advised re-run puts it back in rotation:
# test_waves.py::test_unreachable_host_in_wave_two_stops_reverts_status_shows_it_and_the_advised_rerun_converges (the
# two tests each paid for a deploy that loses a host; one does it now).


def test_one_rollback_after_a_killed_deploy_returns_each_host_where_that_run_found_it(one_region, releases, ladder, tmp_path):
    fleet = one_region  # one region: see the module docstring
    old = complete_release(fleet, names(fleet)[0])
    assert_whole(fleet, old)
    waves = plan(fleet)
    # Held in wave 2 after its hosts were drained and before they switch: wave 1 is on the new release by then.
    hook = hold_in_wave_two_hook(tmp_path)
    path, sha = releases["rf-5"]
    command = {"fleet_release": "rf-5", "fleet_artifact": str(path), "fleet_artifact_sha256": sha, "fleet_hook_before_switch": str(hook), **KEEP}
    killed(fleet, DEPLOY, command, tmp_path / "killed-deploy.log", None, 0, 1.0, hook_file=tmp_path / "drained")
    mixed = {name: complete_release(fleet, name) for name in names(fleet)}
    assert {name for name, release in mixed.items() if release == "rf-5"} == set(waves[0]["hosts"]), mixed
    (run_id,) = held_run_ids(fleet)

    # ONE rollback, without a named release and without any option to break the dead run's locks.
    proc, out = advised_rerun(fleet, ROLLBACK, {})
    assert proc.returncode == 0, out
    assert "undoes the interrupted run %s" % run_id in out, out
    rows = summary(out)
    assert {name for name, row in rows.items() if row["outcome"] == "switched"} == set(waves[0]["hosts"]), out
    assert all((row["from"], row["to"]) == ("rf-5", old) for name, row in rows.items() if name in waves[0]["hosts"]), rows
    assert_whole(fleet, old)

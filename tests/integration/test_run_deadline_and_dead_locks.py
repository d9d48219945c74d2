# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Issue 14: a run's deadline (fleet_run_timeout) ends a stuck deploy, reverts it and unlocks (section 3); and the
lock of a run whose ansible-playbook process was killed is broken by the next run itself (section 5).

The module deploys its own releases (d-*) on top of the session's base state (every host on base-2, conftest.py on_base),
on one region of the fleet (conftest.py one_region: 4 hosts, waves of 1, 1 and 2): a deadline and the locks of a dead
run are the same on 4 hosts as on 12, and each run costs a third of the hosts.
"""

from __future__ import annotations

import json
import time

import pytest

from test_release_lifecycle import currents, deploy, health, names
from test_recovery_after_faults import complete_release
from test_waves import kill_deploy_in_wave_two, lb_statuses, plan, run_lines, summary

pytestmark = pytest.mark.fleet

RELEASES = ("d-2", "d-3")
# The deadline of the stuck run: long enough for its preflight to reach wave 1 on 4 hosts of a loaded machine (about
# 6 s, 25 s seen under heavy load), short enough not to wait for nothing (it was 90 s, then 60 s); the hook then holds
# wave 1 until it has passed.
RUN_TIMEOUT = 40
HOST_LOCK = "/srv/app/.fleet/lock"
FLEET_LOCK = "/srv/fleetops/fleet.lock"


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in RELEASES}


def locks_left(fleet):
    held = [name for name in names(fleet) if fleet.host_path(name, HOST_LOCK).exists()]
    return held + (["fleet lock"] if fleet.host_path(names(fleet)[0], FLEET_LOCK).exists() else [])


def test_a_run_past_its_deadline_starts_no_further_batch_reverts_and_unlocks(one_region, releases, on_base, tmp_path):
    fleet = one_region  # one region: see the module docstring
    waves = plan(fleet)
    # Wave 1 is held until the run's deadline has passed: a run that got stuck between two batches.
    hook = tmp_path / "before_switch.yml"
    hook.write_text(
        "- name: Hold wave 1 until the run's deadline has passed\n"
        "  ansible.builtin.wait_for:\n"
        "    timeout: \"{{ [1, (hostvars.localhost.fleet_run_report.started | float + fleet_run_timeout | int\n"
        "                 - now().timestamp() + 2) | int] | max }}\"\n"
        "  delegate_to: localhost\n"
        "  run_once: true\n"
        "  when: fleet_batch.wave == 1\n")
    started = time.monotonic()
    proc, out = deploy(fleet, releases, "d-2", extra_vars={"fleet_run_timeout": RUN_TIMEOUT, "fleet_hook_before_switch": str(hook)})
    assert proc.returncode != 0, out
    assert "the run passed its deadline: fleet_run_timeout=%d s" % RUN_TIMEOUT in out, out
    rows = summary(out)
    # Wave 1 switched before the deadline and went back; no later batch started.
    assert {rows[name]["outcome"] for name in waves[0]["hosts"]} == {"reverted"}, rows
    assert {rows[name]["outcome"] for name in names(fleet) if name not in waves[0]["hosts"]} == {"not started"}, rows
    assert set(currents(fleet).values()) == {on_base}
    assert {health(fleet, name)["release"] for name in names(fleet)} == {on_base}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert not locks_left(fleet)
    assert time.monotonic() - started < 600
    # No deadline (fleet_run_timeout=0) lets a run go through: the converging re-run of the last test below runs so.


def test_a_bad_run_timeout_is_refused_before_any_change(one_region, releases, on_base):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "d-3", extra_vars={"fleet_run_timeout": "soon"})
    assert proc.returncode != 0 and "fleet_run_timeout is 'soon': it must be a whole number of 0 or more" in out, out
    assert "refused before any change; nothing was changed" in out, out
    assert currents(fleet) == before and not locks_left(fleet)


def test_the_locks_of_a_run_whose_process_was_killed_are_broken_by_the_next_run(one_region, releases, on_base, tmp_path):
    fleet = one_region  # one region: see the module docstring
    waves = plan(fleet)
    start_from = currents(fleet)
    old = next(iter(set(start_from.values())))
    new = "d-3" if old != "d-3" else "d-2"
    # Held in wave 2 after its hosts were drained and before they switch, then the whole run is killed (kill -9).
    proc = kill_deploy_in_wave_two(fleet, releases, new, tmp_path)

    # (Merged from test_waves_recovery.py's kill -9 in the middle of a wave, which paid for a 12-host deploy, a kill and
    # a re-run of its own.) Every host is on a complete release and answers on it: wave 1 on the new release, the rest
    # still on the old one; only wave 2's hosts are out of rotation.
    for name in names(fleet):
        release = complete_release(fleet, name)
        assert release == (new if name in waves[0]["hosts"] else start_from[name]), (name, release)
        assert health(fleet, name)["release"] == release
    drained = {server for server, status in lb_statuses(fleet).items() if status != "UP"}
    assert drained and drained <= set(waves[1]["hosts"]), drained

    # The dead run left its locks, each naming its process: this controller and the ansible-playbook pid that is gone.
    fleet_lock = json.loads(fleet.host_path(names(fleet)[0], FLEET_LOCK).read_text())
    assert fleet_lock["process"]["pid"] == proc.pid and fleet_lock["process"]["start"], fleet_lock
    killed = fleet_lock["run_id"]
    # Wave 1's hosts are done: their activation released their locks and wrote their run lines. Every other host is
    # still locked by the dead run.
    done = set(waves[0]["hosts"])
    assert done and all(not fleet.host_path(name, HOST_LOCK).exists() for name in done)
    assert all(run_lines(fleet, name)[-1]["run_id"] == killed for name in done)
    assert all(fleet.host_path(name, HOST_LOCK).exists() for name in names(fleet) if name not in done)

    # One command, no break option: the next run breaks the dead run's locks itself, says so, and converges. It runs
    # without a deadline (fleet_run_timeout=0; the first test of the module did the deadline), which lets it through.
    proc, out = deploy(fleet, releases, new, extra_vars={"fleet_run_timeout": 0})
    assert proc.returncode == 0, out
    assert "the lock of run %s held by pid %d on" % (killed, fleet_lock["process"]["pid"]) in out, out
    assert "was broken: that process is gone" in out
    assert set(currents(fleet).values()) == {new}
    assert {health(fleet, name)["release"] for name in names(fleet)} == {new}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert not locks_left(fleet)
    assert all(summary(out)[name]["outcome"] == "switched" for name in waves[1]["hosts"]), out
    # The breaks are in the run's audit record: the fleet-wide lock and every host's lock of the dead run.
    audit = [json.loads(line) for path in sorted((fleet.state_dir / "audit").glob("*.jsonl"))
             for line in path.read_text().splitlines() if line.strip()]
    [record] = [record for record in audit if any(lock.get("run_id") == killed for lock in record.get("locks_broken") or [])]
    assert record["status"] == "ok" and len(record["locks_broken"]) == len(names(fleet)) - len(done) + 1, record["locks_broken"]
    assert all("that process is gone" in lock.get("broken_because", "") for lock in record["locks_broken"])

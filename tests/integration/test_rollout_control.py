# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Steering a running rollout (issue 19): a deploy with fleet_wave_pause=manual holds after wave 1 (status.yml shows
it), promote.yml from another process lets it run to the end, abort.yml from another process makes it revert the
canaries, a pause that times out aborts, and promote/abort without a paused run are refused with nothing changed.
Requests go through the region's HAProxy throughout, the pauses included, and none fails.

Starts from the session's base state (every host on base-2, conftest.py on_base) and deploys its own releases (rc-*).
One region (conftest.py one_region, its own fleet-wide lock and control record on its first host): steering does not
depend on the number of regions, and each run then costs what 4 hosts cost instead of 12.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from load import RequestLoad
from test_release_lifecycle import DEPLOY, currents, names, play
from test_waves import assert_load_clean, health_releases, lb_statuses, lb_urls, plan, start_deploy, summary

pytestmark = pytest.mark.fleet

PLAYBOOKS = os.path.dirname(DEPLOY)
PROMOTE = os.path.join(PLAYBOOKS, "promote.yml")
ABORT = os.path.join(PLAYBOOKS, "abort.yml")
STATUS = os.path.join(PLAYBOOKS, "status.yml")
# Hold after the canaries only; read the control record every 2 s so that the test does not wait long for a decision.
MANUAL = {"fleet_wave_pause": {"1": "manual"}, "fleet_wave_pause_poll": 2, "fleet_allow_bad_release": True}
CONTROL = "/srv/fleetops/fleet.control"  # next to the test inventory's fleet_lock_path


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet, base_artifacts):
    built = dict(base_artifacts)
    built.update({release_id: fleet.build_release(release_id) for release_id in ("rc-1", "rc-2", "rc-3")})
    return built


def lock_host(fleet):
    return names(fleet)[0]  # the first host of the fleet group (fleet_lock_host's default)


def control_record(fleet):
    path = fleet.host_path(lock_host(fleet), CONTROL)
    return json.loads(path.read_text()) if path.exists() else None


def audit_records(fleet, run_id):
    lines = []
    for path in sorted((fleet.state_dir / "audit").glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line.get("run_id") == run_id]


def wait_paused(fleet, proc, log_path, timeout=180):
    """The control record once the deploy holds (state paused); fails when the deploy ends first."""
    deadline = time.monotonic() + timeout
    while True:
        record = control_record(fleet)
        if record and record.get("state") == "paused" and proc.poll() is None:
            lock = json.loads(fleet.host_path(lock_host(fleet), "/srv/fleetops/fleet.lock").read_text())
            if lock.get("run_id") == record["run_id"]:
                return record
        assert proc.poll() is None and time.monotonic() < deadline, Path(log_path).read_text()
        time.sleep(0.5)


def finish(proc, log, timeout=300):
    proc.wait(timeout=timeout)
    log.close()
    return proc.returncode, Path(log.name).read_text()


def start(fleet, releases, release_id, extra=None):
    proc, log = start_deploy(fleet, releases, release_id, dict(MANUAL, **(extra or {})))
    return proc, log


def status_json(fleet, tmp_path):
    path = tmp_path / "status.json"
    proc, out = play(fleet, STATUS, extra_vars={"fleet_status_file": str(path)})
    assert proc.returncode == 0, out
    return json.loads(path.read_text()), out


def test_paused_deploy_shows_in_status_and_promote_runs_it_to_the_end(one_region, releases, on_base, tmp_path):
    fleet = one_region  # one region: see the module docstring
    canaries = plan(fleet)[0]["hosts"]
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, log = start(fleet, releases, "rc-1")
        try:
            record = wait_paused(fleet, proc, log.name)
            assert record["wave"] == 1 and record["release"] == "rc-1" and record["operation"] == "deploy"
            # Held after wave 1: the canaries run rc-1, the others base-2, and every server is in rotation.
            now = currents(fleet)
            assert {name for name, release in now.items() if release == "rc-1"} == set(canaries), now
            assert {now[name] for name in names(fleet) if name not in canaries} == {on_base}
            assert set(lb_statuses(fleet).values()) == {"UP"}

            status, out = status_json(fleet, tmp_path)
            rollout = status["rollout"]
            assert rollout["paused"] and rollout["run_id"] == record["run_id"] and rollout["wave"] == 1, rollout
            assert rollout["started_by"] and rollout["since"] == record["since"], rollout
            assert "promote.yml" in rollout["how_to_continue"] and "PAUSED: deploy run %s" % record["run_id"] in out, out
            # Still paused a few polls later: nothing moves on its own.
            time.sleep(5)
            assert proc.poll() is None and currents(fleet) == now

            promoted, out = play(fleet, PROMOTE, extra_vars={"fleet_reason": "canaries look fine"})
            assert promoted.returncode == 0, out
            code, out = finish(proc, log)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, out
    assert_load_clean(load)
    assert "pause after wave 1 ended" in out and "promote (operator" in out, out
    assert set(currents(fleet).values()) == {"rc-1"} and set(health_releases(fleet).values()) == {"rc-1"}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert control_record(fleet)["state"] == "promoted"
    records = audit_records(fleet, record["run_id"])
    request = [line for line in records if line.get("event") == "promote after wave 1"]
    assert len(request) == 1 and request[0]["reason"] == "canaries look fine" and request[0]["actor"], records
    run = [line for line in records if line.get("event", "run") == "run"][-1]
    assert run["status"] == "ok" and run["pauses"][0]["decision"] == "promote" and run["paused_seconds"] >= 5, run
    # Not paused any more: status says so.
    assert not status_json(fleet, tmp_path)[0]["rollout"]["paused"]


def test_abort_reverts_the_canaries_and_refusals_change_nothing(one_region, releases, on_base, tmp_path):  # pylint: disable=unused-argument
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    assert set(before.values()) == {"rc-1"}, before
    canaries = plan(fleet)[0]["hosts"]
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, log = start(fleet, releases, "rc-2")
        try:
            record = wait_paused(fleet, proc, log.name)
            # An abort needs a reason: refused, and the run stays paused.
            refused, out = play(fleet, ABORT)
            assert refused.returncode != 0 and "abort needs a reason" in out, out
            assert control_record(fleet) == record
            # A promote of another run: refused too.
            refused, out = play(fleet, PROMOTE, extra_vars={"fleet_paused_run": "20200101T000000Z-1"})
            assert refused.returncode != 0 and "not run 20200101T000000Z-1" in out, out
            assert control_record(fleet) == record

            aborted, out = play(fleet, ABORT, extra_vars={"fleet_reason": "p99 latency up on the canaries"})
            assert aborted.returncode == 0, out
            code, out = finish(proc, log)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code != 0, out
    assert_load_clean(load)
    # The same revert as after a failed gate: the canaries went back, the others were never touched, all in rotation.
    assert re.search(r"aborted by \S+ after wave 1: p99 latency up on the canaries", out), out
    rows = summary(out)
    assert {name for name, row in rows.items() if row["outcome"] == "reverted"} == set(canaries), rows
    assert currents(fleet) == before and set(health_releases(fleet).values()) == {"rc-1"}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    assert control_record(fleet)["state"] == "aborted"
    records = audit_records(fleet, record["run_id"])
    assert [line["reason"] for line in records if line.get("event") == "abort after wave 1"] == ["p99 latency up on the canaries"]
    assert [line["status"] for line in records if line.get("event", "run") == "run"] == ["failed"]

    # No paused run now: promote and abort are refused, and nothing changes (the record, the hosts, the audit trail).
    kept, audit_before = control_record(fleet), audit_records(fleet, record["run_id"])
    for playbook, extra in ((PROMOTE, {}), (ABORT, {"fleet_reason": "late"})):
        refused, out = play(fleet, playbook, extra_vars=extra)
        assert refused.returncode != 0 and "no run is paused" in out, out
    assert control_record(fleet) == kept and currents(fleet) == before
    assert audit_records(fleet, record["run_id"]) == audit_before


def test_a_pause_that_times_out_aborts(one_region, releases, on_base):  # pylint: disable=unused-argument
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    canaries = plan(fleet)[0]["hosts"]
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, log = start(fleet, releases, "rc-3", {"fleet_wave_pause_timeout": 6})
        try:
            record = wait_paused(fleet, proc, log.name)
            code, out = finish(proc, log)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code != 0, out
    assert_load_clean(load)
    assert "the pause timed out after wave 1" in out, out
    rows = summary(out)
    assert {name for name, row in rows.items() if row["outcome"] == "reverted"} == set(canaries), rows
    assert currents(fleet) == before and set(lb_statuses(fleet).values()) == {"UP"}
    assert control_record(fleet)["decision"]["source"] == "timeout"
    assert record["on_timeout"] == "abort"

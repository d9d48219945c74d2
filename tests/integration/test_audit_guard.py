# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Audit trail, guard rails and known-bad releases of deploy.yml and rollback.yml, on the test fleet (issue 7).

Every run writes one audit record (JSON lines, a file per day) to the fleet's audit directory on the controller
(fleet_audit_dir in the test inventory); the fleet-wide lock lives on the fleet's first host. The module deploys its
own releases (a-*) on top of the session's base state (every host on base-2, conftest.py on_base).

The first test deploys to the whole fleet (an audit record, gates and progress lines of three regions); the others run
on its first region (conftest.py one_region: 4 hosts, which hold the fleet-wide lock's host): a rollback's record, a
mark, a refusal or a lock is the same in one region as in three, and each of their dozen runs then costs a third of the
hosts.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import json
import re
import time

import pytest

from test_release_lifecycle import ROLLBACK, currents, deploy, names, play
from test_waves import history, lb_statuses, summary

pytestmark = pytest.mark.fleet

RELEASES = ("a-2", "a-3", "a-4", "a-5")
FLEET_LOCK = "/srv/fleetops/fleet.lock"
HOST_FIELDS = {"region", "from", "to", "wave", "outcome", "started", "finished"}


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in RELEASES}


@pytest.fixture(scope="module", name="audit_dir")
def fixture_audit_dir(fleet):
    return fleet.state_dir / "audit"


def records(audit_dir, run_id=None):
    found = []
    for path in sorted(audit_dir.glob("*.jsonl")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [record for record in found if run_id is None or record.get("run_id") == run_id]


def run_id_of(out):
    """The run id, from the summary (run <id> (<operation> by <actor>)) or the callback's plan line."""
    match = re.search(r"\brun (\d{8}T\d{6}Z-\d+) \(", out) or re.search(r"\b(\d{8}T\d{6}Z-\d+) by ", out)
    assert match, out
    return match.group(1)


def bad_marks(fleet, name):
    state = json.loads(fleet.host_path(name, "/srv/app/.fleet/state.json").read_text())
    return state.get("bad", {})


def assert_complete_record(record, operation, hosts):
    for key in ("run_id", "operation", "operator", "reason", "hosts", "gates", "status", "started", "finished",
                "phases", "recovery_seconds", "controller", "event"):
        assert key in record, (key, record)
    assert record["operation"] == operation and record["event"] == "run"
    assert record["operator"]["name"] == "root" and record["operator"]["source"] == "os"
    assert set(record["hosts"]) == set(hosts)
    for row in record["hosts"].values():
        assert HOST_FIELDS <= set(row), row
    assert record["finished"] >= record["started"]


def test_a_deploy_writes_one_complete_audit_record_the_host_histories_agree_and_the_progress_shows(
        fleet, releases, on_base, audit_dir):
    proc, out = deploy(fleet, releases, "a-2", extra_vars={"fleet_reason": "ship a-2"},
                       env={"ANSIBLE_STDOUT_CALLBACK": "fleetops.release.fleet"})
    assert proc.returncode == 0, out
    run_id = run_id_of(out)
    [record] = records(audit_dir, run_id)
    assert_complete_record(record, "deploy", names(fleet))
    assert record["reason"] == "ship a-2" and record["status"] == "ok"
    assert {(row["from"], row["to"], row["outcome"]) for row in record["hosts"].values()} == {(on_base, "a-2", "switched")}
    assert {gate["region"] for gate in record["gates"]} == set(fleet.regions) and all(gate["passed"] for gate in record["gates"])
    # Each host's history has this run's switch and the run's summary line, as the record says.
    for name in names(fleet):
        lines = [entry for entry in history(fleet, name) if entry.get("run_id") == run_id]
        switches = [entry for entry in lines if entry.get("event") != "run"]
        [summary_line] = [entry for entry in lines if entry.get("event") == "run"]
        assert [(entry["from"], entry["to"]) for entry in switches] == [(on_base, "a-2")], (name, lines)
        row = record["hosts"][name]
        assert (summary_line["operation"], summary_line["actor"], summary_line["reason"]) == ("deploy", "root", "ship a-2")
        assert (summary_line["from"], summary_line["to"], summary_line["outcome"]) == (row["from"], row["to"], row["outcome"])
        assert summary_line["started"] <= summary_line["finished"] <= record["finished_at"], summary_line
    # The callback's live progress: a line per wave and region as it goes, then the summary per region.
    for region in fleet.regions:
        assert re.search(r"^\[fleet\] wave 1/3\s+%s\s+1/1 hosts switched, 0 failed" % region, out, re.M), out
        assert re.search(r"^\[fleet\] wave 3/3\s+%s\s+4/4 hosts switched, 0 failed" % region, out, re.M), out
    assert "Put the release live" not in out  # quiet: no per-task lines


def test_an_automatic_rollback_is_audited_marks_the_release_bad_and_a_redeploy_needs_an_override(
        one_region, releases, on_base, audit_dir):
    fleet = one_region  # one region: see the module docstring
    assert set(currents(fleet).values()) == {"a-2"}
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_trigger": "automatic", "fleet_reason": "error rate 12% on checkout"})
    assert proc.returncode == 0, out
    run_id = run_id_of(out)
    [record] = records(audit_dir, run_id)
    assert_complete_record(record, "automatic_rollback", names(fleet))
    assert 0 < record["recovery_seconds"] <= record["finished"] - record["started"], record
    assert set(currents(fleet).values()) == {on_base}
    for name in names(fleet):
        mark = bad_marks(fleet, name)["a-2"]
        assert (mark["by"], mark["reason"], mark["run_id"]) == ("root", "error rate 12% on checkout", run_id)
    # Deploying it again is refused before anything changes, naming who marked it; the override lets it through.
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "a-2")
    assert proc.returncode != 0 and "marked bad by root" in out and "fleet_allow_bad_release" in out, out
    assert currents(fleet) == before
    proc, out = deploy(fleet, releases, "a-2", extra_vars={"fleet_allow_bad_release": True})
    assert proc.returncode == 0, out


def test_a_second_automatic_rollback_within_the_cooldown_is_refused_and_changes_nothing(one_region, on_base, audit_dir):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_trigger": "automatic", "fleet_reason": "flapping alert",
                                                  "fleet_auto_rollback_cooldown": "1h"})
    assert proc.returncode != 0 and "cooldown" in out and "fleet_force=true" in out, out
    assert currents(fleet) == before


def test_a_rolled_back_release_is_never_the_rollback_target_and_a_manual_rollback_is_audited(
        one_region, releases, on_base, audit_dir):
    fleet = one_region  # one region: see the module docstring
    # a-2 is marked bad (above); from a-3 the rollback skips it and goes to the base release before it.
    proc, out = deploy(fleet, releases, "a-3")
    assert proc.returncode == 0, out
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_reason": "a-3 is slow"})
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {on_base}
    assert {row["to"] for row in summary(out).values()} == {on_base}, out
    [record] = records(audit_dir, run_id_of(out))
    assert_complete_record(record, "rollback", names(fleet))
    assert record["reason"] == "a-3 is slow" and record["status"] == "ok" and record["recovery_seconds"] > 0
    assert {(row["from"], row["to"]) for row in record["hosts"].values()} == {("a-3", on_base)}


def test_an_operator_not_allowed_is_refused_and_nothing_changes(one_region, releases, on_base):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet), lb_statuses(fleet)
    proc, out = deploy(fleet, releases, "a-4", extra_vars={"fleet_allowed_operators": ["alice", "bob"]})
    assert proc.returncode != 0 and "root" in out and "alice" in out, out
    assert (currents(fleet), lb_statuses(fleet)) == before
    assert not any(fleet.host_path(name, "/srv/app/releases/a-4").exists() for name in names(fleet))


def test_a_freeze_window_refuses_a_deploy_but_not_a_rollback(one_region, releases, on_base):
    fleet = one_region  # one region: see the module docstring
    now = datetime.datetime.now(datetime.timezone.utc)
    window = [{"name": "sale freeze", "start": (now - datetime.timedelta(hours=1)).isoformat(),
               "end": (now + datetime.timedelta(hours=1)).isoformat()}]
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "a-4", extra_vars={"fleet_freeze_windows": window})
    assert proc.returncode != 0 and "sale freeze" in out, out
    assert currents(fleet) == before
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_freeze_windows": window, "fleet_release": on_base,
                                                  "fleet_reason": "no-op rollback during the freeze"})
    assert proc.returncode == 0, out


def test_a_second_run_is_refused_naming_the_first_and_a_stale_lock_break_is_audited(one_region, releases, on_base, audit_dir, tmp_path):
    fleet = one_region  # one region: see the module docstring
    hook = tmp_path / "hold.yml"
    hook.write_text(
        "- name: Tell the test the first run is in its waves\n"
        "  ansible.builtin.file: {path: \"%(dir)s/running\", state: touch}\n"
        "  delegate_to: localhost\n"
        "- name: Wait for the test\n"
        "  ansible.builtin.wait_for: {path: \"%(dir)s/go-on\", timeout: 120}\n"
        "  delegate_to: localhost\n" % {"dir": tmp_path})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(deploy, fleet, releases, "a-4", extra_vars={"fleet_hook_before_wave": str(hook)})
        while not (tmp_path / "running").exists() and not first.done():
            time.sleep(0.2)
        try:
            proc, out = deploy(fleet, releases, "a-5", extra_vars={"fleet_reason": "second run"})
        finally:
            (tmp_path / "go-on").touch()
        first_proc, first_out = first.result()
    assert first_proc.returncode == 0, first_out
    first_id = run_id_of(first_out)
    assert proc.returncode != 0 and "run %s" % first_id in out, out
    assert set(currents(fleet).values()) == {"a-4"}

    # A lock left by a run that ended without releasing it: refused, then broken on request and audited.
    lock = fleet.host_path(names(fleet)[0], FLEET_LOCK)
    stale = {"holder": "carol@ci run 20260101T000000Z-1", "reason": "deploy", "run_id": "20260101T000000Z-1",
             "since": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:30:00Z"}
    lock.write_text(json.dumps(stale))
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_reason": "after the stale lock"})
    assert proc.returncode != 0 and "carol@ci" in out, out
    assert set(currents(fleet).values()) == {"a-4"}
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_reason": "after the stale lock", "fleet_break_stale_lock": True})
    assert proc.returncode == 0, out
    [record] = records(audit_dir, run_id_of(out))
    assert [broken["holder"] for broken in record["locks_broken"]] == ["carol@ci run 20260101T000000Z-1"], record
    assert not lock.exists()

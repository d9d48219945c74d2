# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Steering a rollout (issue 19): fleet_wave_pause, the control record's transitions, the timeout decision, the locks'
time to live while paused, the pause in the run report, and the record's file (ownership, atomic writes)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _rollout_control as control
from ansible_collections.fleetops.release.plugins.module_utils import _run_ledger as ledger
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report
from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import RunInputsError, check_run_inputs
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

T0 = 1_800_000_000.0
RUN = {"run_id": "20270115T080000Z-1", "operation": "deploy", "release": "v2", "started_by": {"name": "alice"},
       "controller": "ctl", "reason": "ship v2"}
LOCK = {"holder": "alice@ctl run 20270115T080000Z-1", "run_id": "20270115T080000Z-1", "since": "2027-01-15T08:00:00Z",
        "expires_at": "2027-01-15T10:00:00Z"}
BOB = {"name": "bob", "source": "os"}


# -- fleet_wave_pause ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, wave, waves, expected", [
    (0, 1, 3, ("none", 0)),
    (30, 1, 3, ("bake", 30)),
    ("30", 2, 3, ("bake", 30)),
    (30, 3, 3, ("none", 0)),  # the last wave has no pause
    ("manual", 1, 3, ("manual", 0)),
    ("Manual", 2, 3, ("manual", 0)),
    ("manual", 3, 3, ("none", 0)),
    ({1: "manual"}, 1, 3, ("manual", 0)),
    ({1: "manual"}, 2, 3, ("none", 0)),
    ({"1": "manual", "2": 5}, 2, 3, ("bake", 5)),
    (["manual", 10], 2, 3, ("bake", 10)),
    (["manual", 10], 1, 3, ("manual", 0)),
])
def test_pause_for_wave(value, wave, waves, expected):
    assert control.pause_for_wave(value, wave, waves) == {"kind": expected[0], "seconds": expected[1]}


@pytest.mark.parametrize("value, expected", [(0, False), ("0", False), (None, False), (5, True), ("manual", True),
                                             ({2: "manual"}, True), ({2: 0}, False), ([0, 0], False), ([0, "manual"], True)])
def test_any_pause(value, expected):
    assert control.any_pause(value) is expected


@pytest.mark.parametrize("value, message", [
    ("soon", "fleet_wave_pause is 'soon': give a number of seconds"),
    (-1, "must be 0 or more"),
    (True, "fleet_wave_pause is True"),
    ({"first": "manual"}, "keys are wave numbers"),
    ({0: "manual"}, "numbered from 1"),
    ({1: "later"}, r"fleet_wave_pause\[1\] is 'later'"),
    (["manual", "x"], r"fleet_wave_pause\[1\] is 'x'"),
])
def test_bad_pause_values_say_what_is_wrong(value, message):
    with pytest.raises(control.ControlError, match=message):
        control.normalize_pause(value)


def test_a_pause_after_the_last_wave_is_refused_once_the_plan_is_known():
    with pytest.raises(control.ControlError, match="names wave 3, but the plan has 3 wave"):
        control.normalize_pause({3: "manual"}, waves=3)
    assert control.normalize_pause({2: "manual", 3: 0}, waves=3)["waves"][2] == ("manual", 0)


def test_run_inputs_judge_the_pause_and_its_timeout_before_anything_changes():
    hosts = ["eu-1", "eu-2", "eu-3"]
    hostvars = {host: {"fleet_region": "eu"} for host in hosts}
    groups = {"all": hosts, "eu": hosts}
    checked = check_run_inputs("deploy", hosts, hostvars, groups, release="v2", keep_releases=3, waves=[1, "100%"], wave_pause={1: "manual"},
                               wave_pause_timeout="60", wave_pause_on_timeout="promote")
    assert checked["wave_pause"] == {1: "manual"}
    with pytest.raises(RunInputsError) as refused:
        check_run_inputs("deploy", hosts, hostvars, groups, release="v2", keep_releases=3, waves=[1, "100%"], wave_pause={2: "manual"},
                         wave_pause_timeout=0, wave_pause_on_timeout="retry", wave_pause_poll=0)
    text = str(refused.value)
    assert "names wave 2, but the plan has 2 wave(s)" in text
    assert "fleet_wave_pause_timeout is 0" in text and "fleet_wave_pause_on_timeout is 'retry'" in text
    assert "fleet_wave_pause_poll is 0" in text
    for poll in ("121", -1, True, "ten"):
        with pytest.raises(RunInputsError, match="fleet_wave_pause_poll is"):
            check_run_inputs("deploy", hosts, hostvars, groups, release="v2", keep_releases=3, waves=[1, "100%"],
                             wave_pause="manual", wave_pause_poll=poll)
    # Without a pause, its timeout does not matter.
    check_run_inputs("deploy", hosts, hostvars, groups, release="v2", keep_releases=3, wave_pause=0, wave_pause_timeout="x")


# -- the control record ---------------------------------------------------------------------------------------------

def paused(now=T0, timeout=600, on_timeout="abort"):
    return control.new_pause(RUN, 1, 3, timeout, on_timeout, now)


def test_a_pause_record_says_where_since_when_who_and_until_when():
    record = paused()
    assert record["state"] == "paused" and record["wave"] == 1 and record["waves"] == 3
    assert record["started_by"] == {"name": "alice"} and record["since"] == "2027-01-15T08:00:00Z"
    assert record["timeout_at"] == "2027-01-15T08:10:00Z" and record["on_timeout"] == "abort"
    with pytest.raises(control.ControlError, match="timeout of at least 1 second"):
        control.new_pause(RUN, 1, 3, 0, "abort", T0)


def test_promote_then_the_run_takes_it_up():
    record = control.request(paused(), LOCK, "promote", BOB, "", T0 + 5)
    assert record["state"] == "promote" and record["request"]["by"] == BOB
    decision, new, decided = control.decide(record, RUN["run_id"], T0 + 6)
    assert decision == "promote" and new["state"] == "promoted"
    assert decided["source"] == "operator" and decided["by_name"] == "bob"
    # Polled again (a retry after a lost answer): the same decision, nothing to write.
    assert control.decide(new, RUN["run_id"], T0 + 7)[:2] == ("promote", None)
    # And nothing is paused any more: a second promote is refused.
    with pytest.raises(control.ControlError, match="no run is paused: the last pause.*promoted by bob"):
        control.request(new, LOCK, "promote", BOB, "", T0 + 8)


def test_abort_needs_a_reason_and_is_taken_up_with_it():
    with pytest.raises(control.ControlError, match="abort needs a reason"):
        control.request(paused(), LOCK, "abort", BOB, "  ", T0 + 5)
    record = control.request(paused(), LOCK, "abort", BOB, "p99 up", T0 + 5)
    decision, new, decided = control.decide(record, RUN["run_id"], T0 + 6)
    assert decision == "abort" and new["state"] == "aborted" and decided["reason"] == "p99 up"


@pytest.mark.parametrize("record, lock, run_id, message", [
    (None, LOCK, None, "no run is paused \\(there is no control record\\)"),
    ("paused", None, None, "no longer holds the fleet-wide lock \\(not held\\)"),
    ("paused", dict(LOCK, run_id="20270115T090000Z-2"), None, "held by run 20270115T090000Z-2"),
    ("paused", LOCK, "20270115T090000Z-2", "the paused run is run 20270115T080000Z-1"),
])
def test_promote_without_a_paused_run_is_refused(record, lock, run_id, message):
    with pytest.raises(control.ControlError, match=message):
        control.request(paused() if record == "paused" else record, lock, "promote", BOB, "", T0, run_id=run_id)


def test_timeout_decides_as_configured_and_a_request_wins_over_a_later_timeout():
    assert control.decide(paused(), RUN["run_id"], T0 + 599)[0] == "wait"
    decision, new, decided = control.decide(paused(), RUN["run_id"], T0 + 600)
    assert decision == "abort" and new["state"] == "aborted" and decided["source"] == "timeout"
    assert control.decide(paused(on_timeout="promote"), RUN["run_id"], T0 + 601)[0] == "promote"
    # A promote that came in before the timeout is taken up even when the poll reads it after the timeout.
    late = control.request(paused(), LOCK, "promote", BOB, "", T0 + 590)
    assert control.decide(late, RUN["run_id"], T0 + 700)[0] == "promote"


def test_a_lost_or_foreign_record_aborts():
    assert control.decide(None, RUN["run_id"], T0)[0] == "abort"
    decision, new, decided = control.decide(dict(paused(), run_id="other"), RUN["run_id"], T0)
    assert (decision, new) == ("abort", None) and "names run other" in decided["reason"]


def test_status_shows_a_paused_run_and_a_stale_one():
    row = control.status(paused(), LOCK, T0 + 42)
    assert row["paused"] and row["waiting"] and not row["stale"] and row["paused_for"] == 42
    assert row["started_by"] == "alice" and "promote.yml" in row["how_to_continue"] and "abort.yml" in row["how_to_continue"]
    stale = control.status(paused(), None, T0)
    assert not stale["paused"] and stale["stale"]
    assert control.status(None, LOCK, T0) == {"paused": False}


# -- the locks and the deadline while paused ------------------------------------------------------------------------

def test_locks_outlive_the_moved_deadline_by_the_margin():
    # Started at T0, deadline T0+3600, 100 s paused already, now T0+1000, a pause of up to 600 s, margin 1800.
    ttl = control.lock_ttl_while_paused(T0, 3600, 100, 600, 1800, T0 + 1000)
    assert ttl == (3600 + 100 - 1000) + 600 + 1800
    assert control.lock_ttl_while_paused(T0, 3600, 0, 600, 0, T0) == 0  # locks that never expire
    assert control.lock_ttl_while_paused(T0, 0, 0, 600, 1800, T0 + 5) == 600 + 1800  # no deadline


def test_time_paused_moves_the_deadline():
    report = {"started": T0, "paused_seconds": 300, "failures": [], "hosts": {}, "phases": [], "gates": [],
              "failed_at": None, "stopped": False}
    checked = _wave_report.check_deadline(report, 3600, T0 + 3700)
    assert checked["deadline"] == T0 + 3900 and not checked["stopped"]
    assert _wave_report.check_deadline(report, 3600, T0 + 3901)["stopped"]


# -- the pause in the run ledger -----------------------------------------------------------------------------------

def run_report(now=T0):
    waves = plan_waves({"eu": ["eu-1", "eu-2", "eu-3"]}, waves=[1, "100%"])
    rows = {host: {"region": "eu", "from": "v1", "to": "v2", "needed": True} for host in ("eu-1", "eu-2", "eu-3")}
    report = _wave_report.start({"run_id": RUN["run_id"], "operation": "deploy", "on_failure": "revert", "max_fail": 0,
                                 "strategy": "rolling", "started": now}, rows, waves, now)
    # The canary switched, released its lock with its run line and went back in rotation.
    report["hosts"]["eu-1"].update(touched=True, outcome="switched", unlocked=True)
    return report


def test_pause_names_the_locks_still_held():
    report, pause = ledger.pause_begin(run_report(), {"wave": 1, "waves": 2}, 3600, 600, 1800, T0 + 60)
    assert report["paused"]["wave"] == 1 and pause["locked"] == ["eu-2", "eu-3"]
    assert pause["ttl"] == 3600 - 60 + 600 + 1800


def test_promote_goes_on_and_the_time_paused_is_kept():
    report, _pause = ledger.pause_begin(run_report(), {"wave": 1, "waves": 2}, 3600, 600, 1800, T0 + 60)
    wait = {"decision": "promote", "decided": {"source": "operator", "by_name": "bob", "reason": "fine"}}
    report, entry = ledger.pause_end(report, wait, {}, T0 + 160)
    assert not report["stopped"] and not report["failures"] and report["paused_seconds"] == 100
    assert entry == {"wave": 1, "since": T0 + 60, "until": T0 + 160, "seconds": 100, "decision": "promote",
                     "source": "operator", "by": "bob", "reason": "fine"}
    assert report["pauses"] == [entry] and report["paused"] is None


@pytest.mark.parametrize("wait, extended, phase, words", [
    ({"decision": "abort", "decided": {"source": "operator", "by_name": "bob", "reason": "p99 up"}}, {}, "abort",
     "aborted by bob after wave 1: p99 up"),
    ({"decision": "abort", "decided": {"source": "timeout", "by_name": "(timeout)", "reason": "nobody decided"}}, {},
     "pause", "the pause timed out after wave 1"),
    ({"failed": True, "msg": "ssh: connection refused"}, {}, "pause", "could not be read: ssh: connection refused"),
    ({"decision": "promote", "decided": {"source": "operator", "by_name": "bob"}}, {"eu-2": {"unreachable": True}},
     "pause", "locks of eu-2 could not be kept alive"),
])
def test_abort_stops_the_run_and_reverts_what_it_touched_like_a_failed_gate(wait, extended, phase, words):
    report, _pause = ledger.pause_begin(run_report(), {"wave": 1, "waves": 2}, 3600, 600, 1800, T0 + 60)
    report, entry = ledger.pause_end(report, wait, extended, T0 + 90)
    assert report["stopped"] and entry["decision"] == "abort"
    assert report["failures"][-1]["phase"] == phase and words in report["failures"][-1]["message"]
    # The same revert as after a failed gate: every touched host goes back.
    assert report["revert"] == ["eu-1"]
    assert ledger.revert_walk(report, members=["eu-1", "eu-2", "eu-3"])["hosts"] == ["eu-1"]


# -- the files ------------------------------------------------------------------------------------------------------

def test_record_round_trip_and_ownership(tmp_path):
    path = str(tmp_path / "fleetops" / "fleet.control")
    with control.locked_directory(path):
        control.write_record(path, paused())
    own = os.geteuid()
    assert control.read_record(path, owner=own) == json.loads(json.dumps(paused()))
    if own != 0:
        with pytest.raises(control.ControlError, match="not by root"):
            control.read_record(path)
    os.chmod(path, 0o666)
    with pytest.raises(control.ControlError, match="group- or other-writable"):
        control.read_record(path, owner=own)
    os.chmod(path, 0o644)
    os.symlink(path, path + ".link")
    with pytest.raises(control.ControlError, match="symlink is refused"):
        control.read_record(path + ".link", owner=own)
    assert control.read_record(str(tmp_path / "none" / "fleet.control"), owner=own) is None


def test_extend_lock_only_for_its_run_and_never_shorter(tmp_path):
    path = str(tmp_path / "lock")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(LOCK, handle)
    changed, lock = control.extend_lock(path, RUN["run_id"], 7200 + 600, T0)
    assert changed and lock["expires_at"] == "2027-01-15T10:10:00Z" and lock["holder"] == LOCK["holder"]
    assert control.extend_lock(path, RUN["run_id"], 60, T0) == (False, lock)
    with pytest.raises(control.ControlError, match="not by run other"):
        control.extend_lock(path, "other", 60, T0)

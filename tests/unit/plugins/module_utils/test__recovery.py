# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Recovery after a fault: what runs did on a host (run_effects), the interrupted run and the rollback targets that
undo or finish it (interrupted_run_targets), and the run report's "back in rotation" outcome."""

from __future__ import annotations

import io
import json
import tarfile

from ansible_collections.fleetops.release.plugins.module_utils import _wave_report as wr
from ansible_collections.fleetops.release.plugins.module_utils._host_info import host_info
from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    ReleaseStore,
    interrupted_run,
    interrupted_run_targets,
    run_effects,
)
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

D = "20261126T210405Z-1"  # the interrupted run
EARLIER = "20261126T200000Z-2"


def switch(run_id, source, target, operation="deploy", time="2026-11-26T21:05:00Z"):
    return {"time": time, "from": source, "to": target, "operation": operation, "run_id": run_id, "actor": "alice"}


def run_line(run_id, operation="deploy", time="2026-11-26T21:06:00Z", source=None, target=None, outcome="switched"):
    return {"time": time, "event": "run", "run_id": run_id, "operation": operation, "from": source, "to": target, "outcome": outcome}


def read(history, current, pending=None, bad=None, release_ids=("r1", "r2", "r3"), target="r1", reason="newest release older"):
    return {"runs": run_effects(history, pending), "current": current, "pending": pending, "bad": bad or {},
            "release_ids": list(release_ids), "rollback_target": target, "rollback_target_reason": reason}


FINISHED_R2 = [switch(EARLIER, "r1", "r2", time="2026-11-26T20:01:00Z"), run_line(EARLIER, time="2026-11-26T20:02:00Z", source="r1", target="r2")]


# -- run_effects ---------------------------------------------------------------------------------------------------

def test_run_effects_name_where_each_run_found_the_host_and_whether_it_finished():
    history = FINISHED_R2 + [
        switch(D, "r2", "r3"),
        {"time": "2026-11-26T21:05:30Z", "operation": "mark_bad", "release": "r3", "run_id": D},
        switch(D, "r3", "r2", operation="rollback", time="2026-11-26T21:05:40Z"),
    ]
    runs = run_effects(history)
    assert [run["run_id"] for run in runs] == [EARLIER, D]
    assert runs[0] == {"run_id": EARLIER, "operation": "deploy", "time": "2026-11-26T20:02:00Z", "from": "r1", "to": "r2",
                       "switched": True, "finished": True}
    # First switch's from, last switch's to; the revert's "rollback" does not rename the deploy; the mark is no switch.
    assert runs[1] == {"run_id": D, "operation": "deploy", "time": "2026-11-26T21:05:40Z", "from": "r2", "to": "r2",
                       "switched": True, "finished": False}


def test_a_pending_operation_without_a_line_is_an_unfinished_run():
    pending = {"operation": "deploy", "from": "r2", "to": "r3", "run_id": D, "since": "2026-11-26T21:05:00Z"}
    runs = run_effects(FINISHED_R2, pending)
    assert runs[-1] == {"run_id": D, "operation": "deploy", "time": "2026-11-26T21:05:00Z", "from": None, "to": None,
                        "switched": False, "finished": False}


def test_lines_without_a_run_id_and_torn_lines_are_ignored():
    assert run_effects([{"time": "x", "from": "r1", "to": "r2"}, "garbage", None]) == []


# -- interrupted_run_targets ---------------------------------------------------------------------------------------

def test_a_finished_last_run_leaves_the_automatic_targets_alone():
    reads = {"a": read(FINISHED_R2, "r2"), "b": read(FINISHED_R2, "r2")}
    assert interrupted_run(reads) is None
    assert interrupted_run_targets(reads) is None


def test_a_killed_deploy_is_undone_hosts_it_switched_go_back_the_others_stay():
    reads = {
        "switched": read(FINISHED_R2 + [switch(D, "r2", "r3")], "r3", target="r2"),
        "untouched": read(FINISHED_R2, "r2", target="r1"),
        "pending": read(FINISHED_R2, "r2", pending={"operation": "deploy", "from": "r2", "to": "r3", "run_id": D,
                                                    "since": "2026-11-26T21:05:10Z"}, target="r2"),
    }
    result = interrupted_run_targets(reads)
    assert (result["run_id"], result["operation"], result["to"]) == (D, "deploy", None)
    assert {host: row["target"] for host, row in result["targets"].items()} == {"switched": "r2", "untouched": "r2", "pending": "r2"}
    assert "where the interrupted deploy run %s found this host" % D in result["targets"]["switched"]["reason"]
    assert "did not switch this host" in result["targets"]["untouched"]["reason"]


def test_a_deploy_killed_while_unlocking_is_still_undone_on_every_host():
    # One host already has the run's line (it was unlocked before the kill), another has not: the run is unfinished.
    done = FINISHED_R2 + [switch(D, "r2", "r3"), run_line(D, source="r2", target="r3")]
    reads = {"unlocked": read(done, "r3", target="r2"), "locked": read(FINISHED_R2 + [switch(D, "r2", "r3")], "r3", target="r2")}
    assert {host: row["target"] for host, row in interrupted_run_targets(reads)["targets"].items()} == {"unlocked": "r2", "locked": "r2"}


def test_a_deploy_killed_between_batches_is_undone_once_its_fleet_lock_was_broken():
    # Each host the deploy reached has its run line (written at its activation); the batch it never started has none
    # to miss. Only the broken fleet-wide lock (unfinished) says the run did not finish: it is undone all the same.
    done = FINISHED_R2 + [switch(D, "r2", "r3"), run_line(D, source="r2", target="r3")]
    reads = {"reached": read(done, "r3", target="r2"), "not reached": read(FINISHED_R2, "r2", target="r1")}
    assert interrupted_run_targets(reads) is None
    result = interrupted_run_targets(reads, unfinished=D)
    assert {host: row["target"] for host, row in result["targets"].items()} == {"reached": "r2", "not reached": "r2"}


def test_a_deploy_that_reverted_a_host_before_it_was_killed_leaves_that_host_where_it_is():
    history = FINISHED_R2 + [switch(D, "r2", "r3"), switch(D, "r3", "r2", operation="rollback", time="2026-11-26T21:05:30Z")]
    # Its automatic target would be r1, one further back: the undo keeps it on r2.
    reads = {"a": read(history, "r2", target="r1"), "b": read(FINISHED_R2 + [switch(D, "r2", "r3")], "r3", target="r2")}
    assert {host: row["target"] for host, row in interrupted_run_targets(reads)["targets"].items()} == {"a": "r2", "b": "r2"}


def test_a_later_finished_run_means_nothing_is_interrupted():
    later = "20261126T220000Z-3"
    history = FINISHED_R2 + [switch(D, "r2", "r3"), switch(later, "r3", "r3", time="2026-11-26T22:01:00Z"),
                             run_line(later, time="2026-11-26T22:02:00Z")]
    reads = {"a": read(history, "r3", target="r2"), "b": read(FINISHED_R2 + [run_line(later, time="2026-11-26T22:02:00Z")], "r3")}
    assert interrupted_run_targets(reads) is None


def test_a_killed_rollback_is_finished_not_undone():
    rollback = [switch(D, "r2", "r1", operation="rollback")]
    reads = {
        "switched": read(FINISHED_R2 + rollback, "r1", target=None, reason="r1 is the oldest release"),
        "not yet": read(FINISHED_R2, "r2", target="r1"),
    }
    result = interrupted_run_targets(reads)
    assert (result["operation"], result["to"]) == ("rollback", "r1")
    assert {host: row["target"] for host, row in result["targets"].items()} == {"switched": "r1", "not yet": "r1"}


def test_an_undo_target_that_is_marked_bad_or_gone_leaves_the_host_without_a_target():
    mark = {"by": "bob", "at": "2026-11-26T21:00:00Z", "reason": "broken", "run_id": None}
    reads = {"bad": read(FINISHED_R2 + [switch(D, "r2", "r3")], "r3", bad={"r2": mark}),
             "gone": read(FINISHED_R2 + [switch(D, "r2", "r3")], "r3", release_ids=("r1", "r3"))}
    targets = interrupted_run_targets(reads)["targets"]
    assert targets["bad"]["target"] is None and "r2 was marked bad by bob" in targets["bad"]["reason"]
    assert targets["gone"]["target"] is None and "does not exist" in targets["gone"]["reason"]


def test_host_info_reports_the_runs_of_a_real_store(tmp_path):
    artifact = tmp_path / "a.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        info = tarfile.TarInfo("app.py")
        data = b"print('hi')\n"
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    store = ReleaseStore(str(tmp_path / "app"))
    for release_id in ("r1", "r2"):
        store.create_release(release_id, str(artifact))
    store.switch("r1", operation="deploy", run_id=EARLIER)
    store.append_history(run_line(EARLIER, source=None, target="r1"))
    store.switch("r2", operation="deploy", run_id=D)  # killed before its unlock: no run line
    runs = host_info(store.root)["runs"]
    assert [(run["run_id"], run["from"], run["to"], run["finished"]) for run in runs] == [(EARLIER, None, "r1", True), (D, "r1", "r2", False)]
    result = interrupted_run_targets({"h": host_info(store.root)})
    assert result["targets"]["h"]["target"] == "r1"
    json.dumps(result)  # plain data, as a filter must return


# -- the run report: back in rotation ---------------------------------------------------------------------------------

def test_a_drained_host_on_its_target_is_reported_back_in_rotation():
    regions = {"eu": ["eu-1", "eu-2"]}
    plan = plan_waves(regions, waves=["100%"], min_healthy=0)
    hosts = {"eu-1": {"region": "eu", "from": "v1", "to": "v1", "needed": True, "out_of_rotation": True},
             "eu-2": {"region": "eu", "from": "v1", "to": "v1", "needed": False}}
    report = wr.start({"run_id": "r-1", "operation": "rollback", "on_failure": "stop"}, hosts, plan, now=1.0)
    batch = wr.walk(plan)["batches"][0]
    report = wr.record_switch(report, batch, "forward", {}, {"eu-1": {"activation": {"changed": False}}}, 2.0)
    report = wr.record_enable(report, batch, "forward", {}, 3.0)
    assert report["hosts"]["eu-1"]["outcome"] == wr.BACK_IN_ROTATION == "back in rotation"
    assert report["hosts"]["eu-2"]["outcome"] == "unchanged"
    lines = wr.summary(wr.finish(report, 4.0)).splitlines()
    assert any(line.startswith("eu-1") and line.endswith("back in rotation") for line in lines), lines


def test_a_drained_host_that_also_switches_is_reported_switched():
    regions = {"eu": ["eu-1"]}
    plan = plan_waves(regions, waves=["100%"], min_healthy=0)
    hosts = {"eu-1": {"region": "eu", "from": "v1", "to": "v2", "needed": True, "out_of_rotation": True}}
    report = wr.start({"run_id": "r-1", "operation": "deploy"}, hosts, plan, now=1.0)
    batch = wr.walk(plan)["batches"][0]
    report = wr.record_switch(report, batch, "forward", {}, {"eu-1": {"activation": {"changed": True}}}, 2.0)
    assert wr.record_enable(report, batch, "forward", {}, 3.0)["hosts"]["eu-1"]["outcome"] == "switched"

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run's deadline (fleet_run_timeout): checked before each batch of the walk (issue 14, section 3)."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _wave_report as wr
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

REGIONS = {"eu": ["eu-1", "eu-2"], "us": ["us-1", "us-2"]}
OK = {"changed": True, "to": "v2"}


def make(operation="deploy", on_failure="revert"):
    plan = plan_waves(REGIONS, waves=[1, "100%"], min_healthy=1)
    hosts = {host: {"region": region, "from": "v1", "to": "v2", "needed": True}
             for region, members in REGIONS.items() for host in members}
    run = {"run_id": "r-1", "operation": operation, "actor": "alice", "on_failure": on_failure, "started": 100.0}
    return wr.start(run, hosts, plan, now=101.0), wr.walk(plan)


def first_batch_switched(report, walk):
    batch = walk["batches"][0]
    report = wr.record_switch(report, batch, "forward", {}, {host: {"activation": OK} for host in batch["hosts"]}, 110.0)
    return wr.record_enable(report, batch, "forward", {}, 111.0)


def test_before_the_deadline_nothing_changes_but_the_deadline_is_recorded():
    report, walk = make()
    checked = wr.check_deadline(report, 3600, now=200.0, batch=walk["batches"][0])
    assert checked["deadline"] == 3700.0 and not checked["stopped"] and not checked["failures"]


def test_no_deadline_with_a_timeout_of_zero():
    report, walk = make()
    checked = wr.check_deadline(report, 0, now=10 ** 9, batch=walk["batches"][0])
    assert checked["deadline"] is None and not checked["stopped"] and not checked["failures"]


def test_past_the_deadline_the_run_stops_fails_naming_the_deadline_and_a_deploy_reverts_what_it_touched():
    report, walk = make()
    report = first_batch_switched(report, walk)
    checked = wr.check_deadline(report, 60, now=161.0, batch=walk["batches"][1])
    assert checked["stopped"] and checked["deadline"] == 160.0
    [failure] = checked["failures"]
    assert failure["phase"] == "deadline" and failure["wave"] == walk["batches"][1]["wave"]
    assert "fleet_run_timeout=60" in failure["message"] and "deadline" in failure["message"]
    # Every host the run touched goes back; the others were never started.
    assert sorted(checked["revert"]) == sorted(walk["batches"][0]["hosts"])
    final = wr.finish(checked, 170.0)
    assert final["status"] == "failed"
    assert {final["hosts"][host]["outcome"] for host in walk["batches"][1]["hosts"]} == {"pending"}


def test_a_rollback_past_its_deadline_stops_without_a_revert():
    report, walk = make(operation="rollback", on_failure="stop")
    report = first_batch_switched(report, walk)
    checked = wr.check_deadline(report, 60, now=161.0, batch=walk["batches"][1])
    assert checked["stopped"] and checked["revert"] == [] and checked["failures"][0]["phase"] == "deadline"


def test_a_stopped_run_is_not_failed_twice():
    report, walk = make()
    once = wr.check_deadline(report, 60, now=161.0, batch=walk["batches"][0])
    assert wr.check_deadline(once, 60, now=162.0, batch=walk["batches"][1])["failures"] == once["failures"]


@pytest.mark.parametrize("timeout", ["abc", -1, True, 1.5])
def test_a_bad_timeout_is_refused_naming_the_variable(timeout):
    report, walk = make()
    with pytest.raises(wr.WaveReportError, match="fleet_run_timeout"):
        wr.check_deadline(report, timeout, now=200.0, batch=walk["batches"][0])

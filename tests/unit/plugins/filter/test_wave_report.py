# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.wave_report import FilterModule, wave_report
from ansible_collections.fleetops.release.plugins.filter.wave_walk import wave_walk
from ansible_collections.fleetops.release.plugins.filter.wave_plan import wave_plan

HOSTVARS = {"eu-1": {"fleet_region": "eu"}, "eu-2": {"fleet_region": "eu"}}


def test_start_switch_enable_finish_and_summary():
    plan = wave_plan(["eu-1", "eu-2"], HOSTVARS, waves=[1, "100%"])
    walk = wave_walk(plan)
    assert walk["sizes"] == [1, 1]
    report = wave_report({"run_id": "r", "operation": "rollback", "actor": "bob", "on_failure": "stop"}, "start",
                         hosts={"eu-1": {"region": "eu", "from": "a", "to": "b", "needed": True}}, plan=plan, now="10")
    batch = walk["batches"][0]
    report = wave_report(report, "switch", batch=batch, phase="forward", drain={},
                         host_results={"eu-1": {"activation": {"changed": True}}}, now=11)
    assert report["live"] == ["eu-1"]
    report = wave_report(report, "enable", batch=batch, phase="forward", now=12)
    report = wave_report(report, "finish", now=20)
    assert report["status"] == "ok" and report["recovery_seconds"] == 9.0
    assert "eu-1" in wave_report(report, "summary")
    assert set(FilterModule().filters()) == {"wave_report"}


@pytest.mark.parametrize("report, event, options, message", [
    ("x", "finish", {"now": 1}, "must be a run report"),
    ({}, "start", {"now": 1}, "start needs hosts, plan"),
    ({}, "explode", {}, "unknown event 'explode'"),
    ({}, "enable", {"phase": "forward"}, "enable needs batch, now"),
    ({"hosts": {}}, "enable", {"batch": {"hosts": ["ghost"]}, "phase": "forward", "now": 1}, "not what the waves produce"),
])
def test_errors_say_what_is_wrong(report, event, options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        wave_report(report, event, **options)


def test_walk_refuses_what_is_not_a_plan():
    with pytest.raises(AnsibleFilterError, match="must be a plan"):
        wave_walk({"hosts": []})
    with pytest.raises(AnsibleFilterError, match="not a plan from wave_plan"):
        wave_walk([{"nope": 1}])

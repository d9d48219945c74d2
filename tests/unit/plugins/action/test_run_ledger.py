# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run_ledger action plugin's decisions, step by step, on batch results shaped like the registered results of
the real tasks (release_activate, lb_pool looped over regions, health_check and traffic_gate looped over regions):
the plugin reads them from the hosts' variables itself, and what it cannot read stops the run with a message."""

from __future__ import annotations

from unittest import mock

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.action import run_ledger
from ansible_collections.fleetops.release.plugins.module_utils import _run_ledger as ledger
from ansible_collections.fleetops.release.plugins.modules import run_ledger as run_ledger_doc
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

REGIONS = {"eu": ["eu-1", "eu-2", "eu-3", "eu-4"], "us": ["us-1", "us-2", "us-3", "us-4"]}
HOSTS = [host for hosts in REGIONS.values() for host in hosts]
ACTIVATED = {"changed": True, "from": "v1", "to": "v2", "switched": True, "restarted": True, "pending": False,
             "health": {"passed": True, "attempts": 2, "elapsed": 0.6}}
FAILED_HEALTH = {"failed": True, "changed": True, "from": "v1", "to": "v2", "switched": True, "pending": True,
                 "msg": "release v2 is live on this host but its health check did not pass within 1.5 s (3 probes): "
                        "expected release v2, last seen HTTP 503"}
UNREACHABLE = {"unreachable": True, "changed": False, "msg": "Failed to connect to the host via ssh: Connection refused"}


def test_documentation_matches_argument_spec(spec_matches_doc):
    spec_matches_doc(run_ledger.ARGUMENT_SPEC, yaml.safe_load(run_ledger_doc.DOCUMENTATION)["options"], "run_ledger")


pytestmark = pytest.mark.usefixtures("controller")  # conftest.py


def raising(exc):
    """A stand-in for a ledger function that fails with ``exc``."""
    def broken(*_args, **_kwargs):
        raise exc
    return broken


def lb_loop(regions, failed=()):
    """The registered result of tasks/lb_pool.yml: one loop item per load-balancer host (here the controller, for
    every region), one pool per region."""
    pools = [{"name": region, "backend": "app", "members": [], "connection": {"lb_type": "haproxy"}} for region in regions]
    results = [{"name": region, "failed": region in failed, "changed": region not in failed,
                "msg": "socket /run/haproxy.sock: refused" if region in failed else ""} for region in regions]
    result = {"item": {"lb_host": "localhost", "pools": pools}, "changed": True, "pools": results,
              "failed_pools": [region for region in regions if region in failed]}
    if result["failed_pools"]:
        result.update(failed=True, msg="; ".join("pool %s: refused" % region for region in result["failed_pools"]))
    return {"changed": True, "results": [result] if regions else [], "msg": "All items completed"}


def pool_names(items):
    """The regions of the loop items of tasks/lb_pool.yml that the ledger hands out."""
    return [pool["name"] for item in items for pool in item["pools"]]


class Run:
    """A run's hosts and the controller's localhost facts, as the plugin sees them through hostvars."""

    def __init__(self, operation="deploy", lb=True, on_failure="revert", waves=(1, "100%")):
        self.hostvars = {"localhost": {}}
        for region, hosts in REGIONS.items():
            for host in hosts:
                self.hostvars[host] = {"fleet_region": region, "fleet_lb_type": "haproxy" if lb else "",
                                       # What the preflight read under the host's lock: a deploy goes v1 -> v2, a
                                       # rollback v2 -> v1.
                                       "fleet_lock_taken": {"info": {
                                           "current": "v1" if operation == "deploy" else "v2", "rollback_target": "v1",
                                           "runs": [], "pending": None, "rollback_target_reason": "newest release older than v2"}},
                                       "fleet_deploy_snapshot": {"changed": False, "skipped": True}}
        self.run_id = _identity.new_run_id(1000.0)
        _identity.write_run_record({"run_id": self.run_id, "operation": operation, "pid": 4242, "started": 1000.0})
        self.on_failure = on_failure
        self.operation = operation
        self.waves = list(waves)

    def step(self, step, play_batch=None, task_vars=None, **args):
        task = mock.MagicMock()
        task.args = dict({"step": step}, **args)
        task.check_mode = False
        task.async_val = 0
        action = run_ledger.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
        variables = {"hostvars": self.hostvars, "ansible_play_hosts": HOSTS, "groups": {"all": ["localhost"] + HOSTS},
                     "ansible_play_batch": play_batch or HOSTS}
        variables.update(task_vars or {})
        result = action.run(task_vars=variables)
        self.hostvars["localhost"].update(result.get("ansible_facts") or {})
        return result

    @property
    def report(self):
        return self.hostvars["localhost"]["fleet_run_report"]

    def plan(self):
        release = {"release": "v2"} if self.operation == "deploy" else {}
        return self.step("plan", run_id=self.run_id, waves=self.waves, min_healthy=1, on_failure=self.on_failure, **release)

    def batch(self, number, phase="forward", activations=None, drain_failed=(), enable_failed=(), gates=None):
        walk = self.hostvars["localhost"]["fleet_wave_walk" if phase == "forward" else "fleet_wave_revert_walk"]
        hosts = walk["batches"][number]["hosts"]
        self.step("batch", play_batch=hosts, phase=phase, run_timeout=0, min_healthy=1)
        batch = self.hostvars["localhost"]["fleet_batch"]
        for host in hosts:
            self.hostvars[host]["fleet_wave_activation"] = (activations or {}).get(host, ACTIVATED)
        self.step("switched", play_batch=hosts,
                  task_vars={"fleet_lb_result": lb_loop(batch["hosts_by_region"], drain_failed)})
        batch = self.hostvars["localhost"]["fleet_batch"]
        task_vars = {"fleet_lb_result": lb_loop(pool_names(batch["enable"]), enable_failed)}
        task_vars.update(gates or {})
        self.step("settle", play_batch=hosts, task_vars=task_vars, min_healthy=1)
        return batch


def test_plan_walks_the_canaries_first_and_hands_the_walk_to_the_next_play():
    run = Run()
    result = run.plan()
    walk = run.hostvars["localhost"]["fleet_wave_walk"]
    assert not result.get("failed") and walk["hosts"][:2] == ["eu-1", "us-1"] and walk["extras"] is False
    assert run.report["operation"] == "deploy" and run.report["actor"] == "alice"
    assert {row["outcome"] for row in run.report["hosts"].values()} == {"pending"}
    assert [region["complete"] for region in run.hostvars["localhost"]["fleet_run_regions"]] == [True, True]


def test_a_deploy_plans_each_host_from_its_locked_read_and_its_unpack():
    reads = {"same": {"current": "v2", "pending": None}, "old": {"current": "v1", "pending": {}},
             "crashed": {"current": "v2", "pending": {"from": "v1", "to": "v2"}}, "config": {"current": "v2"},
             "first": {"current": None}}
    rows = ledger.deploy_rows(reads, dict.fromkeys(reads, "eu"), "v2", {"config": True, "same": False})
    assert {host: (row["from"], row["to"], row["needed"]) for host, row in rows.items()} == {
        "same": ("v2", "v2", False), "old": ("v1", "v2", True), "crashed": ("v1", "v2", True), "config": ("v2", "v2", True),
        "first": ("", "v2", True)}
    # Through the plugin: only the hosts that need the release are walked.
    run = Run()
    run.hostvars["eu-1"]["fleet_lock_taken"]["info"]["current"] = "v2"
    run.plan()
    assert "eu-1" not in run.hostvars["localhost"]["fleet_wave_walk"]["hosts"]
    assert run.report["hosts"]["eu-1"]["outcome"] == "unchanged" and run.report["hosts"]["us-1"]["to"] == "v2"


def test_plan_takes_the_operation_from_the_run_record_not_from_a_variable():
    run = Run(operation="automatic_rollback")
    run.hostvars["localhost"]["fleet_operation"] = "deploy"
    run.plan()
    assert run.report["operation"] == "automatic_rollback"


def test_plan_refuses_an_impossible_plan_before_any_change_with_one_message():
    run = Run()
    result = run.step("plan", run_id=run.run_id, waves=[1, "50%"], min_healthy=1)
    assert result["failed"] and result["msg"].startswith("run_ledger: ") and "100%" in result["msg"]


def test_a_clean_batch_drains_switches_and_enables_every_region():
    run = Run()
    run.plan()
    batch = run.batch(0)
    assert pool_names(batch["drain"]) == ["eu", "us"] and [item["lb_host"] for item in batch["drain"]] == ["localhost"]
    eu = batch["drain"][0]["pools"][0]
    assert eu["members"] == [{"server": "eu-1", "state": "drain"}] and eu["connection"]["lb_type"] == "haproxy"
    assert pool_names(batch["enable"]) == ["eu", "us"]
    assert [item["key"] for item in batch["gate"]] == ["eu", "us"]
    assert run.report["hosts"]["eu-1"]["outcome"] == "switched" and not run.report["stopped"]


def test_without_a_load_balancer_nothing_is_drained_or_enabled():
    run = Run(lb=False)
    run.plan()
    batch = run.batch(0)
    assert batch["drain"] == [] and batch["enable"] == []
    assert run.report["hosts"]["us-1"]["outcome"] == "switched"


def test_a_failed_canary_stops_the_deploy_and_plans_the_revert_of_what_it_touched():
    run = Run()
    run.plan()
    batch = run.batch(0, activations={"us-1": FAILED_HEALTH})
    assert pool_names(batch["enable"]) == ["eu"]  # the failed host stays out of rotation
    assert run.report["stopped"] and run.report["hosts"]["us-1"]["outcome"] == "switch failed"
    revert = run.hostvars["localhost"]["fleet_wave_revert_walk"]
    assert sorted(revert["hosts"]) == ["eu-1", "us-1"]
    # The revert batch puts them back: each host's release comes from the report ("from").
    run.batch(0, phase="revert", activations={"eu-1": dict(ACTIVATED, to="v1"), "us-1": dict(ACTIVATED, to="v1")})
    assert run.report["hosts"]["us-1"]["reverted"] and run.report["hosts"]["eu-1"]["outcome"] == "reverted"


def test_a_failed_drain_fails_its_regions_hosts_and_an_unreachable_host_is_left_alone():
    run = Run()
    run.plan()
    run.batch(0, drain_failed=("eu",), activations={"eu-1": {"skipped": True}, "us-1": UNREACHABLE})
    hosts = run.report["hosts"]
    assert hosts["eu-1"]["outcome"] == "drain failed" and hosts["us-1"]["outcome"] == "unreachable"
    assert run.hostvars["localhost"]["fleet_wave_revert_walk"]["hosts"] == []  # nothing touched that can go back


def test_a_failed_gate_counts_like_a_failed_host():
    run = Run()
    run.plan()
    gates = {"fleet_gate_health": {"results": [
        {"item": {"key": "eu", "leader": "eu-1"}, "failed": True, "msg": "http://127.0.0.1/health: 502"},
        {"item": {"key": "us", "leader": "us-1"}, "changed": False}]}}
    run.batch(0, gates=gates)
    assert run.report["stopped"] and run.report["gates"][0] == {
        "wave": 1, "region": "eu", "passed": False, "message": "http://127.0.0.1/health: 502"}
    assert sorted(run.hostvars["localhost"]["fleet_wave_revert_walk"]["hosts"]) == ["eu-1", "us-1"]


def test_a_wave_hook_failure_is_recorded_once_and_stops_the_next_batch():
    run = Run(waves=(1, "50%", "100%"))
    run.plan()
    run.batch(0)
    run.hostvars["eu-1"]["fleet_wave_hook_failures"] = {"after-wave-forward-1": {
        "hook": "after-wave", "host": "eu-1", "region": "eu", "wave": 1, "message": "smoke test failed"}}
    run.step("hooks", min_healthy=1)
    run.step("hooks", min_healthy=1)
    failures = [failure for failure in run.report["failures"] if failure["phase"] == "after-wave hook"]
    assert len(failures) == 1 and failures[0]["message"] == "smoke test failed" and run.report["stopped"]
    assert not run.hostvars["localhost"]["fleet_batch"]["go"]
    assert sorted(run.hostvars["localhost"]["fleet_wave_revert_walk"]["hosts"]) == ["eu-1", "us-1"]


def test_a_result_the_ledger_cannot_read_stops_the_run_with_a_message():
    run = Run()
    run.plan()
    walk = run.hostvars["localhost"]["fleet_wave_walk"]
    run.step("batch", play_batch=walk["batches"][0]["hosts"], run_timeout=0)
    run.hostvars["eu-1"]["fleet_wave_activation"] = ACTIVATED
    run.hostvars["us-1"]["fleet_wave_activation"] = ACTIVATED
    result = run.step("switched", task_vars={"fleet_lb_result": {"results": [{"item": ["not", "a", "region"], "failed": True}]}})
    assert not result.get("failed")
    failure = run.report["failures"][-1]
    assert run.report["stopped"] and failure["phase"] == "ledger switched" and "could not record" in failure["message"]


def test_a_revert_that_cannot_be_planned_stops_the_run_with_a_message(monkeypatch):
    run = Run()
    run.plan()

    monkeypatch.setattr(run_ledger.ledger, "revert_walk", raising(ValueError("region eu cannot keep 1 host(s) in rotation")))
    run.batch(0, activations={"us-1": FAILED_HEALTH})
    failure = run.report["failures"][-1]
    assert run.report["stopped"] and failure["phase"] == "ledger settle"
    assert "cannot keep 1 host(s) in rotation" in failure["message"]


def test_the_deadline_stops_a_forward_batch():
    run = Run()
    run.plan()
    walk = run.hostvars["localhost"]["fleet_wave_walk"]
    run.step("batch", play_batch=walk["batches"][0]["hosts"], run_timeout=1)
    assert run.report["stopped"] and run.report["failures"][0]["phase"] == "deadline"
    assert not run.hostvars["localhost"]["fleet_batch"]["go"]


def test_a_step_without_a_report_fails_clearly():
    run = Run()
    result = run.step("switched")
    assert result["failed"] and "step=plan starts it" in result["msg"]


def test_finish_closes_the_report_with_the_time_to_recover_of_a_rollback():
    run = Run(operation="rollback")
    run.plan()
    run.batch(0)
    run.step("finish")
    assert run.report["status"] == "ok" and run.report["recovery_seconds"] is not None
    assert run.hostvars["localhost"]["fleet_run_summary"].startswith("run %s (rollback by alice): ok" % run.run_id)


def test_a_batch_the_ledger_cannot_open_moves_nothing_and_says_why_once(monkeypatch):
    run = Run()
    run.plan()

    monkeypatch.setattr(run_ledger.ledger, "begin_batch", raising(KeyError("batch_of")))
    hosts = run.hostvars["localhost"]["fleet_wave_walk"]["batches"][0]["hosts"]
    run.step("batch", play_batch=hosts, run_timeout=0)
    run.step("switched", play_batch=hosts, task_vars={"fleet_lb_result": {"skipped": True, "results": []}})
    run.step("settle", play_batch=hosts, task_vars={"fleet_lb_result": {"skipped": True, "results": []}})
    batch = run.hostvars["localhost"]["fleet_batch"]
    assert batch["go"] is False and batch["drain"] == [] and batch["enable"] == []
    assert [failure["phase"] for failure in run.report["failures"]] == ["ledger batch"]
    assert run.report["stopped"]


def test_the_configuration_kept_before_a_first_release_is_said_once_in_the_summary():
    run = Run()
    run.plan()
    kept = dict(ACTIVATED, kept_before_first_release="/srv/app/snapshots/before-first-release-20261205T080000Z")
    run.batch(0, activations={"eu-1": kept, "us-1": kept})
    run.step("finish")
    lines = run.hostvars["localhost"]["fleet_run_summary"].splitlines()
    assert [line for line in lines if "before the first release" in line] == [
        "the configuration in place before the first release was kept on 2 host(s), in "
        "<app_root>/snapshots/before-first-release-<time>: eu-1, us-1"]

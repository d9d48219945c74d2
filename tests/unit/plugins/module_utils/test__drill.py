# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_drill.py: the drill's inputs, its starting point, the comparison of the end with the start, the marks
and figures from the prober's records and the runs' audit records, and the report's Markdown, and the schema where it was."""

from __future__ import annotations

import json

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _drill
from ansible_collections.fleetops.release.plugins.module_utils._drill import DrillError

HOSTVARS = {
    "eu-1": {"fleet_region": "eu", "fleet_lb_url": "http://lb.eu/", "fleet_environment": "staging"},
    "eu-2": {"fleet_region": "eu", "fleet_lb_url": "http://lb.eu/", "fleet_environment": "staging"},
    "us-1": {"fleet_region": "us", "fleet_lb_url": "http://lb.us/", "fleet_environment": "staging"},
}
GROUPS = {"all": list(HOSTVARS), "staging": list(HOSTVARS), "prod": ["p-1"]}


def plan(**overrides):
    args = dict(group="staging", fault="rollback", hosts=list(HOSTVARS), hostvars=HOSTVARS, groups=GROUPS)
    args.update(overrides)
    return _drill.check_inputs(**args)


def test_a_good_plan_has_regions_urls_and_probe_bounds():
    result = plan()
    assert result["regions"] == {"eu": {"hosts": ["eu-1", "eu-2"], "url": "http://lb.eu/"}, "us": {"hosts": ["us-1"], "url": "http://lb.us/"}}
    assert result["production"] == [] and result["release"] is None
    assert result["probe"] == {"path": "/", "interval": 0.1, "timeout": 2.0, "max_seconds": 900, "max_requests": 50000}


@pytest.mark.parametrize("overrides, message", [
    ({"group": ""}, "fleet_drill_group is required"),
    ({"group": "all"}, "never on every host"),
    ({"group": "nope"}, "'nope' is not a group of the inventory"),
    ({"fault": "meteor"}, "fleet_drill_fault must be one of broken_health, errors_5xx, crash, rollback"),
    ({"fault": "broken_health"}, "give its id as fleet_drill_release"),
    ({"fault": "crash", "release": "r9"}, "needs the broken release's tarball as fleet_drill_artifact"),
    ({"hosts": []}, "the drill has no hosts"),
    ({"hosts": ["eu-1", "p-1"]}, "hosts outside fleet_drill_group staging are in the play: p-1"),
    ({"probe_interval": 0}, "fleet_drill_probe_interval must be a number above 0"),
    ({"probe_max_seconds": 1.5}, "fleet_drill_probe_max_seconds must be a whole number"),
    ({"probe_path": "health"}, "fleet_drill_probe_path must be a URL path starting with /"),
])
def test_b_bad_inputs_are_refused_with_what_to_do(overrides, message):
    with pytest.raises(DrillError, match="nothing was changed") as caught:
        plan(**overrides)
    assert message in str(caught.value)


def test_c_production_needs_allow_and_a_reason():
    hostvars = dict(HOSTVARS, **{"us-1": {"fleet_region": "us", "fleet_lb_url": "http://lb.us/"}})  # unknown = production
    with pytest.raises(DrillError, match="us-1 of group staging is production .* fleet_drill_allow_production=true"):
        plan(hostvars=hostvars)
    with pytest.raises(DrillError, match="needs a reason"):
        plan(hostvars=hostvars, allow_production=True)
    assert plan(hostvars=hostvars, allow_production=True, reason="quarterly canary drill")["production"] == ["us-1"]


def test_d_every_region_needs_a_load_balancer_url():
    hostvars = dict(HOSTVARS, **{"us-1": {"fleet_region": "us", "fleet_environment": "staging"}})
    with pytest.raises(DrillError, match="region us has no fleet_lb_url"):
        plan(hostvars=hostvars)


def read(current="r2", **extra):
    return dict({"current": current, "previous": "r1", "release_ids": ["r1", "r2"], "pending": None, "lock": None,
                 "bad": [], "config": {"/etc/app.conf": "aa" * 32}}, **extra)


def states(reads, lb=None):
    return dict((host, _drill.host_state(value, (lb or {}).get(host, "ready"))) for host, value in reads.items())


def test_e_the_start_is_one_release_in_rotation_unlocked():
    release, problems = _drill.judge_start(states({"a": read(), "b": read()}))
    assert (release, problems) == ("r2", [])
    release, problems = _drill.judge_start(states({"a": read(), "b": read("r1", lock={"holder": "bob@ctl"}),
                                                   "c": {"failed": True, "msg": "boom"}}, lb={"a": "drain"}))
    assert release is None
    text = "\n".join(problems)
    assert "a: is drain in its load balancer" in text and "b: is locked by bob@ctl" in text and "c: cannot be read (boom)" in text
    assert "different releases (r1 on b; r2 on a)" in text
    _release, problems = _drill.judge_start(states({"a": read(bad=["r2"])}))
    assert "current release r2 is marked bad" in problems[0]


def test_f_end_compared_with_start():
    start = states({"a": read(), "b": read()})
    assert _drill.compare_states(start, states({"a": read(), "b": read()})) == []
    end = states({"a": read("r1"), "b": read(config={"/etc/app.conf": "bb" * 32})}, lb={"b": "maint"})
    assert _drill.compare_states(start, end) == [
        {"host": "a", "what": "release", "start": "r2", "end": "r1"},
        {"host": "b", "what": "config /etc/app.conf", "start": "aa" * 6, "end": "bb" * 6},
        {"host": "b", "what": "load balancer", "start": "ready", "end": "maint"}]
    assert _drill.compare_states(start, states({"a": read(), "b": {"unreachable": True, "msg": "gone"}}))[0]["what"] == "reachable"


def test_g_config_digests_are_keyed():
    entries = {"/etc/app.conf": [{"path": "/etc/app.conf", "type": "file", "sha256": "00" * 32, "uid": 0}]}
    one, two = _drill.config_digests(entries, "k1"), _drill.config_digests(entries, "k2")
    assert one != two and one == _drill.config_digests(entries, "k1")
    assert "00" * 32 not in json.dumps(one)


def test_h_child_command_and_its_failures():
    argv = _drill.child_command("/v/bin/ansible-playbook", "/c/playbooks/deploy.yml", ["inv.yml"], ["a", "b"], ["@vars.yml"],
                                {"fleet_release": "r9"}, [("--private-key", "k"), ("--become", True)])
    assert argv == ["/v/bin/ansible-playbook", "-i", "inv.yml", "--limit", "a,b", "--private-key", "k", "--become", "-e", "@vars.yml",
                    "-e", '{"fleet_release": "r9"}', "/c/playbooks/deploy.yml"]
    output = "\n".join([
        'fatal: [a]: FAILED! => {"changed": false, "msg": "ignored one"}', "...ignoring",
        'fatal: [a -> localhost]: FAILED! => {"changed": false, "msg": "Hosts without a rollback target:\\n  b: nothing older"}',
        'fatal: [b]: UNREACHABLE! => {"msg": "ssh: connect refused"}',
        'fatal: [a]: FAILED! => {"msg": "rollback stopped before any switch (run 20261126T210405Z-4821)."}'])
    assert _drill.failures_in_output(output) == [
        {"host": "a", "msg": "Hosts without a rollback target:\n  b: nothing older"},
        {"host": "b", "msg": "ssh: connect refused"},
        {"host": "a", "msg": "rollback stopped before any switch (run 20261126T210405Z-4821)."}]
    assert _drill.run_id_in_output(output) == "20261126T210405Z-4821" and _drill.run_id_in_output("nothing") is None


def records(spec):
    """[(t, region, status, release, host)] -> prober records."""
    return [{"t": t, "region": region, "status": status, "release": release, "host": host} for t, region, status, release, host in spec]


def test_i_series_error_rate_and_share_of_hosts():
    rows = _drill.series(records([(100.1, "eu", 200, "r2", "eu-1"), (100.5, "eu", 200, "r2", "eu-2"), (101.2, "eu", 500, "r9", "eu-1"),
                                  (101.6, "eu", 200, "r9", "eu-1"), (102.3, "eu", 0, None, None)]),
                         {"eu": {"hosts": ["eu-1", "eu-2"]}}, 100.0, 102.5)["eu"]
    assert [(row["t"], row["requests"], row["failed"], row["error_rate"]) for row in rows] == [(0.0, 2, 0, 0.0), (1.0, 2, 1, 0.5), (2.0, 1, 1, 1.0)]
    assert rows[0]["releases"] == {"r2": 1.0} and rows[1]["releases"] == {"r2": 0.5, "r9": 0.5}


def run(step, started, finished, exit_status=0, **audit):
    return {"step": step, "playbook": "rollback" if step != "fault" else "deploy", "exit_status": exit_status, "started": started,
            "finished": finished, "audit": dict(audit, run_id="run-" + step) if audit else None}


PLAN = {"group": "staging", "fault": "broken_health", "fault_text": "x", "hosts": ["eu-1", "eu-2"], "production": [],
        "regions": {"eu": {"hosts": ["eu-1", "eu-2"], "url": "http://lb.eu/"}}, "release": "r9"}


BASELINE = ((99.0, "eu", 200, "r2", "eu-1"),)


def report(fault="broken_health", runs=(), recs=BASELINE, end=None, data_checks=()):
    start = states({"eu-1": read(), "eu-2": read()})
    return _drill.build_report(dict(PLAN, fault=fault), "drill-1", {"name": "alice"}, 90.0, 140.0, "r2", start,
                               end if end is not None else start, list(runs), records(recs), list(data_checks))


def test_j_marks_and_figures_when_the_gates_catch_the_fault():
    result = report(runs=[run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5, recovery_seconds=4.5,
                              hosts={"eu-1": {"outcome": "reverted"}, "eu-2": {"outcome": "pending"}})],
                    recs=[(99.0, "eu", 200, "r2", "eu-1"), (109.0, "eu", 200, "r2", "eu-2"), (130.0, "eu", 200, "r2", "eu-1")])
    assert result["ok"] and result["detected_by"] == "product" and result["findings"] == []
    assert result["marks"] == {"fault": 100.0, "detected": 108.0, "recovery_start": 108.0, "recovery_end": 112.5}
    figures = result["figures"]
    assert (figures["time_to_detect"], figures["time_to_recover_audit"], figures["requests_failed"]) == (8.0, 4.5, 0)
    assert figures["hosts_touched"] == ["eu-1"] and figures["time_to_recover_outside"] == 0.0


def test_k_a_fault_the_gates_let_through_is_recovered_by_the_drill_and_found():
    result = report(fault="errors_5xx",
                    runs=[run("fault", 100.0, 110.0, 0, status="ok"),
                          run("recover", 112.0, 125.0, 0, status="ok", first_switch=115.0, recovered_at=121.0, recovery_seconds=6.0)],
                    recs=[(101.0, "eu", 200, "r2", "eu-1"), (105.0, "eu", 500, "r9", "eu-1"), (118.5, "eu", 502, None, None),
                          (123.0, "eu", 200, "r2", "eu-1")])
    assert result["ok"] and result["detected_by"] == "drill" and "fleet_traffic_gate" in result["findings"][0]
    assert result["marks"] == {"fault": 100.0, "detected": 112.0, "recovery_start": 115.0, "recovery_end": 121.0}
    figures = result["figures"]
    assert figures["requests_failed"] == 2 and figures["time_to_recover_outside"] == 13.5 and figures["time_to_detect"] == 12.0
    assert figures["first_bad_request"].startswith("1970-01-01T00:01:45") and figures["error_rate"] == 0.5


def test_l_failures_are_named_with_host_and_cause():
    failed = report(fault="rollback", runs=[
        {"step": "fault", "playbook": "rollback", "exit_status": 2, "started": 100.0, "finished": 104.0, "run_id": "r-f",
         "failures": [{"host": "eu-1", "msg": "eu-2: r2 is the oldest release on this host"}]},
        run("forward", 105.0, 110.0, 0, status="ok")],
        data_checks=[{"phase": "before", "rc": 0}, {"phase": "after", "rc": 1, "stderr": "orders table empty"}])
    assert not failed["ok"] and failed["outcome"] == "failed"
    assert failed["problems"] == ["fault run r-f (rollback.yml) failed: eu-1: eu-2: r2 is the oldest release on this host",
                                  "data check after the drill failed (exit 1): orders table empty"]
    assert failed["marks"]["recovery_end"] is None
    # A deploy fault whose deploy failed before its gates saw anything (no failed_at): the fault never took effect.
    refused = report(runs=[run("fault", 100.0, 101.0, 2, status="failed", failures=[{"host": "(run)", "message": "locked"}])])
    assert refused["problems"] == ["fault run run-fault (deploy.yml) failed: (run): locked"]
    # An end that differs from the start.
    moved = report(runs=[run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5)],
                   end=states({"eu-1": read("r9"), "eu-2": read()}))
    assert moved["problems"] == ["eu-1: release is r9, was r2 at the start"] and moved["marks"]["recovery_end"] is None
    assert not moved["end_state"]["matched"]


def test_m_markdown_shows_figures_and_marks():
    result = report(runs=[run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5, recovery_seconds=4.5)],
                    recs=[(99.0, "eu", 200, "r2", "eu-1"), (109.0, "eu", 500, "r9", "eu-2"), (130.0, "eu", 200, "r2", "eu-1")])
    markdown = _drill.render_markdown(result, picture_name="drill-1.svg")
    assert "# Rollback drill drill-1: passed" in markdown and "| time to detect | 8.0 s (by the product) |" in markdown
    assert "| requests failed | 1 (eu 1) |" in markdown and "![drill drill-1](drill-1.svg)" in markdown
    assert "| recovery end | 1970-01-01T00:01:52.500Z |" in markdown and "schema version" not in markdown
    assert "![" not in _drill.render_markdown(result)  # no picture (matplotlib missing): no image link


def schema(version, **extra):
    return _drill.schema_state(dict({"changed": False, "tool": "alembic", "current_version": version}, **extra))


def test_p_schema_state_from_schema_info():
    assert _drill.schema_state({"skipped": True, "changed": False}) is None and _drill.schema_state({}) is None
    assert _drill.schema_state(None) is None
    assert schema("a1") == {"read": True, "version": "a1", "tool": "alembic"}
    assert schema(None) == {"read": True, "version": None, "tool": "alembic"}  # nothing applied yet is a version too
    failed = _drill.schema_state({"failed": True, "msg": "password authentication failed for user shop"})
    assert failed == {"read": False, "version": None, "error": "password authentication failed for user shop"}
    assert _drill.judge_start_schema(None) == [] and _drill.judge_start_schema(schema("a1")) == []
    assert "cannot be read: password authentication failed" in _drill.judge_start_schema(failed)[0]


def test_q_the_schema_where_it_was():
    assert _drill.compare_schema(None, None) == []
    assert _drill.compare_schema(schema("a1"), schema("a1")) == []
    assert _drill.compare_schema(schema("a1"), schema("a2")) == [
        {"host": "(database)", "what": "schema version", "start": "a1", "end": "a2"}]
    assert _drill.compare_schema(schema("a1"), schema(None))[0]["end"] is None
    gone = _drill.compare_schema(schema("a1"), _drill.schema_state({"failed": True, "msg": "connection refused"}))
    assert gone[0]["end"] == "unreadable (connection refused)"
    assert _drill.compare_schema(schema("a1"), None)[0]["end"] == "unreadable (not read)"


def test_r_the_report_compares_and_shows_the_schema():
    runs = [run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5, recovery_seconds=4.5,
                hosts={"eu-1": {"outcome": "reverted"}})]
    start = states({"eu-1": read(), "eu-2": read()})

    def with_schema(before, after):
        return _drill.build_report(PLAN, "drill-1", {"name": "alice"}, 90.0, 140.0, "r2", start, start, runs, records(BASELINE), [],
                                   start_schema=before, end_schema=after)

    same = with_schema(schema("a1"), schema("a1"))
    assert same["ok"] and same["end_state"]["matched"]
    assert same["end_state"]["schema"] == {"start": "a1", "end": "a1", "matched": True}
    assert "| schema version (start, end) | a1, a1 |" in _drill.render_markdown(same)
    moved = with_schema(schema("a1"), schema("a2"))
    assert not moved["ok"] and not moved["end_state"]["matched"] and moved["marks"]["recovery_end"] is None
    assert moved["problems"] == ["(database): schema version is a2, was a1 at the start"]
    assert moved["figures"]["hosts_touched"] == ["eu-1"]  # the database is no host of the group
    assert "| schema version (start, end) | a1, a2 **differs** |" in _drill.render_markdown(moved)
    assert with_schema(None, None)["end_state"]["schema"] is None


def test_n_list_drills(tmp_path):
    folder = tmp_path / "drills"
    folder.mkdir()
    first = report(runs=[run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5)])
    (folder / "drill-1.json").write_text(json.dumps(first))
    (folder / "drill-2.json").write_text(json.dumps(dict(first, run_id="drill-2", group="other", started_at="2026-01-01T00:00:00Z")))
    (folder / "torn.json").write_text("{")
    drills, problems = _drill.list_drills(str(tmp_path))
    assert [item["run_id"] for item in drills] == ["drill-1", "drill-2"] and "torn.json: cannot be read" in problems[0]
    assert drills[0]["files"]["svg"] == str(folder / "drill-1.svg")
    # A drill drawn without matplotlib kept no picture: drill_info does not point at one.
    (folder / "drill-3.json").write_text(json.dumps(dict(first, run_id="drill-3", started_at="2027-01-01T00:00:00Z", files={"json": "x", "svg": None})))
    assert _drill.list_drills(str(tmp_path))[0][-1]["files"]["svg"] is None
    assert [item["run_id"] for item in _drill.list_drills(str(tmp_path), group="other")[0]] == ["drill-2"]
    assert _drill.list_drills(str(tmp_path / "none")) == ([], [])


def test_o_freshness_of_the_last_successful_drill():
    day = 86400.0
    drills = [{"run_id": "d1", "group": "staging", "ok": True, "finished_at": "1970-01-02T00:00:00Z"},
              {"run_id": "d2", "group": "staging", "ok": False, "finished_at": "1970-01-09T00:00:00Z"},
              {"run_id": "d3", "group": "canary", "ok": True, "finished_at": "1970-01-05T00:00:00Z"}]
    now = 10 * day
    stale = _drill.freshness(drills, now, 7 * day, group="staging")
    assert not stale["fresh"] and stale["last_ok"]["run_id"] == "d1" and stale["age_seconds"] == 9 * day
    assert "longer ago than fleet_drill_max_age (7.0 days)" in stale["message"]
    fresh = _drill.freshness(drills, now, 7 * day)
    assert fresh["fresh"] and fresh["last_ok"]["run_id"] == "d3" and "6.0 days ago" in fresh["message"]
    never = _drill.freshness(drills, now, 7 * day, group="prod")
    assert not never["fresh"] and "no successful rollback drill of group prod" in never["message"]


def test_p_a_drill_that_measured_nothing_from_outside_fails():
    result = report(runs=[run("fault", 100.0, 120.0, 2, status="failed", failed_at=108.0, recovered_at=112.5)], recs=())
    assert not result["ok"] and result["problems"] == [
        "the prober recorded no answer through the load balancers (eu http://lb.eu/), so nothing was measured from outside; "
        "see the task 'Wait for the prober to stop'"]
    assert result["figures"]["requests"] == 0 and result["series"] == {}

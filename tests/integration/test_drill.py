# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/drill.yml (issue 18) on the test fleet: a drill per fault kind, each checked against the test's own request
loop through the load balancers and its own reading of the hosts; a drill whose recovery cannot complete; refusals.

The module starts from the session's base state (every host on base-2, base-1 before it: conftest.py on_base).

Lean on purpose (CI time): one drill per fault kind, the deploy faults and the rollback on the 12 hosts the issue asks
for, the crash and the failing recovery on one region; two waves (canaries, then the rest) instead of three; a short
lead and settle time; the freshness checks on one region.
"""

from __future__ import annotations

import glob
import hashlib
import json
import sys
import xml.etree.ElementTree as ET

import pytest

import fleetlib
from load import RequestLoad

sys.path.insert(0, str(fleetlib.REPO_ROOT / "tests" / "db"))
import pglib  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.fleet

DRILL = fleetlib.REPO_ROOT / "playbooks" / "drill.yml"
BASE = "base-2"
PREVIOUS = "base-1"
APP_CONF = "/etc/fleetapp/app.conf"
SVG = "{http://www.w3.org/2000/svg}"
DC = "{http://purl.org/dc/elements/1.1/}"  # the SVG's metadata (Dublin Core): the plotted series and marks as JSON
MARKS = ("fault", "detected", "recovery_start", "recovery_end")
# The test fleet is a staging fleet: the drill refuses hosts whose fleet_environment is production or not set.
# Its runs get the same variables: two waves (one canary per region, then the rest) are enough for the gates to catch
# a fault at the canaries and for the fleet to be seen moving; each wave saved is a batch of every run.
STAGING = {"fleet_environment": "staging", "fleet_drill_group": "fleet", "fleet_drill_lead_seconds": 1,
           "fleet_drill_settle_seconds": 2, "fleet_waves": [1, "100%"]}
DB_PASSWORD = "Dr1ll-Pa55-7c41"  # distinctive, so that a leak into the drill's output is found
# How far the test's own loop and the drill's prober may disagree on when requests failed (two loops, each with a pause).
TIME_SLACK = 3.0


# -- the test's own view of the fleet ----------------------------------------------------------------------------

def read_hosts(fleet):
    """{host: (release, sha256 of app.conf)} read from the hosts' own files, not through the collection."""
    state = {}
    for host in fleet.hosts:
        release = fleet.host_realpath(host.name, "/srv/app/current").name
        digest = hashlib.sha256(fleet.host_path(host.name, APP_CONF).read_bytes()).hexdigest()
        state[host.name] = (release, digest)
    return state


def lb_states(fleet):
    return {region: fleet.lb_servers(region) for region in fleet.regions}


def drill(fleet, inventory=None, **extra):
    """Run drill.yml under the test's own request loop; returns (process, report or None, load)."""
    started = sorted(glob.glob(str(fleet.state_dir / "audit" / "drills" / "*.json")))
    load = RequestLoad([fleet.lb_url(region) for region in fleet.regions], threads=2, pause=0.1, timeout=3)
    with load:
        proc = fleet.ansible_playbook(DRILL, extra_vars=dict(STAGING, **extra), inventory=inventory, timeout=600)
    new = sorted(set(glob.glob(str(fleet.state_dir / "audit" / "drills" / "*.json"))) - set(started))
    report = json.loads(open(new[-1], encoding="utf-8").read()) if new else None
    return proc, report, load


def audit_record(fleet, run_id):
    for path in glob.glob(str(fleet.state_dir / "audit" / "*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("run_id") == run_id and record.get("event", "run") == "run":
                    return record
    return None


def check_against_own_loop(report, load):
    """The drill's figures agree with the test's own requests: failures seen by both or by neither, at the same times."""
    figures = report["figures"]
    assert figures["requests"] > 50, figures
    if not load.failures:
        assert figures["requests_failed"] == 0, (figures, "the test's own loop saw no failure")
        return
    assert figures["requests_failed"] > 0, ("the test's loop saw failures the drill did not", load.failures[:3])
    first = fleetlib_time(figures["first_bad_request"])
    last = fleetlib_time(figures["last_bad_request"])
    own_first, own_last = load.failures[0].time, load.failures[-1].time
    assert abs(own_first - first) <= TIME_SLACK, (own_first, first)
    assert abs(own_last - last) <= TIME_SLACK, (own_last, last)
    assert abs((own_last - own_first) - figures["time_to_recover_outside"]) <= 2 * TIME_SLACK
    own_rate = len(load.failures) / float(len(load.failures) + load.ok)
    assert abs(own_rate - figures["error_rate"]) <= max(0.1, own_rate / 2), (own_rate, figures["error_rate"])


def fleetlib_time(text):
    import datetime  # pylint: disable=import-outside-toplevel
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def check_picture(report, expected_marks):
    """The picture (drawn with matplotlib) is a well-formed SVG whose metadata holds the plotted series and the marks,
    and each expected mark, the error rate and each release's share are drawn per region (their SVG ids), no other mark."""
    assert report["picture"] == {"file": report["files"]["svg"], "drawn_with": "matplotlib"}
    root = ET.parse(report["files"]["svg"]).getroot()
    assert root.tag == SVG + "svg"
    metadata = json.loads(root.find(".//" + DC + "description").text)
    assert metadata["run_id"] == report["run_id"] and metadata["series"] == report["series"]
    assert set(metadata["marks"]) == set(expected_marks), metadata["marks"]
    for name, seconds in metadata["marks"].items():
        assert abs(report["series_start"] + seconds - report["marks"][name]) < 0.01
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    for region in report["regions"]:
        drawn = {name for name in MARKS if "mark-%s-%s" % (name, region) in ids}
        assert drawn == set(expected_marks), (region, drawn)
        assert "error-rate-%s" % region in ids
        assert {"release-%s-%s" % (release, region) for release in metadata["releases"]} <= ids
    order = [report["marks"][name] for name in MARKS if name in expected_marks]
    assert order == sorted(order), report["marks_at"]


def check_end_state(fleet, report, before):
    assert report["end_state"]["matched"] is True, report["end_state"]["differences"]
    assert read_hosts(fleet) == before
    for region, servers in lb_states(fleet).items():
        assert set(servers.values()) == {"UP"}, (region, servers)


# -- the drills -----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def broken(fleet):
    return {"dr-health": fleet.build_release("dr-health", health="fail"), "dr-5xx": fleet.build_release("dr-5xx", error_rate=0.5),
            "dr-crash": fleet.build_release("dr-crash", crash=True)}


def test_a_refusals_change_nothing(fleet, on_base):
    before = read_hosts(fleet)
    proc = fleet.ansible_playbook(DRILL, extra_vars={"fleet_drill_group": "fleet"}, timeout=120)
    assert proc.returncode != 0
    assert "fleet_drill_allow_production=true" in proc.stdout and "nothing was changed" in proc.stdout
    proc = fleet.ansible_playbook(DRILL, extra_vars={"fleet_environment": "staging"}, timeout=120)
    assert proc.returncode != 0 and "fleet_drill_group is required" in proc.stdout
    proc = fleet.ansible_playbook(DRILL, extra_vars=dict(STAGING, fleet_drill_fault="broken_health"), timeout=120)
    assert proc.returncode != 0 and "fleet_drill_release" in proc.stdout and "fleet_drill_artifact" in proc.stdout
    assert read_hosts(fleet) == before


def test_b_rollback_drill(fleet, on_base):
    before = read_hosts(fleet)
    proc, report, load = drill(fleet, fleet_drill_fault="rollback")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["ok"] and report["start_release"] == BASE and report["fault"] == "rollback"
    check_end_state(fleet, report, before)
    check_against_own_loop(report, load)
    # Both the test and the drill saw the group go to the previous release and back.
    assert load.releases_seen() == {BASE, PREVIOUS}
    assert {release for rows in report["series"].values() for row in rows for release in row["releases"]} == load.releases_seen()
    for region, rows in report["series"].items():
        # Each region was seen on the previous release, and ends with every host on the starting one. (How much of a
        # region is seen on the previous release at once depends on which host the LB sends each request to.)
        assert max(row["releases"].get(PREVIOUS, 0) for row in rows) >= 0.5, region
        assert rows[0]["releases"] == rows[-1]["releases"] == {BASE: 1.0}, region
    fault_run, forward_run = report["runs"]
    record = audit_record(fleet, fault_run["run_id"])
    assert record["operation"] == "rollback" and record["reason"].startswith("drill %s: fault" % report["run_id"])
    assert report["figures"]["time_to_recover_audit"] == pytest.approx(record["recovery_seconds"], abs=0.01)
    assert audit_record(fleet, forward_run["run_id"])["status"] == "ok"
    assert sorted(report["figures"]["hosts_touched"]) == sorted(h.name for h in fleet.hosts)
    # The drill's own audit record, as a drill; and the starting release is not left marked bad.
    own = audit_record(fleet, report["run_id"])
    assert own["operation"] == "drill" and own["outcome"] == "ok"
    assert not json.loads(fleet.host_path(fleet.hosts[0].name, "/srv/app/.fleet/state.json").read_text()).get("bad", {}).get(BASE)
    check_picture(report, ("fault", "recovery_start", "recovery_end"))
    markdown = open(report["files"]["markdown"], encoding="utf-8").read()
    assert "passed" in markdown and "| end state matched | yes |" in markdown


def test_c_broken_health_drill(fleet, on_base, broken, tmp_path):
    before = read_hosts(fleet)
    path, digest = broken["dr-health"]
    # The data check: a user command on the controller; here it checks that the hosts' configuration is where it was.
    data = tmp_path / "orders"
    data.write_text("3\n")
    check = "test \"$(cat %s)\" = 3 && test -n \"$FLEET_DRILL_RUN_ID\"" % data
    proc, report, load = drill(fleet, fleet_drill_fault="broken_health", fleet_drill_release="dr-health",
                               fleet_drill_artifact=str(path), fleet_drill_artifact_sha256=digest, fleet_drill_data_check=check)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["ok"] and report["detected_by"] == "product"
    check_end_state(fleet, report, before)
    check_against_own_loop(report, load)
    assert "dr-health" not in load.releases_seen()  # the canaries never came back into rotation
    (fault_run,) = report["runs"]
    record = audit_record(fleet, fault_run["run_id"])
    assert record["status"] == "failed" and record["failed_at"]
    assert report["marks"]["detected"] == pytest.approx(record["failed_at"], abs=0.01)
    assert report["figures"]["time_to_detect"] == pytest.approx(record["failed_at"] - fault_run["started"], abs=0.01)
    assert report["figures"]["time_to_recover_audit"] == pytest.approx(record["recovery_seconds"], abs=0.01)
    touched = sorted(host for host, info in record["hosts"].items() if info["outcome"] not in ("unchanged", "pending"))
    assert report["figures"]["hosts_touched"] == touched and len(touched) == len(fleet.regions)  # one canary per region
    assert [check["rc"] for check in report["data_checks"]] == [0, 0]
    check_picture(report, ("fault", "detected", "recovery_start", "recovery_end"))


def test_d_errors_5xx_drill(fleet, on_base, broken):
    """No gate catches a release that answers 500 to half the requests: the deploy passes, the drill sees the fleet off
    its starting release and recovers with rollback.yml; both loops count the 500s over the same window."""
    before = read_hosts(fleet)
    path, digest = broken["dr-5xx"]
    proc, report, load = drill(fleet, fleet_drill_fault="errors_5xx", fleet_drill_release="dr-5xx", fleet_drill_artifact=str(path),
                               fleet_drill_artifact_sha256=digest)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["ok"] and report["detected_by"] == "drill" and report["findings"]
    check_end_state(fleet, report, before)
    assert load.failures and {failure.status for failure in load.failures} == {500}
    check_against_own_loop(report, load)
    fault_run, recover_run = report["runs"]
    assert fault_run["status"] == "ok" and recover_run["step"] == "recover"
    record = audit_record(fleet, recover_run["run_id"])
    assert record["operation"] == "rollback" and record["status"] == "ok"
    # The last 500 came before the recovery's end, as the audit record has it.
    assert fleetlib_time(report["figures"]["last_bad_request"]) <= record["recovered_at"] + TIME_SLACK
    check_picture(report, ("fault", "detected", "recovery_start", "recovery_end"))
    for region, rows in report["series"].items():
        assert max(row["error_rate"] for row in rows) > 0.2, region


def test_e_crash_drill_on_one_region(fleet, on_base, broken):
    view = fleet.view([fleet.regions[0]])
    before = read_hosts(view)
    path, digest = broken["dr-crash"]
    # A crashed app does not listen: the health check forgives that for fleet_health_start_period (10 s by default),
    # far longer than the test app needs to start.
    proc, report, load = drill(view, inventory=view.inventory, fleet_drill_fault="crash", fleet_drill_release="dr-crash",
                               fleet_drill_artifact=str(path), fleet_drill_artifact_sha256=digest, fleet_health_start_period=5)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert report["ok"] and report["detected_by"] == "product" and sorted(report["hosts"]) == sorted(h.name for h in view.hosts)
    check_end_state(view, report, before)
    check_against_own_loop(report, load)
    check_picture(report, ("fault", "detected", "recovery_start", "recovery_end"))


@pytest.fixture(name="db")
def fixture_db():
    """A real PostgreSQL (tests/db/pglib.py) whose schema an Alembic history table says is at 0001: what schema_info
    reads. No migration tool runs here; the drill only reads and compares the version."""
    cluster = pglib.Cluster().start()
    try:
        params = cluster.create_database("shop", "shop", DB_PASSWORD)
        cluster.psql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); "
                     "INSERT INTO alembic_version VALUES ('0001')", "shop", "shop")
        yield {"cluster": cluster, "params": params}
    finally:
        cluster.stop()


def test_f_recovery_that_cannot_complete_fails_plainly_and_leaves_the_fleet_safe(fleet, on_base, db):
    """The previous release is gone on one host: the rollback refuses before any switch; the drill fails naming the host
    and the cause, every host still runs its release in rotation, and a data check that fails after is reported too.
    With fleet_db, the schema version is read at the start and compared at the end: something (here the data check,
    between the start and the fault) moved it, and the drill says so."""
    view = fleet.view([fleet.regions[1]])
    victim = view.hosts[0].name
    view.ssh(victim, "rm -rf /srv/app/releases/%s" % PREVIOUS, check=True)
    before = read_hosts(view)
    cluster = db["cluster"]
    move_schema = ("psql -X -q -At -h %s -p %d -U postgres -d shop -c \"UPDATE alembic_version SET version_num = '0002'\""
                   % (cluster.socket_dir, cluster.port))
    proc, report, _load = drill(view, inventory=view.inventory, fleet_drill_fault="rollback",
                                fleet_db=dict(db["params"], tool="alembic", delegate_to="localhost"),
                                fleet_drill_data_check='test "$FLEET_DRILL_PHASE" = before && %s' % move_schema)
    assert proc.returncode != 0
    assert "drill %s failed" % report["run_id"] in proc.stdout
    assert "%s: %s is the oldest release on this host" % (victim, BASE) in proc.stdout
    assert not report["ok"] and report["outcome"] == "failed"
    assert any(victim in problem and "nothing older to roll back to" in problem for problem in report["problems"])
    assert any(problem.startswith("data check after the drill failed") for problem in report["problems"])
    assert "(database): schema version is 0002, was 0001 at the start" in report["problems"]
    assert report["end_state"]["schema"] == {"start": "0001", "end": "0002", "matched": False}
    assert "| schema version (start, end) | 0001, 0002 **differs** |" in open(report["files"]["markdown"], encoding="utf-8").read()
    assert DB_PASSWORD not in proc.stdout + proc.stderr
    assert report["marks"]["recovery_end"] is None
    # Safe: nothing moved on the hosts, every host in rotation; the schema is the only difference the report found.
    assert read_hosts(view) == before
    assert [item["what"] for item in report["end_state"]["differences"]] == ["schema version"]
    for region, servers in lb_states(view).items():
        assert set(servers.values()) == {"UP"}, (region, servers)
    # drill_info lists the drills with their times, the newest one failed.
    results, _proc = view.ansible_module("localhost", "fleetops.release.drill_info",
                                         {"directory": str(fleet.state_dir / "audit"), "group": "fleet"})
    drills = results["localhost"]["drills"]
    assert drills[-1]["run_id"] == report["run_id"] and drills[-1]["ok"] is False
    assert all(item["started_at"] and item["finished_at"] for item in drills)
    assert results["localhost"]["last_ok"]["fleet"]["ok"] is True


def test_g_freshness_in_status_and_the_deploy_guard(fleet, on_base, base_artifacts):
    """status.yml shows each group's last drill; a deploy with fleet_drill_max_age warns when the last successful drill
    is older, and refuses a production deploy (the fleet's hosts have no fleet_environment) with the action refuse.
    On one region: the guard judges the audit records, whatever the number of hosts."""
    fleet = fleet.view([fleet.regions[0]])
    proc = fleet.ansible_playbook(fleetlib.REPO_ROOT / "playbooks" / "status.yml", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("fleet ") and "time to recover" in line)
    assert "last passed: 20" in line and " failed " in line  # the last drill of group fleet is test_f's, which failed
    path, digest = base_artifacts[BASE]
    deploy = {"fleet_release": BASE, "fleet_artifact": str(path), "fleet_artifact_sha256": digest, "fleet_drill_max_age": "1s"}
    before = read_hosts(fleet)
    refuse = dict(deploy, fleet_drill_max_age_action="refuse")
    proc = fleet.ansible_playbook(fleetlib.REPO_ROOT / "playbooks" / "deploy.yml", extra_vars=refuse, timeout=300)
    assert proc.returncode != 0
    assert "longer ago than fleet_drill_max_age" in proc.stdout and "refused while fleet_drill_max_age_action is refuse" in proc.stdout
    assert "nothing was changed" in proc.stdout
    fresh_enough = dict(deploy, fleet_drill_max_age="30d", fleet_drill_max_age_action="refuse")
    proc = fleet.ansible_playbook(fleetlib.REPO_ROOT / "playbooks" / "deploy.yml", extra_vars=fresh_enough, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    proc = fleet.ansible_playbook(fleetlib.REPO_ROOT / "playbooks" / "deploy.yml", extra_vars=deploy, timeout=300)
    assert proc.returncode == 0 and "longer ago than fleet_drill_max_age" in proc.stdout + proc.stderr
    assert read_hosts(fleet) == before

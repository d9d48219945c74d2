# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The trust model of the guard rails (issue 14, part 2), on the test fleet with the real playbooks.

Extra variables beat every other variable in Ansible, so nothing the guard relies on may be a variable: each test
below passes the ``-e`` an attacker (or a careless operator) would, and checks that the run is refused, or that what
is recorded is the truth. The fleet policy lives in ``/etc/fleetops/policy.yml`` on the fleet lock host (the fleet's
first host); the test puts it there on a tmpfs mounted inside that host's own mount namespace, so nothing outside the
host sees it. The module deploys its own releases (t-*) on top of the session's base state (conftest.py on_base), on one
region of the fleet (conftest.py one_region, 4 hosts, whose first host is the fleet's, the lock host): who may run, and
what is recorded, do not depend on the number of regions, and most of its runs are refusals whose preflight costs per host.
"""

from __future__ import annotations

import datetime
import json
import os
import pwd

import pytest

from test_audit_guard import bad_marks, records, run_id_of
from test_release_lifecycle import DEPLOY, ROLLBACK, currents, deploy, names, play
from test_waves import history

pytestmark = pytest.mark.fleet

RELEASES = ("t-2", "t-3")
POLICY_DIR = "/etc/fleetops"
POLICY = POLICY_DIR + "/policy.yml"
ME = pwd.getpwuid(os.geteuid()).pw_name
MALLORY = {"fleet_actor": "mallory", "fleet_operator": {"name": "mallory", "source": "awx", "awx_user_name": "mallory",
                                                        "awx_job_id": "1", "awx_job_template_name": "evil"},
           "fleet_guard_operation": "drill", "fleet_controller": "elsewhere"}


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in RELEASES}


@pytest.fixture(scope="module", name="audit_dir")
def fixture_audit_dir(fleet):
    return fleet.state_dir / "audit"


@pytest.fixture(scope="module", name="lock_host")
def fixture_lock_host(fleet):
    """The fleet lock host (the first host of the fleet group), with a private, empty /etc/fleetops of its own."""
    name = names(fleet)[0]
    # The mount point has to exist in the machine's /etc, which the hosts share; it stays empty there. The tmpfs on
    # top of it exists only in the host's mount namespace (private propagation, see tests/fleet/fleetlib.py).
    created = not os.path.isdir(POLICY_DIR)
    os.makedirs(POLICY_DIR, exist_ok=True)
    fleet.ssh(name, "mountpoint -q %s || mount -t tmpfs -o size=1m,mode=0755 fleetops-policy %s" % (POLICY_DIR, POLICY_DIR),
              check=True)
    yield name
    fleet.ssh(name, "umount %s" % POLICY_DIR)
    if created:
        os.rmdir(POLICY_DIR)  # only the empty mount point this fixture made


@pytest.fixture(name="policy")
def fixture_policy(fleet, lock_host):
    """Write the fleet policy on the lock host (as root, 0644): policy(text[, mode]); removed after the test."""
    def write(text, mode="0644"):
        fleet.ssh(lock_host, "umask 022; cat > %s && chmod %s %s" % (POLICY, mode, POLICY), input=text, check=True)
    yield write
    fleet.ssh(lock_host, "rm -f %s" % POLICY)


@pytest.fixture(scope="module", name="first_release")
def fixture_first_release(on_base, lock_host):  # pylint: disable=unused-argument
    """The release every host runs as the module starts: the session's base state (conftest.py on_base), with the lock
    host's private policy directory in place."""
    return on_base


def active_window(name="sale freeze"):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {"name": name, "start": (now - datetime.timedelta(hours=1)).isoformat(),
            "end": (now + datetime.timedelta(hours=1)).isoformat()}


def nothing_new(fleet, releases_before, release_id):
    return currents(fleet) == releases_before and not any(
        fleet.host_path(name, "/srv/app/releases/%s" % release_id).exists() for name in names(fleet))


# -- b. the operation is the playbook's own ------------------------------------------------------------------


def test_b_a_deploy_called_a_drill_is_still_frozen(one_region, releases, first_release):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "t-2", extra_vars={"fleet_freeze_windows": [active_window()],
                                                           "fleet_guard_operation": "drill"})
    assert proc.returncode != 0 and "frozen" in out and "sale freeze" in out, out
    assert nothing_new(fleet, before, "t-2")


# -- c. who did it is never a variable -------------------------------------------------------------------------


def test_c_audit_record_history_and_marks_name_the_real_operator(one_region, releases, first_release, audit_dir):
    fleet = one_region  # one region: see the module docstring
    proc, out = deploy(fleet, releases, "t-2", extra_vars=dict(MALLORY, fleet_reason="ship t-2", fleet_allow_bad_release=True))
    assert proc.returncode == 0, out
    run_id = run_id_of(out)
    [record] = records(audit_dir, run_id)
    assert record["operation"] == "deploy", record
    assert record["operator"]["name"] == ME and record["operator"]["source"] == "os", record
    assert record["actor"] == ME and record["controller"] != "elsewhere", record
    assert record["reason"] == "ship t-2"  # a -e can add a reason, never change who
    for name in names(fleet):
        lines = [entry for entry in history(fleet, name) if entry.get("run_id") == run_id]
        assert lines and {entry["actor"] for entry in lines} == {ME}, (name, lines)
        assert {entry["operation"] for entry in lines if entry.get("event") == "run"} == {"deploy"}, lines
        manifest = json.loads(fleet.host_path(name, "/srv/app/releases/t-2/.fleet-release.json").read_text())
        assert manifest["created_by"] == ME, manifest

    proc, out = play(fleet, ROLLBACK, extra_vars=dict(MALLORY, fleet_reason="t-2 is bad"))
    assert proc.returncode == 0, out
    run_id = run_id_of(out)
    [record] = records(audit_dir, run_id)
    assert (record["operation"], record["operator"]["name"], record["actor"]) == ("rollback", ME, ME), record
    assert set(currents(fleet).values()) == {first_release}
    for name in names(fleet):
        mark = bad_marks(fleet, name)["t-2"]
        assert (mark["by"], mark["run_id"], mark["reason"]) == (ME, run_id, "t-2 is bad"), mark
        lines = [entry for entry in history(fleet, name) if entry.get("run_id") == run_id]
        assert lines and {entry["actor"] for entry in lines} == {ME}, (name, lines)


def test_c_a_run_id_from_the_command_line_is_refused(one_region, releases, first_release):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "t-3", extra_vars={"fleet_run_id": "20260101T000000Z-1"})
    assert proc.returncode != 0 and "20260101T000000Z-1" in out and "run_guard" in out, out
    assert nothing_new(fleet, before, "t-3")


# -- d. AWX's user only inside AWX ---------------------------------------------------------------------------------


def test_d_awx_variables_outside_awx_do_not_make_an_operator(one_region, releases, first_release):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    awx = {"awx_job_id": 4242, "awx_user_name": "alice", "fleet_allowed_operators": ["alice"]}
    proc, out = deploy(fleet, releases, "t-3", extra_vars=awx, env={"JOB_ID": "4242"})
    assert proc.returncode != 0 and "%s (OS user" % ME in out and "AWX_PRIVATE_DATA_DIR" in out, out
    assert nothing_new(fleet, before, "t-3")


def test_d_a_proven_awx_job_runs_as_the_awx_user(one_region, releases, first_release, audit_dir, tmp_path):
    fleet = one_region  # one region: see the module docstring
    awx = {"awx_job_id": 4243, "awx_user_name": "alice", "awx_job_template_name": "shop rollback",
           "fleet_allowed_operators": ["alice"], "fleet_release": first_release, "fleet_reason": "no-op under AWX"}
    # What ansible-runner sets for AWX job 4243 (issue 16: AWX's job folder and the runner's artifact directory in it;
    # tests/integration/test_awx_runner.py runs the jobs through ansible-runner itself).
    pdd = tmp_path / "awx_4243_test"
    (pdd / "artifacts" / "4243").mkdir(parents=True)
    proc, out = play(fleet, ROLLBACK, extra_vars=awx, env={"JOB_ID": "4243", "AWX_PRIVATE_DATA_DIR": str(pdd),
                                                           "AWX_ISOLATED_DATA_DIR": str(pdd / "artifacts" / "4243")})
    assert proc.returncode == 0, out
    [record] = records(audit_dir, run_id_of(out))
    assert record["operator"]["name"] == "alice" and record["operator"]["source"] == "awx", record


# -- a. the policy lives on the fleet ------------------------------------------------------------------------------


def test_a_the_fleet_policy_cannot_be_switched_off_from_the_command_line(one_region, releases, first_release, policy):
    fleet = one_region  # one region: see the module docstring
    policy("# the fleet's guard rails\nallowed_operators: [alice, bob]\n")
    before = currents(fleet)
    for playbook, extra in ((DEPLOY, {"fleet_release": "t-3", "fleet_artifact": str(releases["t-3"][0]), "fleet_allow_bad_release": True}),
                            (ROLLBACK, {"fleet_release": first_release})):
        proc, out = play(fleet, playbook, extra_vars=dict(extra, fleet_allowed_operators=[]))
        assert proc.returncode != 0 and "%s (OS user" % ME in out and "alice, bob" in out, out
        assert "policy" in out, out
        assert nothing_new(fleet, before, "t-3")
    # Variables may tighten the policy: both lists must allow the operator.
    policy("allowed_operators: [%s, alice]\n" % ME)
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": first_release, "fleet_allowed_operators": ["alice"]})
    assert proc.returncode != 0 and "may not run rollback" in out, out
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": first_release, "fleet_reason": "allowed by the policy"})
    assert proc.returncode == 0, out


def test_a_the_policy_freeze_window_holds_and_a_writable_policy_is_refused(one_region, releases, first_release, policy):
    fleet = one_region  # one region: see the module docstring
    window = active_window("policy freeze")
    policy("freeze_windows:\n  - {name: policy freeze, start: '%s', end: '%s'}\n" % (window["start"], window["end"]))
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "t-3", extra_vars={"fleet_freeze_windows": [], "fleet_allow_bad_release": True})
    assert proc.returncode != 0 and "policy freeze" in out, out
    assert nothing_new(fleet, before, "t-3")
    policy("allowed_operators: [%s]\n" % ME, mode="0666")
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": first_release})
    assert proc.returncode != 0 and POLICY in out and "writable" in out, out
    assert currents(fleet) == before


def test_a_the_policy_drill_freshness_refuses_a_production_deploy_whatever_the_variables(one_region, releases, first_release, policy):
    """drill_max_age in the fleet policy (issue 18): no successful drill on record, so a deploy to production hosts (the
    test fleet's hosts have no fleet_environment) is refused, and -e cannot lift the rule or soften its action."""
    fleet = one_region  # one region: see the module docstring
    policy("drill_max_age: 30d\ndrill_max_age_action: refuse\n")
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "t-3", extra_vars={"fleet_drill_max_age": "", "fleet_drill_max_age_action": "warn",
                                                           "fleet_allow_bad_release": True})
    assert proc.returncode != 0 and "no successful rollback drill" in out and "fleet_drill_max_age_action is refuse" in out, out
    assert nothing_new(fleet, before, "t-3")


def test_a_the_lock_host_must_be_a_fleet_host(one_region, releases, first_release):
    fleet = one_region  # one region: see the module docstring
    before = currents(fleet)
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": first_release, "fleet_lock_host": "localhost"})
    assert proc.returncode != 0 and "fleet_lock_host" in out, out
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": first_release, "fleet_lock_host": ""})
    assert proc.returncode != 0 and "fleet_lock_host" in out, out
    assert currents(fleet) == before

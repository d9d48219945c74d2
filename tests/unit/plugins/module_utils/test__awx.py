# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When a run counts as an AWX job (module_utils/_awx.py), and who launched it."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _awx

PDD = "/tmp/awx_4821_k2j3"
# ansible-runner without a container: the artifact directory in the private data directory (ident = job id).
LOCAL = {"JOB_ID": "4821", "AWX_PRIVATE_DATA_DIR": PDD, "AWX_ISOLATED_DATA_DIR": PDD + "/artifacts/4821"}
# In an execution environment: AWX_PRIVATE_DATA_DIR is the controller's path, the runner's is mounted at /runner.
CONTAINER = dict(LOCAL, AWX_ISOLATED_DATA_DIR="/runner/artifacts/4821")
META = {"awx_job_id": 4821, "awx_user_name": "bob", "awx_user_id": 7, "awx_job_launch_type": "manual",
        "awx_job_template_id": 11, "awx_job_template_name": "fleet rollback"}


@pytest.mark.parametrize("environ", [LOCAL, CONTAINER, dict(LOCAL, AWX_ISOLATED_DATA_DIR=PDD + "/artifacts/4821/")])
def test_the_proof_holds_for_a_job_run_by_ansible_runner(environ):
    assert _awx.job_proof(environ, 4821, True) == ("4821", "")
    assert _awx.job_proof(environ, "4821", True) == ("4821", "")


@pytest.mark.parametrize("environ, awx_job_id, exists, why", [
    ({}, 4821, True, "JOB_ID is not set"),
    (dict(LOCAL, JOB_ID="  "), 4821, True, "JOB_ID is not set"),
    (dict(LOCAL, JOB_ID="x1"), "x1", True, "JOB_ID=x1 is not an AWX job number"),
    (LOCAL, None, True, "awx_job_id is not set"),
    (LOCAL, "", True, "awx_job_id is not set"),
    (LOCAL, 4822, True, "JOB_ID=4821 differs from awx_job_id=4822"),
    (dict(LOCAL, AWX_PRIVATE_DATA_DIR=""), 4821, True, "AWX_PRIVATE_DATA_DIR is not set"),
    # AWX names the folder of job N awx_N_<random> (JOB_FOLDER_PREFIX): another job's, or no AWX folder at all.
    (dict(LOCAL, AWX_PRIVATE_DATA_DIR="/tmp/awx_482_x", AWX_ISOLATED_DATA_DIR="/tmp/awx_482_x/artifacts/4821"), 4821, True,
     "is not AWX's private data directory of job 4821"),
    (dict(LOCAL, AWX_PRIVATE_DATA_DIR="/home/me", AWX_ISOLATED_DATA_DIR="/home/me/artifacts/4821"), 4821, True,
     "is not AWX's private data directory"),
    (dict(LOCAL, AWX_PRIVATE_DATA_DIR="tmp/awx_4821_x", AWX_ISOLATED_DATA_DIR="tmp/awx_4821_x/artifacts/4821"), 4821, True,
     "is not AWX's private data directory"),
    # The runner's artifact directory must be this job's, in this private data directory or in an EE.
    (dict(LOCAL, AWX_ISOLATED_DATA_DIR=""), 4821, True, "AWX_ISOLATED_DATA_DIR=(unset)"),
    (dict(LOCAL, AWX_ISOLATED_DATA_DIR=PDD + "/artifacts/4820"), 4821, True, "was not started by ansible-runner"),
    (dict(LOCAL, AWX_ISOLATED_DATA_DIR="/tmp/other/artifacts/4821"), 4821, True, "was not started by ansible-runner"),
    (dict(LOCAL, AWX_ISOLATED_DATA_DIR="/runner/artifacts/../artifacts/4820"), 4821, True, "was not started"),
    (LOCAL, 4821, False, "does not exist"),
])
def test_the_proof_fails_and_says_why(environ, awx_job_id, exists, why):
    job_id, reason = _awx.job_proof(environ, awx_job_id, exists)
    assert job_id is None and why in reason, reason


def test_a_user_launch_records_the_user_and_the_job():
    operator, warnings = _awx.resolve("runner", LOCAL, dict(META, awx_workflow_job_id=90, awx_workflow_job_name="wf"), True)
    assert warnings == []
    assert operator == {"name": "bob", "source": "awx", "launched_by": "user", "awx_user_name": "bob", "awx_user_id": "7",
                        "awx_job_id": "4821", "awx_job_launch_type": "manual", "awx_job_template_id": "11",
                        "awx_job_template_name": "fleet rollback", "awx_workflow_job_id": "90",
                        "awx_workflow_job_name": "wf", "awx_schedule_name": None}


@pytest.mark.parametrize("awx_vars, name, launched_by", [
    # awx_meta_vars: no created_by -> no awx_user_*; a schedule's job has awx_schedule_name.
    ({"awx_job_launch_type": "scheduled", "awx_schedule_name": "nightly status"}, "schedule:nightly status", "schedule"),
    ({"awx_job_launch_type": "scheduled"}, "schedule:job 4821", "schedule"),
    # A job of a scheduled workflow: the workflow's schedule is the parent job's.
    ({"awx_job_launch_type": "workflow", "awx_workflow_job_id": 9, "awx_parent_job_schedule_name": "weekly drill"},
     "schedule:weekly drill", "schedule"),
    ({"awx_job_launch_type": "webhook", "awx_job_template_name": "fleet deploy"}, "webhook:fleet deploy", "webhook"),
    ({"awx_job_launch_type": "webhook"}, "webhook:job 4821", "webhook"),
    ({"awx_job_launch_type": "callback"}, "callback:job 4821", "callback"),
    ({}, "unknown:job 4821", "unknown"),
    ({"awx_user_name": "  "}, "unknown:job 4821", "unknown"),  # a blank is no user
])
def test_a_launch_without_a_user_is_recorded_as_such(awx_vars, name, launched_by):
    operator, warnings = _awx.resolve("runner", CONTAINER, dict(awx_vars, awx_job_id=4821), True)
    assert warnings == []
    assert (operator["name"], operator["source"], operator["launched_by"]) == (name, "awx", launched_by)
    assert operator["awx_user_name"] is None and operator["awx_user_id"] is None
    assert ":" in operator["name"]  # no AWX or OS user name has one: never mistaken for a person


def test_scheduled_workflow_job_records_the_parent_schedule():
    operator, _warnings = _awx.resolve("runner", LOCAL, {"awx_job_id": 4821, "awx_parent_job_schedule_name": "weekly"}, True)
    assert operator["awx_schedule_name"] == "weekly"


def test_outside_awx_every_awx_variable_is_ignored_with_a_warning():
    operator, warnings = _awx.resolve("alice", {"JOB_ID": "4821"}, META, False)
    assert operator == _awx.empty_operator("alice")
    assert operator["name"] == "alice" and operator["source"] == "os"
    assert len(warnings) == 1
    assert "awx_job_id, awx_user_name, awx_user_id" in warnings[0] and "AWX_PRIVATE_DATA_DIR is not set" in warnings[0]
    assert "operator is the controller's OS user 'alice'" in warnings[0]


def test_no_awx_variables_no_warning():
    assert _awx.resolve("alice", {}, {}, False) == (_awx.empty_operator("alice"), [])
    # tower_* twins and unrelated variables are not AWX's proof and not read
    assert _awx.resolve("alice", {}, {"tower_user_name": "x", "fleet_release": "v2"}, False)[1] == []


def test_artifact_dirs():
    assert _awx.artifact_dirs("/tmp/awx_1_a/", "1") == ["/tmp/awx_1_a/artifacts/1", "/runner/artifacts/1"]

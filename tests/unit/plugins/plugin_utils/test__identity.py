# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who runs this, on the controller (AWX's user only in a proven AWX job), and run_guard's run record."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._guard import GuardError
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

AWX_VARS = {"awx_user_name": "alice", "awx_job_id": 4242, "awx_job_template_name": "shop deploy"}


@pytest.fixture(autouse=True)
def fixture_controller(monkeypatch, tmp_path):
    monkeypatch.setattr(_identity, "os_user", lambda: "mallory")
    monkeypatch.setattr(_identity, "runs_dir", lambda: str(tmp_path / "runs"))
    monkeypatch.setattr(_identity, "playbook_pid", lambda: 777)


def test_os_user_is_the_effective_uid_not_the_environment(monkeypatch):
    monkeypatch.undo()
    monkeypatch.setenv("USER", "somebody-else")
    monkeypatch.setenv("LOGNAME", "somebody-else")
    import pwd  # pylint: disable=import-outside-toplevel
    assert _identity.os_user() == pwd.getpwuid(os.geteuid()).pw_name


def awx_dirs(tmp_path, job_id="4242"):
    """AWX's private data directory of job ``job_id`` and ansible-runner's artifact directory in it."""
    pdd = tmp_path / ("awx_%s_abcd" % job_id)
    (pdd / "artifacts" / job_id).mkdir(parents=True)
    return {"JOB_ID": job_id, "AWX_PRIVATE_DATA_DIR": str(pdd), "AWX_ISOLATED_DATA_DIR": str(pdd / "artifacts" / job_id)}


@pytest.mark.parametrize("environ", [
    {},
    {"JOB_ID": "4242"},  # issue 14: JOB_ID=4242 ansible-playbook ... -e awx_job_id=4242 -e awx_user_name=alice
    {"JOB_ID": "4242", "AWX_PRIVATE_DATA_DIR": "<tmp>"},  # issue 14's proof, no longer enough
    {"JOB_ID": "4242", "AWX_PRIVATE_DATA_DIR": "<pdd>", "AWX_ISOLATED_DATA_DIR": "<pdd>/artifacts/4242/missing"},
    {"JOB_ID": "4242", "AWX_PRIVATE_DATA_DIR": "/nonexistent/awx_4242_x", "AWX_ISOLATED_DATA_DIR": "/nonexistent/awx_4242_x/artifacts/4242"},
    {"JOB_ID": "4243", "AWX_PRIVATE_DATA_DIR": "<pdd>", "AWX_ISOLATED_DATA_DIR": "<pdd>/artifacts/4242"},
])
def test_awx_not_proven_the_os_user_counts(environ, tmp_path):
    pdd = awx_dirs(tmp_path)["AWX_PRIVATE_DATA_DIR"]
    environ = dict((key, value.replace("<tmp>", str(tmp_path)).replace("<pdd>", pdd)) for key, value in environ.items())
    operator, warnings = _identity.controller_operator(AWX_VARS, environ)
    assert operator["name"] == "mallory" and operator["source"] == "os" and operator["awx_user_name"] is None
    assert len(warnings) == 1 and "ignored" in warnings[0]


def test_awx_proven_names_the_awx_user(tmp_path):
    operator, warnings = _identity.controller_operator(dict(AWX_VARS, awx_user_id=12), awx_dirs(tmp_path))
    assert operator["name"] == "alice" and operator["source"] == "awx" and operator["launched_by"] == "user"
    assert (operator["awx_user_name"], operator["awx_user_id"], operator["awx_job_id"]) == ("alice", "12", "4242")
    assert operator["awx_job_template_name"] == "shop deploy"
    assert warnings == []


def test_holder_and_override(monkeypatch):
    monkeypatch.setattr(_identity, "controller_name", lambda: "ops-1")
    assert _identity.holder_of("alice", "20261126T210405Z-1") == "alice@ops-1 run 20261126T210405Z-1"
    assert _identity.holder_of("alice") == "alice@ops-1"
    warned = []

    class Display:
        @staticmethod
        def warning(message):
            warned.append(message)

    assert _identity.override({"actor": "mallory"}, "actor", "alice", Display())["actor"] == "alice"
    assert "'mallory' given by the task is ignored" in warned[0]
    assert _identity.override({"actor": "alice"}, "actor", "alice", Display()) == {"actor": "alice"} and len(warned) == 1
    assert _identity.override({}, "actor", "alice", Display()) == {"actor": "alice"} and len(warned) == 1


def test_run_record_round_trip_is_private_and_bound_to_the_process(monkeypatch, tmp_path):
    run_id = _identity.new_run_id()
    assert _identity.RUN_ID_RE.fullmatch(run_id)
    path = _identity.write_run_record({"run_id": run_id, "operation": "deploy", "pid": 777})
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o600) and oct(os.stat(tmp_path / "runs").st_mode & 0o777) == oct(0o700)
    assert _identity.update_run_record(run_id, policy={"exists": False})["policy"] == {"exists": False}
    assert json.loads(open(path).read())["policy"] == {"exists": False}
    monkeypatch.setattr(_identity, "playbook_pid", lambda: 778)
    with pytest.raises(GuardError, match="another ansible-playbook process"):
        _identity.read_run_record(run_id)


@pytest.mark.parametrize("run_id", ["", "r1", "../x", "20261126T210405Z-1\n", "20261126T210405Z-1/../../x"])
def test_a_run_id_not_issued_by_the_guard_is_refused(run_id):
    with pytest.raises(GuardError, match="not issued by fleetops.release.run_guard"):
        _identity.read_run_record(run_id)

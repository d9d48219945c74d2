# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""AWX jobs on the test fleet, run through ``ansible_runner.run()`` the way AWX runs them (issue 16, step 2).

AWX itself cannot run here; what reaches the playbook from it can, and is built here as AWX builds it for a job
(awx/main/tasks/jobs.py ``RunJob``, at the commit cited in ../shared/AWX-REFERENCE.md):

* a private data directory named ``awx_<job id>_<random>`` (``JOB_FOLDER_PREFIX``) with ``project/`` (the AWX
  project: the wrapper playbooks of extensions/awx/project/), ``inventory/``, ``env/extravars`` (written as AWX's
  ``safe_dump`` writes it, every string ``!unsafe``: the survey answers and launch variables first, AWX's ``awx_*``
  and ``tower_*`` meta variables last), ``env/cmdline`` (``-u``, ``--forks``, ``-l``, ``--check`` for a check job)
  and ``env/settings`` (``job_timeout``, output suppressed: the job output is the events' ``stdout``, as in AWX);
* the environment of ``build_env``: ``JOB_ID``, ``INVENTORY_ID``, ``PROJECT_REVISION``, ``AWX_HOST``,
  ``AWX_PRIVATE_DATA_DIR``, passed as ``envvars`` with ``ident`` = the job id; and what the execution environment
  (extensions/ee/) brings: the collection (here the checkout, through ANSIBLE_COLLECTIONS_PATH) and
  ``ORIGINAL_STDOUT_CALLBACK=fleetops.release.fleet`` (docs/awx.md, "Live progress").

The workflow "fleet deploy with approval" is walked from its definition in extensions/awx/controller/workflows.yml:
each node's job template (job_templates.yml) gives the playbook and job type, the node its limit, the workflow's
survey answers go to every node and the artifacts of the ancestors (set_stats) before them, as AWX's
``WorkflowJobNode.get_job_kwargs`` does; the test approves the approval node and follows the edge of each outcome.
The deploy of the rest fails because one host outside the canary group answers its health check with an error on the
way forward (its ``fleet_health_url``, in that job's inventory only, points at a path the app does not serve, except in
the revert walk), so the deploy reverts what it switched, and its failure edge rolls the canary hosts back; then the
status reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from test_audit_guard import records

ansible_runner = pytest.importorskip("ansible_runner")

pytestmark = pytest.mark.fleet

REPO = Path(__file__).resolve().parents[2]
AWX = REPO / "extensions" / "awx"
CANARY = ("us-1", "eu-1", "ap-1")  # one host per region
USER = {"awx_user_id": 7, "awx_user_name": "bob", "awx_user_email": "bob@example.com", "awx_user_first_name": "Bob",
        "awx_user_last_name": "Builder"}
ME = __import__("pwd").getpwuid(os.geteuid()).pw_name
JOB_TIMEOUT = 600
# A health URL that the app does not serve on the way forward (the deploy's walk), and its real one in the revert walk
# (play variable fleet_wave_phase of playbooks/deploy.yml), so that the deploy of the rest fails and reverts cleanly.
BROKEN_FORWARD = "http://{{ ansible_host }}:8000/{{ 'health' if fleet_wave_phase | default('') == 'revert' else 'no-such-path' }}"


class _UnsafeDumper(yaml.SafeDumper):
    """AWX's SafeStringDumper (awx/main/utils/safe_yaml.py): every string is written as !unsafe."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def safe_dump(variables):
    """AWX's safe_dump: one YAML document per top-level key, joined (no variable is trusted)."""
    return "".join(yaml.dump_all([{key: value}], None, Dumper=_UnsafeDumper, default_flow_style=False)
                   for key, value in variables.items())


def meta_vars(job_id, template, launch_type="manual", workflow=None, user=True, schedule=None):
    """AWX's awx_meta_vars() of a job (awx/main/models/unified_jobs.py, jobs.py), awx_ and tower_ twins."""
    meta = {"job_id": job_id, "job_launch_type": launch_type, "inventory_id": 1, "inventory_name": "fleet",
            "project_revision": "0123456789abcdef", "job_template_id": template["id"], "job_template_name": template["name"]}
    if workflow:
        meta.update(workflow_job_id=workflow[0], workflow_job_name=workflow[1])
    if schedule:
        meta.update(schedule_id=schedule[0], schedule_name=schedule[1])
    if user:
        meta.update((key[len("awx_"):], value) for key, value in USER.items())
    return dict(("%s_%s" % (prefix, key), value) for prefix in ("awx", "tower") for key, value in meta.items())


def templates():
    data = yaml.safe_load((AWX / "controller" / "job_templates.yml").read_text())["controller_templates"]
    return dict((item["name"], dict(item, id=index + 10)) for index, item in enumerate(data))


def workflow(name):
    data = yaml.safe_load((AWX / "controller" / "workflows.yml").read_text())["controller_workflows"]
    return next(item for item in data if item["name"] == name)


class Job:
    """One finished AWX job: rc, status, events, the job output (the events' stdout), its artifacts."""

    def __init__(self, runner, pdd):
        self.rc, self.status, self.pdd = runner.rc, runner.status, pdd
        self.events = sorted(runner.events, key=lambda event: event.get("counter", 0))
        self.stdout = "\n".join(event["stdout"] for event in self.events if event.get("stdout"))

    def of(self, kind):
        return [event for event in self.events if event.get("event") == kind]

    @property
    def artifacts(self):
        [stats] = self.of("playbook_on_stats")
        return stats["event_data"]["artifact_data"]

    def failures(self):
        return [event for event in self.of("runner_on_failed") if not event["event_data"].get("ignore_errors")]

    def __repr__(self):
        return "<job %s %s rc=%s>\n%s" % (self.pdd.name, self.status, self.rc, self.stdout[-6000:])


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet, empty_apps):  # pylint: disable=unused-argument
    return {release_id: fleet.build_release(release_id) for release_id in ("awx-1", "awx-2")}


@pytest.fixture(scope="module", name="launch")
def fixture_launch(fleet, tmp_path_factory):
    """launch(template name, survey answers, ...) -> Job: an AWX job of that template, run by ansible-runner."""
    base = tmp_path_factory.mktemp("awx")
    by_name = templates()
    counter = iter(range(4821, 4900))

    def launch(template_name, answers, *, limit=None, launch_extra=None, launch_type="manual", wf=None, user=True,
               artifacts=None, host_vars=None, awx_env=True, schedule=None):
        template = by_name[template_name]
        job_id = next(counter)
        pdd = base / ("awx_%d_%s" % (job_id, uuid.uuid4().hex[:8]))
        for sub in ("project", "inventory", "env"):
            (pdd / sub).mkdir(parents=True)
        shutil.copytree(AWX / "project", pdd / "project", dirs_exist_ok=True)
        inventory = yaml.safe_load(Path(fleet.inventory).read_text())
        inventory["all"]["children"]["canary"] = {"hosts": dict((name, None) for name in CANARY)}
        for name, values in (host_vars or {}).items():
            for group in inventory["all"]["children"]["fleet"]["children"].values():
                if name in (group.get("hosts") or {}):
                    group["hosts"][name] = dict(group["hosts"][name] or {}, **values)
        (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
        # AWX: JT extra vars and launch variables (here the survey answers and any launch-time extras), then the
        # ancestors' artifacts under the workflow's variables, then its meta variables last (build_extra_vars_file).
        launch_vars = dict(artifacts or {})
        launch_vars.update(answers)
        launch_vars.update(launch_extra or {})
        text = safe_dump(launch_vars)
        text += safe_dump(meta_vars(job_id, template, launch_type, wf, user, schedule))
        (pdd / "env" / "extravars").write_text(text)
        cmdline = ["-u", "root", "--forks=20"] + (["--check"] if template["job_type"] == "check" else [])
        cmdline += ["-l", limit] if limit else []
        (pdd / "env" / "cmdline").write_text(" ".join(cmdline))
        (pdd / "env" / "settings").write_text(json.dumps({"job_timeout": JOB_TIMEOUT, "suppress_ansible_output": True,
                                                          "suppress_output_file": True}))
        envvars = {
            "PATH": "%s%s%s" % (Path(sys.executable).parent, os.pathsep, os.environ.get("PATH", "")),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),  # the EE has the collection installed
            "ORIGINAL_STDOUT_CALLBACK": "fleetops.release.fleet",  # the EE image's environment (extensions/ee/)
            "ANSIBLE_PIPELINING": "True",
        }
        if awx_env:
            envvars.update({"JOB_ID": str(job_id), "INVENTORY_ID": "1", "PROJECT_REVISION": "0123456789abcdef",
                            "AWX_HOST": "https://awx.example.com", "AWX_PRIVATE_DATA_DIR": str(pdd),
                            "MAX_EVENT_RES": "700000"})
        else:
            envvars["JOB_ID"] = str(job_id)  # what a careless or hostile launcher outside AWX may export
        runner = ansible_runner.run(private_data_dir=str(pdd), playbook=template["playbook"],
                                    inventory=str(pdd / "inventory" / "hosts.yml"), ident=str(job_id), envvars=envvars,
                                    quiet=True, suppress_env_files=True)
        return Job(runner, pdd)

    return launch


def operator_of(job, audit_dir):
    summary = job.artifacts["fleetops_last_run"]
    [record] = records(audit_dir, summary["run_id"])
    return summary, record


def test_deploy_job_under_awx(fleet, releases, launch):
    """A deploy job: successful, no failed task, its summary in the artifacts, the AWX user in the audit record (a
    launch-time awx_user_name before AWX's own does not count), the wave progress in the job output."""
    path, sha = releases["awx-1"]
    job = launch("fleet deploy", {"fleet_release": "awx-1", "fleet_artifact": str(path), "fleet_artifact_sha256": sha,
                                  "fleet_reason": "first release from AWX"},
                 launch_extra={"awx_user_name": "mallory", "awx_user_id": 666})
    assert job.status == "successful" and job.rc == 0, job
    assert job.of("runner_on_failed") == [] and len(job.of("playbook_on_stats")) == 1, job
    summary, record = operator_of(job, fleet.state_dir / "audit")
    assert summary == job.artifacts["fleetops_last_deploy"]
    assert summary["operation"] == "deploy" and summary["outcome"] == "ok" and summary["to_release"] == "awx-1", summary
    assert sorted(summary["regions"]) == ["ap", "eu", "us"] and summary["regions"]["eu"]["to"] == ["awx-1"], summary
    operator = record["operator"]
    assert (operator["name"], operator["source"], operator["launched_by"]) == ("bob", "awx", "user"), operator
    assert (operator["awx_user_id"], operator["awx_job_id"], operator["awx_job_launch_type"]) == ("7", job.pdd.name.split("_")[1], "manual")
    assert operator["awx_job_template_name"] == "fleet deploy" and summary["operator"]["name"] == "bob"
    assert "mallory" not in json.dumps(record) and "mallory" not in json.dumps(job.artifacts)
    # The fleet callback under awx_display: the plan line, the waves and the summary are in the job output.
    assert re.search(r"\[fleet\] deploy \S+ by bob: %d host\(s\) to change" % len(fleet.hosts), job.stdout), job
    assert re.search(r"\[fleet\] wave 1/\d+ +\w+ +\d+/\d+ hosts switched", job.stdout), job
    assert "FLEET SUMMARY [%s]" % summary["run_id"] in job.stdout, job


def test_workflow_deploy_with_approval_fails_and_rolls_the_canary_back(fleet, releases, launch):
    """"fleet deploy with approval": canary ok -> approved -> the rest fails -> rollback_canary -> report."""
    spec = workflow("fleet deploy with approval")
    nodes = dict((node["identifier"], node) for node in spec["simplified_workflow_nodes"])
    targets = set(name for node in nodes.values() for edge in ("success_nodes", "failure_nodes", "always_nodes")
                  for name in node.get(edge) or [])
    [node_id] = [name for name in nodes if name not in targets]
    path, sha = releases["awx-2"]
    answers = {"fleet_deploy_release": "awx-2", "fleet_artifact": str(path), "fleet_artifact_sha256": sha,
               "fleet_reason": "awx-2 through the approval workflow"}
    rest_hosts = sorted(set(("us-1", "us-2", "eu-1", "eu-2", "ap-1", "ap-2")) - set(CANARY))
    walked, jobs, artifacts = [], {}, {}
    while node_id:
        node = nodes[node_id]
        walked.append(node_id)
        if "approval_node" in node:
            assert node["approval_node"]["timeout"] > 0 and node.get("failure_nodes"), node
            ok, job = True, None  # the change manager approves
        else:
            job = launch(node["unified_job_template"], answers, limit=node.get("limit"), launch_type="workflow",
                         wf=(90, spec["name"]), artifacts=artifacts,
                         host_vars={rest_hosts[-1]: {"fleet_health_url": BROKEN_FORWARD}} if node_id == "rest" else None)
            jobs[node_id] = job
            ok = job.status == "successful"
            assert job.of("playbook_on_stats"), job
            artifacts.update(job.artifacts)  # the ancestors' artifacts, for the next node
        following = (node.get("success_nodes") if ok else node.get("failure_nodes")) or node.get("always_nodes") or []
        node_id = following[0] if following else None
    assert walked == ["canary", "approve_rest", "rest", "rollback_canary", "report"], walked

    canary, rest, rollback, report = (jobs[name] for name in ("canary", "rest", "rollback_canary", "report"))
    assert canary.status == "successful" and canary.of("runner_on_failed") == [], canary
    assert canary.artifacts["fleetops_last_deploy"]["regions"]["us"]["to"] == ["awx-2"], canary.artifacts
    assert rest.status == "failed" and rest.failures(), rest
    failed = rest.artifacts["fleetops_last_deploy"]
    assert failed["outcome"] == "failed" and failed["time_to_recover_seconds"] is not None, failed
    assert "[fleet] reverting" in rest.stdout and "[fleet] failure:" in rest.stdout, rest
    assert rollback.status == "successful" and rollback.of("runner_on_failed") == [], rollback
    back = rollback.artifacts["fleetops_last_rollback"]
    assert back["outcome"] == "ok" and back["from_release"] == "awx-2" and back["to_release"] == "awx-1", back
    assert sorted(back["regions"]) == ["ap", "eu", "us"] and all(r["hosts"] == 1 for r in back["regions"].values())
    # The rollback node saw the deploy's artifacts as extra variables: they named nothing it reads.
    assert re.search(r"\[fleet\] rollback \S+ by bob: 3 host\(s\) to change", rollback.stdout), rollback
    assert report.status == "successful" and report.of("runner_on_failed") == [], report
    status = report.artifacts["fleetops_last_status"]
    assert status["outcome"] == "ok" and all(r["current"] == "awx-1" for r in status["regions"].values()), status
    assert status["operator"]["name"] == "bob" and status["operator"]["awx_workflow_job_id"] == "90", status
    # Every node records the workflow's user and the workflow job.
    for job in (canary, rest, rollback):
        run = job.artifacts["fleetops_last_run"]
        _summary, record = operator_of(job, fleet.state_dir / "audit")
        assert record["operator"]["name"] == "bob" and record["operator"]["awx_job_launch_type"] == "workflow", record
        assert record["operator"]["awx_workflow_job_name"] == spec["name"] and run["operator"]["name"] == "bob"


def test_scheduled_status_and_awx_variables_outside_awx(launch):
    """A scheduled job has no user: the schedule is recorded. The same awx_* variables without AWX's job environment
    (ansible-runner alone, JOB_ID exported) are ignored with a warning: the OS user counts."""
    scheduled = launch("fleet status", {"fleet_status_format": "table"}, launch_type="scheduled", user=False,
                       schedule=(3, "morning status"))
    assert scheduled.status == "successful", scheduled
    operator = scheduled.artifacts["fleetops_last_status"]["operator"]
    assert (operator["name"], operator["source"], operator["launched_by"]) == ("schedule:morning status", "awx", "schedule")
    assert operator["awx_user_name"] is None

    outside = launch("fleet status", {"fleet_status_format": "table"}, awx_env=False)
    assert outside.status == "successful", outside
    operator = outside.artifacts["fleetops_last_status"]["operator"]
    assert (operator["name"], operator["source"], operator["awx_user_name"]) == (ME, "os", None), operator
    assert "the job environment does not prove this is an AWX job" in outside.stdout, outside

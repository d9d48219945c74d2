# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When does this run inside an AWX / Automation controller job, and who launched it.

Pure functions: the caller (plugins/plugin_utils/_identity.py, on the controller) passes the environment variables,
the play's ``awx_*`` variables and whether ansible-runner's artifact directory exists; nothing here reads the
environment or the file system.

The proof of an AWX job (all of it, else every ``awx_*`` variable is ignored with a warning):

1. ``JOB_ID`` (environment) is a job number and equals the variable ``awx_job_id``. AWX sets both for every job:
   ``RunJob.build_env`` (``env['JOB_ID'] = str(job.pk)``) and ``awx_meta_vars`` (awx/main/tasks/jobs.py,
   awx/main/models/unified_jobs.py).
2. ``AWX_PRIVATE_DATA_DIR`` (environment, ``BaseTask.build_env``) is an absolute path whose last part is AWX's job
   folder of this job, ``awx_<JOB_ID>_<random>`` (``JOB_FOLDER_PREFIX = 'awx_%s_'``, awx/main/constants.py).
3. The private data directory that ansible-runner really runs with matches it: ansible-runner sets
   ``AWX_ISOLATED_DATA_DIR`` to its artifact directory, ``<private data dir>/artifacts/<ident>``, or
   ``/runner/artifacts/<ident>`` inside an execution environment container, where the private data directory is
   mounted at ``/runner`` (ansible_runner/config/_base.py, ``prepare_env``); AWX runs every job with
   ``ident = job id``. So ``AWX_ISOLATED_DATA_DIR`` must be ``<AWX_PRIVATE_DATA_DIR>/artifacts/<JOB_ID>`` (runner
   without a container) or ``/runner/artifacts/<JOB_ID>`` (an EE), and exist.

Since AWX 20.0.1 AWX writes its ``awx_*`` variables after the launch-time extra variables and survey answers
(``RunJob.build_extra_vars_file``: ``extra_vars.update(job.awx_meta_vars())``), so inside a proven job they are
AWX's own. Limits: this proves that the run is driven the way ansible-runner drives an AWX job, not that AWX's API
knows the job; whoever controls the controller's environment and files (their own shell) can imitate all of it, so
the controller account stays the boundary (README, "Trust model"). A look-up of ``/api/v2/jobs/<JOB_ID>/`` with a
controller credential would close that gap; it is not made (it needs network access to the controller's API and a
credential in every job).
"""

from __future__ import annotations

import posixpath

# The meta variables AWX passes to every job (awx_meta_vars; the tower_* twins are ignored) that the operator reads.
META_VARS = (
    "awx_job_id", "awx_user_name", "awx_user_id", "awx_job_launch_type", "awx_job_template_id", "awx_job_template_name",
    "awx_workflow_job_id", "awx_workflow_job_name", "awx_schedule_id", "awx_schedule_name",
    "awx_parent_job_schedule_name",
)
# The environment variables of the proof.
ENV_VARS = ("JOB_ID", "AWX_PRIVATE_DATA_DIR", "AWX_ISOLATED_DATA_DIR")
# Where ansible-runner mounts the private data directory in an execution environment container.
CONTAINER_ROOT = "/runner"
# The operator's AWX keys, recorded in the audit record (None outside AWX or when AWX did not send them).
OPERATOR_KEYS = ("awx_user_name", "awx_user_id", "awx_job_id", "awx_job_launch_type", "awx_job_template_id",
                 "awx_job_template_name", "awx_workflow_job_id", "awx_workflow_job_name", "awx_schedule_name")


def _text(value):
    """A variable as stripped text, '' when unset or blank (AWX sends a blank survey answer as '')."""
    if value is None or isinstance(value, bool):
        return ""
    return str(value).strip()


def artifact_dirs(private_data_dir, job_id):
    """Where ansible-runner's artifact directory of AWX job ``job_id`` may be: beside the private data directory
    (runner without a container) or in an execution environment container."""
    return [posixpath.join(posixpath.normpath(private_data_dir), "artifacts", job_id),
            posixpath.join(CONTAINER_ROOT, "artifacts", job_id)]


def job_proof(environ, awx_job_id, artifact_dir_exists):
    """``(job_id, why)``: the proven AWX job id and '' when the proof holds, else ``(None, why not)``.

    ``environ`` has the environment variables of ``ENV_VARS`` (missing ones are unset), ``awx_job_id`` is the
    variable, ``artifact_dir_exists`` whether ``AWX_ISOLATED_DATA_DIR`` names an existing directory (the caller
    checks).
    """
    env_id = _text(environ.get("JOB_ID"))
    var_id = _text(awx_job_id)
    pdd = _text(environ.get("AWX_PRIVATE_DATA_DIR"))
    artifacts = _text(environ.get("AWX_ISOLATED_DATA_DIR"))
    if not env_id:
        return None, "the environment variable JOB_ID is not set"
    if not env_id.isdigit():
        return None, "JOB_ID=%s is not an AWX job number" % env_id
    if not var_id:
        return None, "awx_job_id is not set"
    if env_id != var_id:
        return None, "JOB_ID=%s differs from awx_job_id=%s" % (env_id, var_id)
    if not pdd:
        return None, "AWX_PRIVATE_DATA_DIR is not set: this is not a job run by AWX"
    folder = posixpath.basename(posixpath.normpath(pdd))
    if not pdd.startswith("/") or not folder.startswith("awx_%s_" % env_id):
        return None, ("AWX_PRIVATE_DATA_DIR=%s is not AWX's private data directory of job %s (awx_%s_*)"
                      % (pdd, env_id, env_id))
    expected = artifact_dirs(pdd, env_id)
    if not artifacts or posixpath.normpath(artifacts) not in expected:
        return None, ("ansible-runner's artifact directory AWX_ISOLATED_DATA_DIR=%s is not %s: this run was not "
                      "started by ansible-runner for that job" % (artifacts or "(unset)", " or ".join(expected)))
    if not artifact_dir_exists:
        return None, "ansible-runner's artifact directory %s does not exist" % artifacts
    return env_id, ""


def launcher(awx_vars, job_id):
    """``(name, launched_by)`` of a proven AWX job: its user, or what launched it when no user did.

    A job launched by a person carries ``awx_user_name``; a scheduled one (also a job of a scheduled workflow) and a
    webhook's have none (awx_meta_vars sets the user only from ``created_by``): they are named
    ``schedule:<schedule name>``, ``webhook:<job template>``, else ``<launch type>:job <id>``. A ``:`` is in no AWX
    or OS user name, so such a name can never be taken for a person's.
    """
    user = _text(awx_vars.get("awx_user_name"))
    if user:
        return user, "user"
    launch_type = _text(awx_vars.get("awx_job_launch_type")) or "unknown"
    schedule = _text(awx_vars.get("awx_schedule_name")) or _text(awx_vars.get("awx_parent_job_schedule_name"))
    if schedule or launch_type == "scheduled":
        return "schedule:%s" % (schedule or "job %s" % job_id), "schedule"
    if launch_type == "webhook":
        return "webhook:%s" % (_text(awx_vars.get("awx_job_template_name")) or "job %s" % job_id), "webhook"
    return "%s:job %s" % (launch_type, job_id), launch_type


def empty_operator(os_user):
    """The operator outside AWX: the controller's OS user, every AWX key None."""
    operator = {"name": os_user, "source": "os", "launched_by": "user"}
    operator.update((key, None) for key in OPERATOR_KEYS)
    return operator


def resolve(os_user, environ, awx_vars, artifact_dir_exists):
    """``(operator, warnings)``: who runs this. Outside a proven AWX job the OS user, with a warning when ``awx_*``
    variables were given; inside one AWX's launcher (``launcher``) with the job's AWX keys (``OPERATOR_KEYS``)."""
    awx_vars = awx_vars or {}
    operator = empty_operator(os_user)
    job_id, why = job_proof(environ, awx_vars.get("awx_job_id"), artifact_dir_exists)
    if job_id is None:
        given = [name for name in META_VARS if _text(awx_vars.get(name))]
        warnings = []
        if given:
            warnings.append("%s given, but the job environment does not prove this is an AWX job (%s): they are ignored "
                            "and the operator is the controller's OS user %r" % (", ".join(given), why, os_user))
        return operator, warnings
    name, launched_by = launcher(awx_vars, job_id)
    operator.update(name=name, source="awx", launched_by=launched_by)
    for key in OPERATOR_KEYS:
        value = _text(awx_vars.get(key))
        operator[key] = value or None
    if not operator["awx_schedule_name"] and _text(awx_vars.get("awx_parent_job_schedule_name")):
        operator["awx_schedule_name"] = _text(awx_vars.get("awx_parent_job_schedule_name"))
    operator["awx_job_id"] = job_id
    return operator, []

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run's summary as custom statistics (``ansible.builtin.set_stats``): AWX's job artifacts.

AWX stores the custom statistics of a job (``artifact_data`` of its ``playbook_on_stats`` event, that is what
``set_stats`` with ``per_host: false`` sets) as the job's artifacts, shows them on the job and passes them to the
later nodes of a workflow as extra variables. So the keys are chosen to be nobody's input: ``fleetops_last_run`` (the
last run of any operation) and ``fleetops_last_<deploy|rollback|status>``; no role reads a ``fleetops_*`` variable
(a test checks it). An artifact named like a role variable (``fleet_release``) would become the next node's input,
above its inventory and survey: a rollback node would "roll back" to the release the deploy node just deployed.

Pure functions over the run report (docs/run-report.md) or the audit record written from it, and over the release
matrix of the status role (filter ``release_matrix``).
"""

from __future__ import annotations

import datetime

STATS_PREFIX = "fleetops_last_"
LAST_RUN = STATS_PREFIX + "run"
_FAILED_OUTCOMES = ("unreachable",)


def stats_key(operation):
    """The per-operation key: an automatic rollback is a rollback."""
    return STATS_PREFIX + ("rollback" if operation == "automatic_rollback" else str(operation or "run"))


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iso(seconds):
    seconds = _number(seconds)
    if seconds is None:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _operator(record):
    """The operator as the audit record has it (a dict), or the report's actor (a name)."""
    operator = record.get("operator")
    if isinstance(operator, dict) and operator.get("name"):
        keep = ("name", "source", "launched_by", "awx_user_name", "awx_user_id", "awx_job_id", "awx_job_launch_type",
                "awx_job_template_name", "awx_workflow_job_id", "awx_schedule_name")
        return dict((key, operator.get(key)) for key in keep)
    actor = record.get("actor")
    return {"name": actor if isinstance(actor, str) and actor else None, "source": None}


def _single(values):
    values = sorted(set(value for value in values if value))
    return values[0] if len(values) == 1 else None


def run_summary(record):
    """The summary of a deploy or rollback from its run report or audit record.

    ``{run_id, operation, operator, outcome, status, reason, limit, started_at, finished_at, duration_seconds,
    time_to_recover_seconds, failures, regions: {region: {hosts, from: [...], to: [...], outcomes: {outcome: n}}},
    from_release, to_release}``: ``outcome`` is ``ok``, ``failed`` or ``running`` (a run that did not finish);
    ``from_release``/``to_release`` are the one release every host came from / went to, else None.
    """
    record = record if isinstance(record, dict) else {}
    hosts = record.get("hosts") if isinstance(record.get("hosts"), dict) else {}
    regions = {}
    for name in sorted(hosts):
        host = hosts[name] if isinstance(hosts[name], dict) else {}
        region = regions.setdefault(str(host.get("region") or "-"), {"hosts": 0, "from": [], "to": [], "outcomes": {}})
        region["hosts"] += 1
        for key in ("from", "to"):
            value = host.get(key)
            if value and value not in region[key]:
                region[key].append(value)
        outcome = str(host.get("outcome") or "pending")
        region["outcomes"][outcome] = region["outcomes"].get(outcome, 0) + 1
    for region in regions.values():
        region["from"].sort()
        region["to"].sort()
    status = record.get("status")
    finished = _number(record.get("finished"))
    failures = record.get("failures") if isinstance(record.get("failures"), list) else []
    if status in ("ok", "failed"):
        outcome = "failed" if status == "failed" or failures else "ok"
    else:
        outcome = "failed" if failures else "running"
    started = _number(record.get("started"))
    end = finished if finished is not None else _number(record.get("updated"))
    return {
        "run_id": record.get("run_id"),
        "operation": record.get("operation"),
        "operator": _operator(record),
        "outcome": outcome,
        "status": status,
        "reason": record.get("reason") or "",
        "limit": record.get("limit") or "",
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_seconds": round(end - started, 1) if started is not None and end is not None else None,
        "time_to_recover_seconds": _number(record.get("recovery_seconds")),
        "failures": len(failures),
        "regions": regions,
        "from_release": _single(host.get("from") for host in hosts.values() if isinstance(host, dict)),
        "to_release": _single(host.get("to") for host in hosts.values() if isinstance(host, dict)),
    }


def status_summary(matrix, operator=None):
    """The summary of a status run from the release matrix (filter ``release_matrix``).

    ``{run_id: None, operation: status, operator, outcome, regions: {region: {hosts, current, releases, unreachable,
    differs}}}``: ``current`` is the region's majority release (None when split); ``outcome`` is ``ok`` when every host
    is reachable and runs its region's release, else ``degraded``.
    """
    matrix = matrix if isinstance(matrix, dict) else {}
    regions = {}
    degraded = False
    for region in matrix.get("regions") or []:
        if not isinstance(region, dict):
            continue
        rows = [row for row in region.get("hosts") or [] if isinstance(row, dict)]
        unreachable = sorted(row.get("host") for row in rows if not row.get("reachable", True))
        differs = sorted(row.get("host") for row in rows if row.get("differs"))
        degraded = degraded or bool(unreachable or differs) or region.get("majority") is None
        regions[str(region.get("name") or "-")] = {
            "hosts": len(rows), "current": region.get("majority"),
            "releases": dict((str(release), count) for release, count in (region.get("releases") or {}).items()),
            "unreachable": unreachable, "differs": differs}
    return {"run_id": None, "operation": "status", "operator": operator if isinstance(operator, dict) else None,
            "outcome": "degraded" if degraded else "ok", "regions": regions}


def stats_data(summary):
    """The ``data`` of ``set_stats``: the summary under ``fleetops_last_run`` and its operation's key."""
    return {LAST_RUN: summary, stats_key(summary.get("operation")): summary}

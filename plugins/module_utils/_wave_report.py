# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run report of a deploy or rollback: what the waves did, host by host, kept as one document.

The run ledger (action plugin run_ledger, module_utils/_run_ledger.py) keeps the report as the fact
``fleet_run_report`` on the controller (``hostvars.localhost``) and records every step's registered results in it
with these functions; the summary, the revert decision, the callback's progress lines and the audit record are all
read from it. Its shape is documented in
docs/run-report.md. Everything here is pure: results and times come in as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.fleetops.release.plugins.module_utils import _baseline
from ansible_collections.fleetops.release.plugins.module_utils._release_store import is_rollback

OUTCOME_PENDING = "pending"
OUTCOME_UNCHANGED = "unchanged"
# A host an earlier run left drained, already healthy on its target: this run only put it back in rotation.
BACK_IN_ROTATION = "back in rotation"
# The order in which a host's steps are judged: the first failed one names the failure.
STEPS = ("drain", "hook", "unreachable", "switch", "health checks", "enable")


class WaveReportError(ValueError):
    """The report or a result given to it is not what the waves produce."""


def walk(plan):
    """The plan as the walk plays need it: hosts in batch order, the batch sizes (for ``serial``), the batches, and
    each host's batch number."""
    batches = [batch for wave in plan for batch in wave["batches"]]
    hosts = [host for batch in batches for host in batch["hosts"]]
    return {
        "hosts": hosts,
        "sizes": [len(batch["hosts"]) for batch in batches],
        "batches": batches,
        "batch_of": {host: number for number, batch in enumerate(batches) for host in batch["hosts"]},
    }


def _failed(result):
    return isinstance(result, Mapping) and bool(result.get("failed"))


def _unreachable(result):
    return isinstance(result, Mapping) and bool(result.get("unreachable"))


def _ran(result):
    """A registered result of a task that was attempted (not skipped, not absent)."""
    return isinstance(result, Mapping) and bool(result) and not result.get("skipped")


def _message(result, default="failed"):
    if not isinstance(result, Mapping):
        return default
    return str(result.get("msg") or default)


def _item_key(item):
    if isinstance(item, Mapping):
        return item.get("key")
    return item


def region_failures(loop_result):
    """``{region: message}`` for the regions whose step failed: from ``{region: registered result}``, or from the
    result of a task looped over regions (items are region names or ``dict2items`` entries) or over load-balancer
    hosts (lb_pool's ``pools``, one per region)."""
    if not isinstance(loop_result, Mapping):
        return {}
    if "results" not in loop_result:
        return {region: _message(result) for region, result in loop_result.items() if _failed(result) or _unreachable(result)}
    failures = {}
    for item_result in loop_result.get("results") or []:
        item = item_result.get("item") if isinstance(item_result, Mapping) else None
        if isinstance(item, Mapping) and "pools" in item:
            # lb_pool with pools (tasks/lb_pool.yml): one item per load-balancer host, one pool per region; a call that
            # did not answer per pool (unreachable, a bad argument) fails each of its regions.
            if isinstance(item_result.get("pools"), list):
                failures.update((pool.get("name"), _message(pool)) for pool in item_result["pools"] if _failed(pool))
            elif _failed(item_result) or _unreachable(item_result):
                failures.update((pool.get("name"), _message(item_result)) for pool in item["pools"])
        elif _failed(item_result) or _unreachable(item_result):
            failures[_item_key(item)] = _message(item_result)
    return failures


def start(run, hosts, plan, now):
    """A new report. ``run``: run_id, operation, actor, reason, limit, strategy, mode, started; ``hosts``:
    ``{host: {region, from, to, needed}}`` for every host of the run."""
    batch_of = walk(plan)["batch_of"] if plan else {}
    batches = walk(plan)["batches"] if plan else []
    report = {
        "run_id": run.get("run_id"),
        "operation": run.get("operation"),
        "actor": run.get("actor"),
        "reason": run.get("reason") or "",
        "limit": run.get("limit") or "",
        "strategy": run.get("strategy") or "rolling",
        "mode": run.get("mode") or "lockstep",
        "on_failure": run.get("on_failure") or "revert",
        "max_fail": int(run.get("max_fail") or 0),
        "started": run.get("started") or now,
        "updated": now,
        "finished": None,
        "status": "running",
        "stopped": False,
        "waves": len(plan or []),
        "position": None,
        "hosts": {},
        "gates": [],
        "failures": [],
        "revert": [],
        "first_switch": None,
        "failed_at": None,
        "recovered_at": None,
        "recovery_seconds": None,
        "phases": [{"name": "preflight", "started": run.get("started") or now, "finished": now}],
    }
    for host, row in hosts.items():
        number = batch_of.get(host)
        report["hosts"][host] = {
            "region": row.get("region"),
            "from": row.get("from") or "",
            "to": row.get("to") or "",
            "wave": batches[number]["wave"] if number is not None else None,
            "outcome": OUTCOME_PENDING if row.get("needed") else OUTCOME_UNCHANGED,
            "started": None,
            "finished": None,
            "touched": False,
            "unreachable": False,
        }
        if row.get("out_of_rotation"):
            # Left drained (or in maintenance) by an earlier run: this run puts it back in rotation.
            report["hosts"][host]["out_of_rotation"] = True
    return report


def _copy(report):
    new = dict(report)
    new["hosts"] = {host: dict(row) for host, row in report.get("hosts", {}).items()}
    new["gates"] = list(report.get("gates") or [])
    new["failures"] = list(report.get("failures") or [])
    new["phases"] = [dict(phase) for phase in report.get("phases") or []]
    return new


def _enter_phase(report, name, now):
    phases = report["phases"]
    if phases and phases[-1]["name"] == name:
        return
    if phases and phases[-1].get("finished") is None:
        phases[-1]["finished"] = now
    phases.append({"name": name, "started": now, "finished": None})


def _budget_exceeded(report):
    return len(report["failures"]) > int(report.get("max_fail") or 0)


def _count_failures(report, failures, now, stop=False, budget=True):
    """Add ``failures`` to ``report`` (in place): the first failure's time, whether the run stops (``stop``, or beyond
    ``max_fail`` when ``budget``), and the hosts a deploy now reverts."""
    report["failures"].extend(failures)
    if failures and report["failed_at"] is None:
        report["failed_at"] = now
    if stop or (budget and _budget_exceeded(report)):
        report["stopped"] = True
    report["revert"] = _revert_hosts(report)
    report["updated"] = now


def _revert_hosts(report):
    """Hosts to put back where they were: only for a deploy (on_failure revert); the failed touched hosts, and every
    touched host once the run stopped. Unreachable hosts cannot be reverted and hosts without a previous release have
    nothing to go back to."""
    # Blue/green flips back by itself; only the rolling walk has hosts to put back one by one.
    if report.get("on_failure") != "revert" or report.get("strategy") == "blue_green":
        return []
    revert = []
    for host, row in report["hosts"].items():
        if not row.get("touched") or row.get("unreachable") or not row.get("from") or row.get("reverted"):
            continue
        if row["outcome"].endswith(" failed") or report["stopped"]:
            revert.append(host)
    return revert


def _only_out_of_rotation(row):
    """Whether the run had nothing to do on this host but put it back in rotation (no other release to put live)."""
    return bool(row.get("out_of_rotation")) and bool(row.get("to")) and row.get("from") == row.get("to")


def record_switch(report, batch, phase, drain, host_results, now, started=None):
    """After a batch's hosts were drained and put live: each host's outcome so far. ``drain`` is the registered
    result of the drain task (looped over regions); ``host_results`` is ``{host: {activation, checks,
    hook_failure}}``. The hosts that are live and healthy are listed in ``live`` for the enable step."""
    report = _copy(report)
    _enter_phase(report, "waves" if phase == "forward" else "revert", started or now)
    drain_failures = region_failures(drain)
    live = []
    for host in batch["hosts"]:
        row = report["hosts"].setdefault(host, {"region": None, "from": "", "to": "", "wave": batch.get("wave")})
        results = host_results.get(host) or {}
        activation = results.get("activation")
        checks = results.get("checks")
        hook_failure = results.get("hook_failure") or ""
        region = row.get("region")
        step, message = "", ""
        if region in drain_failures:
            step, message = "drain", drain_failures[region]
        elif hook_failure:
            step, message = "hook", hook_failure
        elif _unreachable(activation):
            step, message = "unreachable", _message(activation, "unreachable")
        elif _failed(activation):
            step, message = "switch", _message(activation)
        elif not _ran(activation):
            # Not started (the run stopped before this batch's switch): the host stays as it was, pending.
            step, message = None, ""
        elif _failed(checks):
            step, message = "health checks", _message(checks)
        row["touched"] = bool(row.get("touched")) or _ran(activation)
        row["unreachable"] = _unreachable(activation)
        row["started"] = row.get("started") if phase == "revert" and row.get("started") else (started or now)
        row["step"] = step
        row["message"] = message
        if step == "":
            live.append(host)
    if phase == "forward" and report["first_switch"] is None:
        report["first_switch"] = started or now
    report["live"] = live
    report["updated"] = now
    return report


def record_enable(report, batch, phase, enable, now):
    """After the live hosts were enabled: final outcomes of the batch, its failures, whether the run stops."""
    report = _copy(report)
    enable_failures = region_failures(enable)
    new_failures = []
    for host in batch["hosts"]:
        row = report["hosts"][host]
        step, message = row.pop("step", ""), row.pop("message", "")
        if step is None:
            continue
        if not step and row.get("region") in enable_failures:
            step, message = "enable", enable_failures[row.get("region")]
        if step == "unreachable":
            row["outcome"] = "unreachable"
        elif step:
            row["outcome"] = "%s failed" % step
        else:
            row["outcome"] = "reverted" if phase == "revert" else BACK_IN_ROTATION if _only_out_of_rotation(row) else "switched"
        if phase == "revert" and not step:
            row["reverted"] = True
        row["finished"] = now
        if step:
            new_failures.append({"host": host, "region": row.get("region"), "phase": "%s %s" % (phase, step),
                                 "wave": batch.get("wave"), "message": message})
    report.pop("live", None)
    # Failures of a revert are reported but never stop it: it always completes.
    _count_failures(report, new_failures, now, budget=phase == "forward")
    report["status"] = "reverting" if phase == "revert" else "running"
    report["position"] = {"phase": phase, "wave": batch.get("wave"), "batch": batch.get("step"),
                          "batches": batch.get("steps")}
    return report


def record_gates(report, batch, gates, now):
    """Region gates after a region finished its part of a wave: ``gates`` is ``{region: {health, traffic, baseline}}`` of
    registered results (any may be skipped; ``baseline`` is a list, one per comparison). A failed gate counts like a
    failed host."""
    report = _copy(report)
    new_failures = []
    for region, results in (gates or {}).items():
        # The canary-versus-baseline comparisons (issue 19): a list per region, their figures kept in baseline_gates.
        checks = [results.get("health"), results.get("traffic")] + list(results.get("baseline") or [])
        failed = [result for result in checks if _failed(result)]
        ran = [result for result in checks if _ran(result)]
        if not ran:
            continue
        for result in results.get("baseline") or []:
            if _ran(result):
                report.setdefault("baseline_gates", []).append(_baseline.report_entry(batch.get("wave"), region, result))
        message = "; ".join(_message(result) for result in failed) if failed else "passed"
        report["gates"].append({"wave": batch.get("wave"), "region": region, "passed": not failed, "message": message})
        if failed:
            new_failures.append({"host": "(load balancer)", "region": region, "phase": "gate", "wave": batch.get("wave"),
                                 "message": message})
    _count_failures(report, new_failures, now)
    return report


def record_hook(report, hook, failure, now):
    """A failed wave hook (before-wave, after-wave) counts like a failed host."""
    if not failure:
        return report
    report = _copy(report)
    _count_failures(report, [dict(failure, phase="%s hook" % hook)], now)
    return report


def merge(report, hosts, failures, now, stop=False):
    """Outcomes decided outside the walk (blue/green flips, an unexpected error): ``hosts`` updates hosts' rows,
    ``failures`` are added; ``stop`` stops the run whatever the failure budget."""
    report = _copy(report)
    for host, fields in (hosts or {}).items():
        report["hosts"].setdefault(host, {}).update(fields)
    _count_failures(report, list(failures or []), now, stop=stop)
    return report


def run_timeout(value, name="fleet_run_timeout"):
    """``value`` as whole seconds >= 0 (ints and digit strings, not bools or floats); WaveReportError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        number = None
    if number is None or number < 0:
        raise WaveReportError("%s is %r: it must be a whole number of seconds, 0 for no deadline" % (name, value))
    return number


def check_deadline(report, timeout, now, batch=None):
    """Before a batch of the walk: the run's deadline is its start plus ``timeout`` seconds (``fleet_run_timeout``;
    0: none), kept in the report as ``deadline``. Past it, no further batch starts: the run stops and fails with a
    failure naming the deadline, and a deploy reverts every host it touched (``revert``), whatever the failure budget.
    A run that has already stopped is left as it is."""
    timeout = run_timeout(timeout)
    report = _copy(report)
    started = float(report.get("started") or now)
    # Time the run spent held at a manual pause (issue 19) does not count against its waves: it moves the deadline.
    report["deadline"] = started + timeout + float(report.get("paused_seconds") or 0) if timeout else None
    if report["deadline"] is None or now < report["deadline"] or report.get("stopped"):
        return report
    wave = (batch or {}).get("wave")
    message = ("the run passed its deadline: fleet_run_timeout=%d s after its start, %.0f s ago; no further batch "
               "started%s" % (timeout, now - started, " (wave %s was next)" % wave if wave is not None else ""))
    _count_failures(report, [{"host": "(run)", "region": "", "phase": "deadline", "wave": wave, "message": message}],
                    now, stop=True)
    return report


def finish(report, now):
    """The run is over: status, end of the last phase, and the time to recover."""
    report = _copy(report)
    if report["phases"] and report["phases"][-1].get("finished") is None:
        report["phases"][-1]["finished"] = now
    failed = bool(report["failures"])
    report["status"] = "failed" if failed else "ok"
    report["finished"] = now
    report["updated"] = now
    reverted = any(row.get("reverted") for row in report["hosts"].values())
    if is_rollback(report.get("operation")) and not failed and report["first_switch"] is not None:
        report["recovered_at"] = now
        report["recovery_seconds"] = round(now - report["first_switch"], 1)
    elif reverted and report["failed_at"] is not None:
        stuck = [row for row in report["hosts"].values()
                 if row.get("touched") and not row.get("reverted") and row["outcome"] != "unchanged"]
        if not stuck:
            report["recovered_at"] = now
            report["recovery_seconds"] = round(now - report["failed_at"], 1)
    return report


def shown_operation(operation):
    """An operation as people read it: ``automatic_rollback`` -> ``automatic rollback``."""
    return str(operation or "").replace("_", " ")


def summary(report):
    """The summary table of a finished report, as text."""
    lines = []
    elapsed = (report.get("finished") or report.get("updated") or 0) - (report.get("started") or 0)
    verdict = "ok" if not report.get("failures") else "FAILED, %d failure(s)%s" % (
        len(report["failures"]), ", touched hosts reverted" if any(
            row.get("reverted") for row in report["hosts"].values()) else "")
    limit = ", limited to %s" % report["limit"] if report.get("limit") else ""
    lines.append("run %s (%s by %s): %s in %.1f s%s" % (report.get("run_id"), shown_operation(report.get("operation")),
                                                        report.get("actor"), verdict, elapsed, limit))
    if report.get("recovery_seconds") is not None:
        lines.append("time to recover: %.1f s" % report["recovery_seconds"])
    if report.get("kept_before_first_release"):
        lines.append("the configuration in place before the first release was kept on %d host(s), in "
                     "<app_root>/snapshots/before-first-release-<time>: %s" % (
                         len(report["kept_before_first_release"]), ", ".join(report["kept_before_first_release"])))
    lines.append("%-14s %-8s %-16s    %-16s %s" % ("host", "region", "from", "to", "outcome"))
    for host, row in sorted(report.get("hosts", {}).items(), key=lambda item: (str(item[1].get("region")), item[0])):
        outcome = row.get("outcome") or "-"
        if outcome == OUTCOME_PENDING:
            outcome = "not started"
        if outcome.endswith(" failed") or outcome == "unreachable":
            outcome += " (left out of its load balancer)"
        lines.append("%-14s %-8s %-16s -> %-16s %s" % (host, row.get("region") or "-", row.get("from") or "-",
                                                       row.get("to") or "-", outcome))
    return "\n".join(lines)

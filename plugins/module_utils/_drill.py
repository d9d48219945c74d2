# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rollback drills: the inputs, the starting point, the comparison of the end with the start, the figures measured from
outside, and the report (JSON, Markdown; the picture is drawn by plugin_utils/_drill_picture.py, on the controller only).
Pure functions over plain data, used on the controller by the action plugins drill_plan, drill_run and drill_report and
by the module drill_info (see docs/drill.md).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import re

from ansible_collections.fleetops.release.plugins.module_utils._audit import AuditError, parse_time
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

FAULTS = ("broken_health", "errors_5xx", "crash", "rollback")
DEPLOY_FAULTS = ("broken_health", "errors_5xx", "crash")
PRODUCTION_NAMES = ("production", "prod")
REPORT_FORMAT = 1
REPORTS_DIR = "drills"  # below the audit directory
# A fault that a deploy brings: what the operator's broken release is meant to do.
FAULT_TEXT = {
    "broken_health": "deploy of a release that fails its health check",
    "errors_5xx": "deploy of a release that answers 5xx to a share of the requests",
    "crash": "deploy of a release that crashes at start",
    "rollback": "rollback of the current release to the previous one, and forward again",
}
MARKS = ("fault", "detected", "recovery_start", "recovery_end")
_FAILED_LINE = re.compile(r"^(fatal|failed): \[([^\]]+)\]: (FAILED|UNREACHABLE)! => (.*)$")


class DrillError(FleetError):
    """A drill cannot start or cannot be reported as asked; the message lists what is wrong and what to do."""


def _number(value, name, problems, minimum=0.0, whole=False):
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number <= minimum or (whole and number != int(number)):
        problems.append("%s must be %s above %g, got %r" % (name, "a whole number" if whole else "a number", minimum, value))
        return None
    return int(number) if whole else number


# -- the inputs -----------------------------------------------------------------------------------------------


def check_inputs(group, fault, hosts, hostvars, groups, release=None, artifact=None, artifact_sha256=None,
                 allow_production=False, reason=None, probe_path="/", probe_interval=0.1, probe_timeout=2.0,
                 probe_max_seconds=900, probe_max_requests=50000, run_timeout=1800):
    """The drill's plan, or DrillError naming every problem.

    ``hosts`` are the play's hosts (the group, narrowed by any --limit), ``hostvars`` and ``groups`` the inventory's.
    A host is production unless its ``fleet_environment`` says otherwise (unknown counts as production); a production
    group needs ``allow_production`` and a ``reason``.
    """
    problems = []
    if not isinstance(group, str) or not group.strip():
        problems.append("fleet_drill_group is required: name the inventory group to drill (-e fleet_drill_group=staging)")
        group = None
    elif group in ("all", "ungrouped"):
        problems.append("fleet_drill_group is %r: a drill runs on a group meant for it (staging, or a canary group), never "
                        "on every host; name that group" % group)
    elif group not in groups:
        problems.append("fleet_drill_group %r is not a group of the inventory (groups: %s)" % (group, ", ".join(sorted(groups)) or "none"))
    if fault not in FAULTS:
        problems.append("fleet_drill_fault must be one of %s, got %r" % (", ".join(FAULTS), fault))
    hosts = sorted(hosts or [])
    if group and group in groups:
        outside = [host for host in hosts if host not in groups[group]]
        if outside:
            problems.append("hosts outside fleet_drill_group %s are in the play: %s" % (group, ", ".join(outside)))
    if not hosts:
        problems.append("the drill has no hosts: group %r is empty or --limit left none of it" % group)
    if fault in DEPLOY_FAULTS:
        if not release:
            problems.append("fleet_drill_fault=%s deploys a deliberately broken release: give its id as fleet_drill_release" % fault)
        if not artifact:
            problems.append("fleet_drill_fault=%s needs the broken release's tarball as fleet_drill_artifact" % fault)
    production = sorted(host for host in hosts
                        if str((hostvars.get(host) or {}).get("fleet_environment", "production")).strip().lower() in PRODUCTION_NAMES)
    if production and not allow_production:
        verb = "is" if len(production) == 1 else "are"
        problems.append("%s of group %s %s production (fleet_environment is production or not set): a drill there needs "
                        "-e fleet_drill_allow_production=true and a reason (fleet_reason); for a staging group set "
                        "fleet_environment: staging in its group_vars" % (", ".join(production), group, verb))
    elif production and not (isinstance(reason, str) and reason.strip()):
        problems.append("a drill on production hosts (%s) needs a reason: -e fleet_reason=\"...\"" % ", ".join(production))
    regions = {}
    for host in hosts:
        values = hostvars.get(host) or {}
        region = values.get("fleet_region")
        if not region:
            problems.append("host %s has no fleet_region" % host)
            continue
        entry = regions.setdefault(region, {"hosts": [], "url": values.get("fleet_lb_url")})
        entry["hosts"].append(host)
        if not entry["url"]:
            entry["url"] = values.get("fleet_lb_url")
    for region, entry in sorted(regions.items()):
        if not entry["url"]:
            problems.append("region %s has no fleet_lb_url: the drill measures through each region's load balancer "
                            "(set fleet_lb_url, e.g. http://lb.%s.example.com/, in the region's group_vars)" % (region, region))
    if not isinstance(probe_path, str) or not probe_path.startswith("/"):
        problems.append("fleet_drill_probe_path must be a URL path starting with /, got %r" % (probe_path,))
    probe = {"path": probe_path,
             "interval": _number(probe_interval, "fleet_drill_probe_interval", problems),
             "timeout": _number(probe_timeout, "fleet_drill_probe_timeout", problems),
             "max_seconds": _number(probe_max_seconds, "fleet_drill_probe_max_seconds", problems, whole=True),
             "max_requests": _number(probe_max_requests, "fleet_drill_probe_max_requests", problems, whole=True)}
    run_timeout = _number(run_timeout, "fleet_drill_run_timeout", problems, whole=True)
    if problems:
        raise DrillError("the drill cannot start (%d problem%s); nothing was changed:\n  - %s" % (
            len(problems), "" if len(problems) == 1 else "s", "\n  - ".join(problems)))
    return {"group": group, "fault": fault, "fault_text": FAULT_TEXT[fault], "hosts": hosts, "production": production,
            "regions": dict((region, {"hosts": sorted(entry["hosts"]), "url": entry["url"]}) for region, entry in regions.items()),
            "release": release if fault in DEPLOY_FAULTS else None, "probe": probe, "run_timeout": run_timeout}


# -- the state of the hosts -----------------------------------------------------------------------------------


def config_digests(entries_by_path, key):
    """``{path: digest}``: a keyed digest (HMAC-SHA256 with the drill's own key) of what each configuration path holds,
    so that equal digests mean equal configuration and a digest never helps to guess a secret file's content."""
    digests = {}
    for path, entries in sorted(entries_by_path.items()):
        canonical = json.dumps([dict((k, v) for k, v in entry.items() if k not in ("uid", "gid")) for entry in entries or []],
                               sort_keys=True, separators=(",", ":"))
        digests[path] = hmac.new(key.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha256).hexdigest()
    return digests


def host_state(read, lb_state=None):
    """One host's state as the drill compares it, from its drill_host_info result and its state in its load balancer."""
    if not isinstance(read, dict) or read.get("failed") or read.get("unreachable") or "current" not in read:
        return {"reachable": False, "error": (read or {}).get("msg") or "no answer", "current": None, "lb": lb_state}
    lock = read.get("lock")
    return {"reachable": True, "current": read.get("current"), "previous": read.get("previous"),
            "release_ids": list(read.get("release_ids") or []), "pending": read.get("pending"), "bad": sorted(read.get("bad") or []),
            "lock": (lock or {}).get("holder") if lock else None, "config": dict(read.get("config") or {}), "lb": lb_state}


def judge_start(states):
    """``(release, problems)``: the release every host starts from, and why the drill cannot start from here."""
    problems = []
    for host, state in sorted(states.items()):
        if not state["reachable"]:
            problems.append("%s: cannot be read (%s)" % (host, state.get("error")))
            continue
        if not state["current"]:
            problems.append("%s: has no current release; deploy one before drilling" % host)
        if state.get("pending"):
            problems.append("%s: has an unfinished %s; converge it (rollback.yml) before drilling" % (host, state["pending"].get("operation")))
        if state.get("lock"):
            problems.append("%s: is locked by %s" % (host, state["lock"]))
        if state["current"] and state["current"] in (state.get("bad") or []):
            problems.append("%s: its current release %s is marked bad; clear the mark (fleetops.release.release_mark state=good) "
                            "or deploy a good release before drilling" % (host, state["current"]))
        if state.get("lb") not in (None, "ready"):
            problems.append("%s: is %s in its load balancer, not in rotation" % (host, state.get("lb")))
    releases = sorted(set(state["current"] for state in states.values() if state.get("current")))
    if len(releases) > 1:
        by_release = dict((release, sorted(h for h, s in states.items() if s.get("current") == release)) for release in releases)
        problems.append("the hosts run different releases (%s): a drill starts from one release; converge them first" % "; ".join(
            "%s on %s" % (release, ", ".join(hosts)) for release, hosts in sorted(by_release.items())))
    return (releases[0] if len(releases) == 1 else None), problems


def compare_states(start, end):
    """What differs between the start and the end, one item per host and aspect: ``{host, what, start, end}``."""
    differences = []
    for host in sorted(set(start) | set(end)):
        before, after = start.get(host) or {}, end.get(host) or {}
        if not after.get("reachable"):
            differences.append({"host": host, "what": "reachable", "start": True, "end": after.get("error") or False})
            continue
        if before.get("current") != after.get("current"):
            differences.append({"host": host, "what": "release", "start": before.get("current"), "end": after.get("current")})
        for path in sorted(set(before.get("config") or {}) | set(after.get("config") or {})):
            was, now = (before.get("config") or {}).get(path), (after.get("config") or {}).get(path)
            if was != now:
                differences.append({"host": host, "what": "config %s" % path, "start": (was or "")[:12] or None,
                                    "end": (now or "")[:12] or None})
        if after.get("lb") not in (None, "ready") or before.get("lb") != after.get("lb"):
            differences.append({"host": host, "what": "load balancer", "start": before.get("lb"), "end": after.get("lb")})
        if after.get("lock"):
            differences.append({"host": host, "what": "lock", "start": before.get("lock"), "end": after.get("lock")})
        if after.get("pending"):
            differences.append({"host": host, "what": "unfinished operation", "start": None, "end": after["pending"].get("operation")})
    return differences


SCHEMA_HOST = "(database)"  # the "host" of a schema difference: the database of fleet_db, not a host of the group


def schema_state(read):
    """The schema as the drill compares it, from a schema_info result (run once on fleet_db's delegate): ``{read,
    version, tool}``, or ``{read: false, error}``; None when the drill has no ``fleet_db`` (the task was skipped)."""
    if not isinstance(read, dict) or read.get("skipped") or not read:
        return None
    if read.get("failed") or read.get("unreachable") or "current_version" not in read:
        return {"read": False, "version": None, "error": read.get("msg") or "no answer"}
    return {"read": True, "version": read.get("current_version"), "tool": read.get("tool")}


def judge_start_schema(schema):
    """Why the drill cannot start from this schema reading (a list; empty without fleet_db or when it was read)."""
    if schema is None or schema.get("read"):
        return []
    return ["the database schema (fleet_db) cannot be read: %s; the drill compares it at the end, so it does not start "
            "without it (fix fleet_db, or drill without it)" % schema.get("error")]


def compare_schema(start, end):
    """The schema where it was: ``[]``, or one difference ``{host: "(database)", what, start, end}``."""
    if start is None and end is None:
        return []
    before, after = start or {}, end or {}
    if not after.get("read"):
        return [{"host": SCHEMA_HOST, "what": "schema version", "start": before.get("version"),
                 "end": "unreadable (%s)" % (after.get("error") or "not read")}]
    if before.get("version") != after.get("version"):
        return [{"host": SCHEMA_HOST, "what": "schema version", "start": before.get("version"), "end": after.get("version")}]
    return []


# -- the runs the drill starts --------------------------------------------------------------------------------


def child_command(binary, playbook, inventories, limit, extra_vars_args, own_vars, options):
    """The argv of a child ansible-playbook: the drill's own inventory, --limit (its hosts), CLI options and -e
    (``extra_vars_args``, raw as given to the drill), then the drill's variables last, so they win."""
    argv = [binary]
    for source in inventories or ():
        argv += ["-i", source]
    argv += ["--limit", ",".join(limit)]
    for flag, value in options:
        argv += [flag] if value is True else [flag, str(value)]
    for raw in extra_vars_args or ():
        argv += ["-e", raw]
    argv += ["-e", json.dumps(own_vars, sort_keys=True), playbook]
    return argv


_RUN_ID = re.compile(r"\brun (\d{8}T\d{6}Z-\d+)\b")


def run_id_in_output(text):
    """The run id an ansible-playbook of this collection printed first (its guard's message, its failure), or None."""
    match = _RUN_ID.search(text or "")
    return match.group(1) if match else None


def failures_in_output(text, limit=20):
    """``[{host, msg}]`` of the failed tasks of an ansible-playbook output (default callback, one JSON result per line),
    leaving out those that the playbook ignored."""
    lines = (text or "").splitlines()
    found = []
    for index, line in enumerate(lines):
        match = _FAILED_LINE.match(line.strip())
        if not match:
            continue
        following = next((item.strip() for item in lines[index + 1:] if item.strip()), "")
        if following == "...ignoring":
            continue
        host = match.group(2).split(" -> ")[0].strip()
        try:
            result = json.loads(match.group(4))
        except ValueError:
            result = {"msg": match.group(4)}
        message = result.get("msg") if isinstance(result, dict) else None
        found.append({"host": host, "msg": str(message if message is not None else result)[:2000]})
        if len(found) >= limit:
            break
    return found


# -- figures and report ---------------------------------------------------------------------------------------


def _iso(moment):
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _epoch(value):
    """Seconds since the epoch from a report time (float) or an ISO-8601 text; None otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_time(value).timestamp() if value else None
    except AuditError:
        return None


def is_bad(record):
    """A request the users would have noticed: no answer, or an answer other than 2xx/3xx."""
    status = record.get("status") or 0
    return not 200 <= status < 400


def series(records, regions, start, end, step=1.0):
    """Per region, one row per ``step`` seconds from ``start``: requests, failed, error rate and the share of the region's
    hosts on each release (each host that answered so far counts with the release of its latest answer; a host the load
    balancer has not sent a request to yet is not counted, so the shares add up to 1)."""
    out = {}
    buckets = max(1, int((end - start) // step) + 1)
    for region in sorted(regions):
        rows = [{"t": round(index * step, 3), "requests": 0, "failed": 0, "error_rate": 0.0, "releases": {}} for index in range(buckets)]
        latest = {}
        region_records = [record for record in records if record.get("region") == region]
        position = 0
        for index, row in enumerate(rows):
            limit = start + (index + 1) * step
            while position < len(region_records) and region_records[position]["t"] < limit:
                record = region_records[position]
                position += 1
                if record["t"] < start:
                    continue
                row["requests"] += 1
                row["failed"] += 1 if is_bad(record) else 0
                if record.get("host") and record.get("release"):
                    latest[record["host"]] = record["release"]
            row["error_rate"] = round(row["failed"] / row["requests"], 4) if row["requests"] else 0.0
            counts = {}
            for release in latest.values():
                counts[release] = counts.get(release, 0) + 1
            row["releases"] = dict((release, round(count / float(len(latest)), 4)) for release, count in sorted(counts.items()))
        out[region] = rows
    return out


def _run_view(run):
    """The part of a drill_run result and of its audit record that the report keeps."""
    audit = run.get("audit") or {}
    return {"step": run.get("step"), "playbook": run.get("playbook"), "exit_status": run.get("exit_status"), "timed_out": run.get("timed_out", False),
            "started": run.get("started"), "finished": run.get("finished"), "run_id": audit.get("run_id") or run.get("run_id"),
            "status": audit.get("status") or ("ok" if run.get("exit_status") == 0 else "failed"),
            "failed_at": _epoch(audit.get("failed_at")), "first_switch": _epoch(audit.get("first_switch")),
            "recovered_at": _epoch(audit.get("recovered_at")), "recovery_seconds": audit.get("recovery_seconds"),
            "failures": [dict(host=item.get("host"), msg=item.get("message") or item.get("msg")) for item in audit.get("failures") or []]
            or list(run.get("failures") or []),
            "hosts": dict((host, (info or {}).get("outcome")) for host, info in (audit.get("hosts") or {}).items())}


def marks(fault, runs, recovered_in_time=True):
    """``{fault, detected, recovery_start, recovery_end}`` (epoch seconds or None) and which run recovered the fleet.

    - fault: when the drill started its fault (the first run it started).
    - detected: when the product found the fault (the deploy's first failure, ``failed_at`` of its audit record); for a
      fault the product let through (a deploy that passed its gates), when the drill found the fleet off its starting
      release and started the recovery; none for the rollback drill, whose fault is the rollback itself.
    - recovery: the run that brought the fleet back (the deploy's revert, the recovery rollback, or for the rollback drill
      the rollback), from its failure or first switch to the moment its audit record says every host was back.
    """
    result = dict((name, None) for name in MARKS)
    result["recovering_run"] = None
    result["detected_by"] = None
    if not runs:
        return result
    first = runs[0]
    result["fault"] = first.get("started")
    if fault == "rollback":
        recovering = first
        result["recovery_start"] = recovering.get("first_switch") or recovering.get("started")
    else:
        recovery = next((run for run in runs[1:] if run.get("step") == "recover"), None)
        if first.get("failed_at"):
            result["detected"], result["detected_by"] = first["failed_at"], "product"
        elif recovery is not None:
            result["detected"], result["detected_by"] = recovery.get("started"), "drill"
        recovering = recovery if recovery is not None else (first if first.get("failed_at") else None)
        if recovering is first:
            result["recovery_start"] = first.get("failed_at")
        elif recovering is not None:
            result["recovery_start"] = recovering.get("first_switch") or recovering.get("started")
    if recovering is not None:
        result["recovering_run"] = recovering.get("run_id")
        # A run that failed recovered nothing: its end is no recovery end (nor is one that left the fleet elsewhere).
        ended = recovering.get("recovered_at") or (recovering.get("finished") if recovering.get("exit_status") == 0 else None)
        if recovered_in_time:
            result["recovery_end"] = ended
    return result


def figures(records, mark_times, runs, start_states, differences, probe_window):
    """The drill's figures: requests and failures from outside, times to detect and to recover, hosts touched."""
    bad = [record for record in records if is_bad(record)]
    failed_by_region = {}
    for record in bad:
        failed_by_region[record.get("region")] = failed_by_region.get(record.get("region"), 0) + 1
    fault = mark_times.get("fault")
    touched = set()
    for run in runs:
        for host, outcome in (run.get("hosts") or {}).items():
            if outcome not in (None, "unchanged", "pending"):
                touched.add(host)
    touched |= set(item["host"] for item in differences if item["host"] != SCHEMA_HOST)
    recovering = next((run for run in runs if run.get("run_id") and run.get("run_id") == mark_times.get("recovering_run")), None)
    audit_recover = None
    if recovering is not None:
        audit_recover = recovering.get("recovery_seconds")
        if audit_recover is None and mark_times.get("recovery_end") and mark_times.get("recovery_start"):
            audit_recover = mark_times["recovery_end"] - mark_times["recovery_start"]
    return {
        "requests": len(records),
        "requests_failed": len(bad),
        "requests_failed_by_region": failed_by_region,
        "error_rate": round(len(bad) / float(len(records)), 4) if records else None,
        "first_bad_request": _iso(bad[0]["t"]) if bad else None,
        "last_bad_request": _iso(bad[-1]["t"]) if bad else None,
        "time_to_recover_outside": round(bad[-1]["t"] - bad[0]["t"], 3) if bad else 0.0,
        "time_to_detect": round(mark_times["detected"] - fault, 3) if fault and mark_times.get("detected") else None,
        "time_to_recover_audit": round(audit_recover, 3) if isinstance(audit_recover, (int, float)) else None,
        "hosts_touched": sorted(touched),
        "hosts": len(start_states),
        "probe_seconds": round(probe_window[1] - probe_window[0], 3) if records else 0.0,
    }


def build_report(plan, run_id, operator, started, finished, start_release, start_states, end_states, runs, records,
                 data_checks, start_problems=(), start_schema=None, end_schema=None):
    """The drill report (JSON-ready dict): plan, marks, figures, series, the end state and the verdict with its causes.
    ``start_schema``/``end_schema``: :func:`schema_state` at the start and at the end (None without fleet_db)."""
    views = [_run_view(run) for run in runs]
    differences = compare_states(start_states, end_states) + compare_schema(start_schema, end_schema) if not start_problems else []
    window = (records[0]["t"], records[-1]["t"]) if records else (started, finished)
    mark_times = marks(plan["fault"], views, recovered_in_time=not differences)
    problems = list(start_problems)
    for view in views:
        if view["timed_out"]:
            problems.append("%s run (%s.yml) did not finish within fleet_drill_run_timeout and was stopped" % (view["step"], view["playbook"]))
        # The deploy of a broken release is meant to fail, once its gates caught the fault (failed_at); failing before
        # (a lock held, a bad artifact, a known-bad release id) means the fault never took effect.
        expected_to_fail = view["step"] == "fault" and plan["fault"] in DEPLOY_FAULTS and view["failed_at"] is not None
        if view["exit_status"] != 0 and not view["timed_out"] and not expected_to_fail:
            causes = "; ".join("%s: %s" % (item.get("host"), item.get("msg")) for item in view["failures"][:5]) or "see its output"
            problems.append("%s run %s (%s.yml) failed: %s" % (view["step"], view["run_id"] or "-", view["playbook"], causes))
    for item in differences:
        problems.append("%s: %s is %s, was %s at the start" % (item["host"], item["what"], item["end"], item["start"]))
    if not records:
        problems.append("the prober recorded no answer through the load balancers (%s), so nothing was measured from outside; "
                        "see the task 'Wait for the prober to stop'" % ", ".join(
                            "%s %s" % (region, info.get("url")) for region, info in sorted(plan["regions"].items())))
    for check in data_checks:
        if check.get("rc") not in (0, None) or check.get("failed"):
            output = (check.get("stderr") or check.get("stdout") or check.get("msg") or "")[:300]
            problems.append("data check %s the drill failed (exit %s): %s" % (check.get("phase"), check.get("rc"), output))
    findings = []
    if mark_times["detected_by"] == "drill":
        findings.append("deploy.yml let the broken release through (no health check or gate caught it); the drill found the "
                        "hosts off %s and recovered with rollback.yml. Consider a traffic or metric gate (fleet_traffic_gate, "
                        "fleet_metric_gate) that would catch this fault." % start_release)
    report = {
        "format": REPORT_FORMAT, "event": "drill", "operation": "drill", "run_id": run_id, "operator": operator,
        "group": plan["group"], "fault": plan["fault"], "fault_text": plan["fault_text"], "release": plan.get("release"),
        "hosts": plan["hosts"], "regions": plan["regions"], "production": plan["production"],
        "started": started, "finished": finished, "started_at": _iso(started), "finished_at": _iso(finished),
        "start_release": start_release, "runs": views,
        "marks": dict((name, mark_times[name]) for name in MARKS),
        "marks_at": dict((name, _iso(mark_times[name])) for name in MARKS),
        "detected_by": mark_times["detected_by"], "findings": findings,
        "figures": figures(records, mark_times, views, start_states, differences, window),
        "end_state": {"matched": not differences and not start_problems, "differences": differences,
                      "schema": None if start_schema is None and end_schema is None else {
                          "start": (start_schema or {}).get("version"), "end": (end_schema or {}).get("version"),
                          "matched": not compare_schema(start_schema, end_schema)},
                      "start": start_states, "end": end_states},
        "data_checks": data_checks,
        "series": series(records, plan["regions"], window[0], window[1]) if records else {},
        "series_start": window[0],
        "ok": not problems,
        "outcome": "ok" if not problems else "failed",
        "problems": problems,
    }
    return report


def _seconds(value):
    return "-" if value is None else "%.1f s" % value


def render_markdown(report, picture_name=None):
    """The report for people."""
    fig = report["figures"]
    lines = ["# Rollback drill %s: %s" % (report["run_id"], "passed" if report["ok"] else "FAILED"), "",
             "- group **%s** (%d hosts%s), regions %s" % (
                 report["group"], len(report["hosts"]), ", production" if report["production"] else "", ", ".join(sorted(report["regions"]))),
             "- fault **%s**: %s%s" % (report["fault"], report["fault_text"], " (release %s)" % report["release"] if report.get("release") else ""),
             "- started %s, finished %s, by %s" % (report["started_at"], report["finished_at"], (report.get("operator") or {}).get("name", "-")),
             "- starting release %s" % (report["start_release"] or "-"), "",
             "| figure | value |", "| --- | --- |",
             "| time to detect | %s%s |" % (_seconds(fig["time_to_detect"]),
                                            " (by the %s)" % report["detected_by"] if report.get("detected_by") else ""),
             "| time to recover (first to last failed request, from outside) | %s |" % _seconds(fig["time_to_recover_outside"]),
             "| time to recover (audit record) | %s |" % _seconds(fig["time_to_recover_audit"]),
             "| requests | %d |" % fig["requests"],
             "| requests failed | %d%s |" % (fig["requests_failed"], " (%s)" % ", ".join(
                 "%s %d" % item for item in sorted(fig["requests_failed_by_region"].items())) if fig["requests_failed"] else ""),
             "| hosts touched | %d of %d%s |" % (len(fig["hosts_touched"]), fig["hosts"],
                                                 ": " + ", ".join(fig["hosts_touched"]) if fig["hosts_touched"] else ""),
             "| end state matched | %s |" % ("yes" if report["end_state"]["matched"] else "**no**")]
    schema = report["end_state"].get("schema")
    if schema:
        lines.append("| schema version (start, end) | %s, %s%s |" % (schema["start"] or "-", schema["end"] or "-",
                                                                     "" if schema["matched"] else " **differs**"))
    lines.append("")
    lines += ["## Marks", "", "| mark | time |", "| --- | --- |"]
    lines += ["| %s | %s |" % (name.replace("_", " "), report["marks_at"][name] or "-") for name in MARKS]
    lines += ["", "## Runs", "", "| step | playbook | run | status | started | finished |", "| --- | --- | --- | --- | --- | --- |"]
    for run in report["runs"]:
        lines.append("| %s | %s.yml | %s | %s | %s | %s |" % (
            run["step"], run["playbook"], run["run_id"] or "-", run["status"], _iso(run["started"]) or "-", _iso(run["finished"]) or "-"))
    if report["problems"]:
        lines += ["", "## What went wrong", ""] + ["- %s" % problem for problem in report["problems"]]
    if report.get("findings"):
        lines += ["", "## Findings", ""] + ["- %s" % finding for finding in report["findings"]]
    differences = report["end_state"]["differences"]
    if differences:
        lines += ["", "## End state differences", "", "| host | what | start | end |", "| --- | --- | --- | --- |"]
        lines += ["| %s | %s | %s | %s |" % (item["host"], item["what"], item["start"], item["end"]) for item in differences]
    if report["data_checks"]:
        lines += ["", "## Data check", ""]
        lines += ["- %s: exit %s" % (check.get("phase"), check.get("rc")) for check in report["data_checks"]]
    if picture_name:
        lines += ["", "## Error rate and releases over time", "", "![drill %s](%s)" % (report["run_id"], picture_name)]
    return "\n".join(lines) + "\n"


def report_paths(directory, run_id):
    """Where a drill's files are kept: ``<audit dir>/drills/<run id>.{json,md,svg}``."""
    base = os.path.join(directory, REPORTS_DIR, run_id)
    return {"json": base + ".json", "markdown": base + ".md", "svg": base + ".svg"}


def summary(report):
    """A drill's line in drill_info and in its audit record."""
    figures_ = report.get("figures") or {}
    return {"run_id": report.get("run_id"), "group": report.get("group"), "fault": report.get("fault"),
            "started_at": report.get("started_at"), "finished_at": report.get("finished_at"), "outcome": report.get("outcome"),
            "ok": report.get("ok"), "time_to_detect": figures_.get("time_to_detect"),
            "time_to_recover_outside": figures_.get("time_to_recover_outside"),
            "time_to_recover_audit": figures_.get("time_to_recover_audit"), "requests_failed": figures_.get("requests_failed"),
            "end_state_matched": (report.get("end_state") or {}).get("matched"), "problems": report.get("problems") or []}


def list_drills(directory, group=None, since=None):
    """``(drills, problems)``: the summary of every drill report kept in ``<directory>/drills``, oldest first."""
    folder = os.path.join(directory, REPORTS_DIR)
    drills, problems = [], []
    try:
        names = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    except FileNotFoundError:
        return [], []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError) as exc:
            problems.append("%s: cannot be read (%s); skipped" % (path, exc))
            continue
        if not isinstance(report, dict) or report.get("event") != "drill":
            problems.append("%s: not a drill report; skipped" % path)
            continue
        if group and report.get("group") != group:
            continue
        if since is not None and (_epoch(report.get("started_at")) or 0) < since:
            continue
        item = summary(report)
        item["files"] = report_paths(directory, report.get("run_id") or name[:-5])
        if "files" in report and not (report.get("files") or {}).get("svg"):
            item["files"]["svg"] = None  # drawn without matplotlib on the controller: no picture was kept
        drills.append(item)
    drills.sort(key=lambda item: item.get("started_at") or "")
    return drills, problems


def freshness(drills, now, max_age, group=None):
    """How long ago the newest successful drill (of ``group``, or of any group) finished, against ``max_age`` seconds:
    ``{fresh, age_seconds, last_ok, message}``."""
    passed = [item for item in drills if item.get("ok") and (group is None or item.get("group") == group)]
    where = "of group %s" % group if group else "of any group"
    if not passed:
        return {"fresh": False, "age_seconds": None, "last_ok": None,
                "message": "no successful rollback drill %s is on record: run playbooks/drill.yml" % where}
    last = max(passed, key=lambda item: _epoch(item.get("finished_at")) or 0)
    age = now - (_epoch(last.get("finished_at")) or 0)
    fresh = age <= max_age
    message = "the last successful rollback drill %s (run %s, group %s) finished %s, %.1f days ago%s" % (
        where, last.get("run_id"), last.get("group"), last.get("finished_at"), age / 86400.0,
        "" if fresh else ", longer ago than fleet_drill_max_age (%.1f days): run playbooks/drill.yml" % (max_age / 86400.0))
    return {"fresh": fresh, "age_seconds": round(age, 1), "last_ok": last, "message": message}

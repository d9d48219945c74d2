# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
type: stdout
short_description: Live progress per wave and region and a summary per region of fleet deploys and rollbacks
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - A stdout callback built on the default one (C(ansible.builtin.default)). It reads the run report that the
    collection's playbooks keep in the fact C(fleet_run_report) (see C(docs/run-report.md)) and prints, as the run
    goes, one line per region whose progress changed (C([fleet] wave 2/3  eu  3/4 hosts switched, 0 failed)), each
    host failure, each region gate's verdict and the start of a revert. No line is printed twice.
  - Before the play recap it prints a summary per run, with per region its hosts, each distinct C(from -> to) pair,
    the hosts per outcome and the time from its first host's start to its last host's end; then the run's id,
    operation, actor, status, total time, the time to recover when the report has one, the time of each run phase,
    failed gates and failures.
  - With O(fleet_task_output=false) (the default) the ordinary per-task lines (ok, changed, skipped, included,
    retries, task banners) are left out; play banners, warnings, failures that are not ignored, the output of
    C(ansible.builtin.debug) tasks (the playbooks' own messages), diffs asked for with C(--diff) and the recap stay.
    With O(fleet_task_output=true) the output is the default callback's, plus the fleet lines.
  - Plain text, coloured only when Ansible's output is coloured, so it reads well in AWX job output.
  - A report that is missing keys or holds unexpected values never stops the run; what cannot be read is shown
    as C(-).
  - With ansible-runner and AWX, set the environment variable C(ANSIBLE_STDOUT_CALLBACK=fleetops.release.fleet) for
    the run (ansible-runner's event callback then builds on this one) and set O(fleet_task_output) through its
    environment variable.
extends_documentation_fragment:
  - default_callback
  - result_format_callback
requirements:
  - set as the stdout callback (C(stdout_callback = fleetops.release.fleet) in the C([defaults]) section of
    C(ansible.cfg), or C(ANSIBLE_STDOUT_CALLBACK=fleetops.release.fleet))
options:
  fleet_task_output:
    description:
      - V(false) leaves out the ordinary per-task lines and shows the fleet progress, warnings, failures, the
        playbooks' messages and the recap.
      - V(true) shows the default callback's output as well as the fleet lines.
    type: bool
    default: false
    env:
      - name: ANSIBLE_FLEET_TASK_OUTPUT
    ini:
      - section: callback_fleet
        key: fleet_task_output
"""

EXAMPLES = r"""
# ansible.cfg:
#   [defaults]
#   stdout_callback = fleetops.release.fleet
#   [callback_fleet]
#   fleet_task_output = false
#
# One run, with the default per-task output as well:
#   ANSIBLE_STDOUT_CALLBACK=fleetops.release.fleet ANSIBLE_FLEET_TASK_OUTPUT=true \
#     ansible-playbook fleetops.release.deploy -e fleet_release=v2
#
# ansible-runner (env/envvars of the private data directory):
#   ANSIBLE_STDOUT_CALLBACK: fleetops.release.fleet
"""

import datetime
import math
import os
import re
from collections.abc import Mapping

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.callback.default import CallbackModule as DefaultCallbackModule

REPORT_FACT = "fleet_run_report"
PREFIX = "[fleet]"
OPTION = "fleet_task_output"
OPTION_ENV = "ANSIBLE_FLEET_TASK_OUTPUT"
PLUGIN_NAME = "fleetops.release.fleet"
# Outcomes in the order the summary lists them; failed steps and unknown outcomes follow in order of appearance.
OUTCOME_ORDER = ("switched", "reverted", "unchanged", "pending", "unreachable")
_DEBUG_ACTIONS = frozenset(("debug", "ansible.builtin.debug", "ansible.legacy.debug"))
_SPACES = re.compile(r"\s+")

# --- reading a report that may be incomplete: every accessor returns a usable value ------------------------------


def _mapping(value):
    return value if isinstance(value, Mapping) else {}


def _sequence(value):
    return list(value) if isinstance(value, (list, tuple)) else []


def _number(value):
    """A float, or None; numbers that a template turned into strings are accepted."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # NaN and infinity are no time


def _integer(value):
    number = _number(value)
    return int(number) if number is not None else None


def _text(value, default="-"):
    """One line of text: whitespace (newlines of error messages) collapsed; default for None and empty."""
    if value is None:
        return default
    text = _SPACES.sub(" ", str(value)).strip()
    return text or default


def _flag(value):
    try:
        return boolean(value, strict=False)
    except TypeError:
        return False


def is_failed(outcome):
    """A host outcome that counts as failed: "<step> failed" and unreachable."""
    outcome = _text(outcome, "")
    return outcome == "unreachable" or outcome.endswith("failed")


def format_seconds(value):
    seconds = _number(value)
    if seconds is None or seconds < 0:
        return "-"
    if seconds < 59.95:
        return "%.1fs" % seconds
    whole = int(round(seconds))
    if whole < 3600:
        return "%dm %02ds" % divmod(whole, 60)
    return "%dh %02dm" % (whole // 3600, whole % 3600 // 60)


def format_time(value):
    stamp = _number(value)
    if stamp is None:
        return "-"
    try:
        return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "-"


def _span(started, finished):
    start, end = _number(started), _number(finished)
    return end - start if start is not None and end is not None else None


def _operation(report):
    """The run's operation as people read it (``automatic_rollback`` -> ``automatic rollback``)."""
    return _text(report.get("operation")).replace("_", " ")


def find_report(result):
    """The fleet_run_report a task result sets (the last one of a loop), or None."""
    result = _mapping(result)
    report = _mapping(result.get("ansible_facts")).get(REPORT_FACT)
    if isinstance(report, Mapping):
        return report
    for item in reversed(_sequence(result.get("results"))):
        report = _mapping(_mapping(item).get("ansible_facts")).get(REPORT_FACT)
        if isinstance(report, Mapping):
            return report
    return None


def hosts_by_region(report):
    """Region name -> list of (host name, host entry), regions and hosts in the report's order."""
    regions = {}
    for name, host in _mapping(report.get("hosts")).items():
        host = _mapping(host)
        regions.setdefault(_text(host.get("region")), []).append((_text(name), host))
    return regions


def _count_words(counts):
    return ", ".join("%d %s" % (count, outcome) for outcome, count in counts)


def outcome_counts(hosts):
    """(outcome, count) pairs: the known outcomes in OUTCOME_ORDER, then the others in order of appearance."""
    counts = {}
    for dummy, host in hosts:
        outcome = _text(host.get("outcome"), "pending")
        counts[outcome] = counts.get(outcome, 0) + 1
    ordered = [outcome for outcome in OUTCOME_ORDER if outcome in counts]
    ordered += [outcome for outcome in counts if outcome not in OUTCOME_ORDER]
    return [(outcome, counts[outcome]) for outcome in ordered]


def _revert_candidates(report):
    """Region -> hosts the revert puts back.

    A report that lists them (key revert: the hosts still to go back) is followed, adding those already reverted or
    whose revert failed. Otherwise: the hosts the run touched (switched or failed there, not unreachable) that had a
    release to go back to, which is what the wave engine reverts once the waves stopped (always with the default
    fleet_max_fail 0; within a larger budget it reverts only the failed ones).
    """
    listed = report.get("revert")
    listed = {_text(name) for name in listed} if isinstance(listed, (list, tuple)) else None
    revert_failed = {_text(_mapping(failure).get("host")) for failure in _sequence(report.get("failures"))
                     if _text(_mapping(failure).get("phase"), "").startswith("revert")}
    candidates = {}
    for region, hosts in hosts_by_region(report).items():
        for name, host in hosts:
            outcome = _text(host.get("outcome"), "")
            if listed is not None:
                chosen = name in listed or outcome == "reverted" or name in revert_failed
            else:
                chosen = (outcome in ("switched", "reverted") or (is_failed(outcome) and not outcome.startswith("unreachable"))) \
                    and bool(_text(host.get("from"), ""))
            if chosen:
                candidates.setdefault(region, []).append(name)
    return candidates


def _failure_line(failure):
    failure = _mapping(failure)
    return "%s failure: wave %s %s %s (%s): %s" % (
        PREFIX, _text(failure.get("wave")), _text(failure.get("region")), _text(failure.get("host")),
        _text(failure.get("phase")), _text(failure.get("message"), "no message"))


def _gate_line(gate):
    gate = _mapping(gate)
    where = "%s gate wave %s %s" % (PREFIX, _text(gate.get("wave")), _text(gate.get("region")))
    if _flag(gate.get("passed")):
        return "ok", "%s: passed" % where
    return "error", "%s: failed: %s" % (where, _text(gate.get("message"), "no message"))


def plan_line(report):
    hosts = [_mapping(host) for host in _mapping(report.get("hosts")).values()]
    unchanged = sum(1 for host in hosts if _text(host.get("outcome"), "") == "unchanged")
    if _text(report.get("strategy")) == "blue_green" and isinstance(report.get("flips"), (list, tuple)):
        # Blue/green flips whole regions: say which.
        line = "%s %s %s by %s: %d region(s) to flip (%s), %d host(s) to change (blue_green)" % (
            PREFIX, _operation(report), _text(report.get("run_id")), _text(report.get("actor")),
            len(report["flips"]), ", ".join(_text(region) for region in report["flips"]) or "none", len(hosts) - unchanged)
    else:
        line = "%s %s %s by %s: %d host(s) to change in %s wave(s) (%s, %s)" % (
            PREFIX, _operation(report), _text(report.get("run_id")), _text(report.get("actor")),
            len(hosts) - unchanged, _text(report.get("waves"), "?"), _text(report.get("strategy")), _text(report.get("mode")))
    if unchanged:
        line += ", %d unchanged" % unchanged
    for key in ("reason", "limit"):
        if _text(report.get(key), ""):
            line += "; %s: %s" % (key, _text(report.get(key)))
    return line


class FleetProgress:
    """What the callback has shown so far, and the lines each new report adds (pure: no Ansible, no output).

    update() returns (level, line) pairs, level one of "info", "ok", "warn", "error".
    """

    def __init__(self):
        self.runs = {}  # run id -> its latest report, in the order the runs started
        self._printed = set()
        self._region_state = {}  # (run id, phase, region) -> the counts last shown
        self._revert_plan = {}  # run id -> region -> hosts, fixed when the revert starts

    def update(self, report):
        if not isinstance(report, Mapping):
            return []
        run = _text(report.get("run_id"))
        if self.runs.get(run) == report:
            return []
        first = run not in self.runs
        self.runs[run] = report
        position = _mapping(report.get("position"))
        phase = _text(position.get("phase"), "forward")
        failures = _sequence(report.get("failures"))
        lines = []
        if first:
            lines.append(("info", plan_line(report)))
        if position and phase != "revert":
            lines += self._forward_lines(run, report, position)
        lines += [("error", _failure_line(failure)) for failure in failures
                  if not _text(_mapping(failure).get("phase"), "").startswith(("revert", "gate"))]
        lines += [_gate_line(gate) for gate in _sequence(report.get("gates"))]
        if (_text(report.get("status"), "") == "reverting" or phase == "revert") and run not in self._revert_plan:
            lines.append(("warn", self._start_revert(run, report, failures)))
        if position and phase == "revert":
            lines += self._revert_lines(run, report, position)
        lines += [("error", _failure_line(failure)) for failure in failures
                  if _text(_mapping(failure).get("phase"), "").startswith("revert")]
        return [(level, line) for level, line in lines if self._new(run, line)]

    def _new(self, run, line):
        if (run, line) in self._printed:
            return False
        self._printed.add((run, line))
        return True

    def _changed(self, run, phase, region, counts):
        key = (run, phase, region)
        if self._region_state.get(key) == counts:
            return False
        self._region_state[key] = counts
        return True

    def _forward_lines(self, run, report, position):
        wave = _integer(position.get("wave"))
        regions = hosts_by_region(report)
        width = max(len(region) for region in regions) if regions else 0
        lines = []
        for region, hosts in regions.items():
            planned = switched = failed = 0
            for dummy, host in hosts:
                host_wave = _integer(host.get("wave"))
                outcome = _text(host.get("outcome"), "")
                if host_wave is not None and wave is not None and host_wave <= wave:
                    planned += 1
                if outcome == "switched":
                    switched += 1
                elif is_failed(outcome):
                    failed += 1
            counts = (planned, switched, failed)
            # A region with nothing planned yet (sequential mode) stays quiet until its turn.
            if any(counts) and self._changed(run, "forward", region, counts):
                lines.append(("info", "%s wave %s/%s  %s  %d/%d hosts switched, %d failed" % (
                    PREFIX, _text(wave, "?"), _text(report.get("waves"), "?"), region.ljust(width), switched, planned, failed)))
        return lines

    def _start_revert(self, run, report, failures):
        plan = _revert_candidates(report)
        self._revert_plan[run] = plan
        total = sum(len(hosts) for hosts in plan.values())
        line = "%s reverting %d host(s)" % (PREFIX, total)
        if plan:
            line += " (%s)" % ", ".join("%s %d" % (region, len(hosts)) for region, hosts in plan.items())
        if failures:
            line += " after %d failure(s)" % len(failures)
        return line

    def _revert_lines(self, run, report, position):
        plan = self._revert_plan.get(run, {})
        revert_failed = {}
        for failure in _sequence(report.get("failures")):
            failure = _mapping(failure)
            if _text(failure.get("phase"), "").startswith("revert"):
                revert_failed.setdefault(_text(failure.get("region")), set()).add(_text(failure.get("host")))
        regions = hosts_by_region(report)
        width = max(len(region) for region in regions) if regions else 0
        lines = []
        for region, hosts in regions.items():
            reverted = sum(1 for dummy, host in hosts if _text(host.get("outcome"), "") == "reverted")
            failed = len(revert_failed.get(region, ()))
            total = max(len(plan.get(region, ())), reverted + failed)
            counts = (total, reverted, failed)
            if any(counts) and self._changed(run, "revert", region, counts):
                lines.append(("info", "%s revert batch %s/%s  %s  %d/%d hosts reverted, %d failed" % (
                    PREFIX, _text(_integer(position.get("batch")), "?"), _text(_integer(position.get("batches")), "?"),
                    region.ljust(width), reverted, total, failed)))
        return lines


def _pairs(hosts):
    pairs = {}
    for dummy, host in hosts:
        pair = "%s -> %s" % (_text(host.get("from")), _text(host.get("to")))
        pairs[pair] = pairs.get(pair, 0) + 1
    if len(pairs) == 1:
        return list(pairs)
    return ["%s (%d)" % (pair, count) for pair, count in pairs.items()]


def _region_time(hosts):
    starts = [_number(host.get("started")) for dummy, host in hosts]
    ends = [_number(host.get("finished")) for dummy, host in hosts]
    starts = [value for value in starts if value is not None]
    ends = [value for value in ends if value is not None]
    if not starts or not ends:
        return "-"
    return format_seconds(max(ends) - min(starts))


def summary_lines(report):
    """The summary of one run: a table per region, then the run's lines."""
    report = _mapping(report)
    header = ("region", "hosts", "from -> to", "result", "time")
    rows = [header]
    for region, hosts in hosts_by_region(report).items():
        pairs = _pairs(hosts) or ["-"]
        rows.append((region, str(len(hosts)), pairs[0], _count_words(outcome_counts(hosts)), _region_time(hosts)))
        rows += [("", "", pair, "", "") for pair in pairs[1:]]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    if len(rows) > 1:
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    else:
        lines.append("no hosts in the run report")

    started = _number(report.get("started"))
    end = _number(report.get("finished"))
    if end is None:
        end = _number(report.get("updated"))
    run_line = "run %s: %s by %s, %s, %s" % (
        _text(report.get("run_id")), _operation(report), _text(report.get("actor")),
        _text(report.get("status")), format_seconds(_span(started, end)))
    if _number(report.get("recovery_seconds")) is not None:
        run_line += ", time to recover %s" % format_seconds(report.get("recovery_seconds"))
    lines += ["", run_line]
    details = "started %s, %s, %s, %s wave(s)" % (
        format_time(started), _text(report.get("strategy")), _text(report.get("mode")), _text(report.get("waves"), "?"))
    for key in ("reason", "limit"):
        if _text(report.get(key), ""):
            details += "; %s: %s" % (key, _text(report.get(key)))
    lines.append("  " + details)
    phases = [_mapping(phase) for phase in _sequence(report.get("phases"))]
    if phases:
        lines.append("  phases: " + ", ".join(
            "%s %s" % (_text(phase.get("name")), format_seconds(_span(phase.get("started"), phase.get("finished"))))
            for phase in phases))
    for gate in _sequence(report.get("gates")):
        gate = _mapping(gate)
        if not _flag(gate.get("passed")):
            lines.append("  gate failed: wave %s %s: %s" % (
                _text(gate.get("wave")), _text(gate.get("region")), _text(gate.get("message"), "no message")))
    for failure in _sequence(report.get("failures")):
        failure = _mapping(failure)
        if _text(failure.get("phase"), "") != "gate":
            lines.append("  failure: wave %s %s %s (%s): %s" % (
                _text(failure.get("wave")), _text(failure.get("region")), _text(failure.get("host")),
                _text(failure.get("phase")), _text(failure.get("message"), "no message")))
    return lines


# --- the callback ------------------------------------------------------------------------------------------------

_COLORS = {"info": None, "ok": None, "warn": C.COLOR_WARN, "error": C.COLOR_ERROR}


class CallbackModule(DefaultCallbackModule):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = PLUGIN_NAME

    def __init__(self):
        super().__init__()
        self._fleet = FleetProgress()
        self._fleet_task_output = False
        self._fleet_user_ok_hosts = True
        self._fleet_warned = set()

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._fleet_task_output = self._read_task_output_option()
        self._fleet_user_ok_hosts = self._plugin_options.get("display_ok_hosts", True)
        if not self._fleet_task_output:
            # With these off the default callback prints a task banner only when it prints a result for it.
            self._plugin_options["display_ok_hosts"] = False
            self._plugin_options["display_skipped_hosts"] = False

    def _read_task_output_option(self):
        try:
            return _flag(self.get_option(OPTION))
        except KeyError:
            pass
        # ansible-runner's event callback subclasses this one under its own name, whose options lack ours; the
        # plugin loader registered ours under the plugin's name or, loaded as a base class, its module's name.
        for name in (PLUGIN_NAME, __name__):
            try:
                return _flag(C.config.get_config_value(OPTION, plugin_type="callback", plugin_name=name))
            except Exception:  # pylint: disable=broad-except
                continue
        return _flag(os.environ.get(OPTION_ENV, "false"))

    # --- fleet lines ---

    def _fleet_problem(self, what, error):
        # Reported once: the run goes on, the callback must never be what fails during an incident.
        if what not in self._fleet_warned:
            self._fleet_warned.add(what)
            self._display.warning("%s callback: could not %s (%s: %s); the run itself is not affected"
                                  % (PLUGIN_NAME, what, type(error).__name__, error))

    def _fleet_report_of(self, result):
        try:
            return find_report(result.result)
        except Exception as error:  # pylint: disable=broad-except
            self._fleet_problem("read a task result", error)
            return None

    def _fleet_show(self, report):
        if report is None:
            return
        try:
            lines = self._fleet.update(report)
        except Exception as error:  # pylint: disable=broad-except
            self._fleet_problem("read the fleet run report", error)
            return
        for level, line in lines:
            self._display.display(line, color=_COLORS.get(level))

    def _is_debug(self, result):
        return getattr(result.task, "action", None) in _DEBUG_ACTIONS

    def _as_default(self, method, *args):
        """Runs a default callback method with the user's own display_ok_hosts (for debug output when quiet)."""
        saved = self._plugin_options.get("display_ok_hosts")
        self._plugin_options["display_ok_hosts"] = self._fleet_user_ok_hosts
        try:
            method(*args)
        finally:
            self._plugin_options["display_ok_hosts"] = saved

    # --- results ---

    def v2_runner_on_ok(self, result):
        report = self._fleet_report_of(result)
        if self._fleet_task_output:
            super().v2_runner_on_ok(result)
        elif self._is_debug(result):
            self._as_default(super().v2_runner_on_ok, result)
        else:
            self._handle_warnings_and_exception(result)
        self._fleet_show(report)

    def v2_runner_item_on_ok(self, result):
        report = self._fleet_report_of(result)
        if self._fleet_task_output:
            super().v2_runner_item_on_ok(result)
        elif self._is_debug(result):
            self._as_default(super().v2_runner_item_on_ok, result)
        else:
            self._handle_warnings_and_exception(result)
        self._fleet_show(report)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self._fleet_task_output or not ignore_errors:
            super().v2_runner_on_failed(result, ignore_errors)
        else:
            # An ignored failure is the playbook's to judge (the wave engine records it in the run report).
            self._handle_warnings(result.result)

    def v2_runner_item_on_failed(self, result):
        if self._fleet_task_output or not _flag(getattr(result.task, "ignore_errors", False)):
            super().v2_runner_item_on_failed(result)
        else:
            self._handle_warnings(result.result)

    def v2_runner_on_unreachable(self, result):
        if self._fleet_task_output or not _flag(getattr(result.task, "ignore_unreachable", False)):
            super().v2_runner_on_unreachable(result)
        else:
            self._handle_warnings(result.result)

    def v2_playbook_on_include(self, included_file):
        if self._fleet_task_output:
            super().v2_playbook_on_include(included_file)

    def v2_runner_retry(self, result):
        if self._fleet_task_output:
            super().v2_runner_retry(result)

    # --- the end ---

    def v2_playbook_on_stats(self, stats):
        try:
            for run, report in self._fleet.runs.items():
                self._display.banner("FLEET SUMMARY [%s]" % run)
                for line in summary_lines(report):
                    self._display.display(line)
        except Exception as error:  # pylint: disable=broad-except
            self._fleet_problem("print the fleet summary", error)
        super().v2_playbook_on_stats(stats)

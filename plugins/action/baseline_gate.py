# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Canary-versus-baseline gate: sample (or query) the canary hosts and the baseline hosts in the same window and fail
when the canary is worse by more than a ratio or a margin (logic in module_utils/_baseline.py)."""

from __future__ import annotations

import concurrent.futures
import math
import time

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils import _baseline, _health_probe
from ansible_collections.fleetops.release.plugins.module_utils._health import HealthError, conclude
from ansible_collections.fleetops.release.plugins.plugin_utils._prometheus import measure, query_url

MAX_WORKERS = 32
GROUPS = ("canary", "baseline")

# The comparison's options, the two groups, and mode defaulting to enforce (a fleet_baseline_gates item leaves it unset).
ARGUMENT_SPEC = dict(_baseline.COMPARISON_OPTIONS, canary={"type": "list", "elements": "raw", "required": True},
                     baseline={"type": "list", "elements": "raw", "required": True}, region={"type": "str", "default": ""},
                     mode=dict(_baseline.COMPARISON_OPTIONS["mode"], default="enforce"))


def sample_requests(options, groups):
    """Send ``samples`` requests to each group at ``rate`` per second per group, one canary and one baseline request at
    each tick (so both groups see the same window), each group's hosts in turn. Returns ``{group: [(host, answer)]}``."""
    schedule = []
    for index in range(options["samples"]):
        for group in GROUPS:
            member = groups[group][index % len(groups[group])]
            schedule.append((index / options["rate"], group, member))
    answers = dict((group, []) for group in GROUPS)
    workers = min(MAX_WORKERS, max(4, int(math.ceil(2 * options["rate"] * options["request_timeout"])) + 1))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = []
        for at, group, member in schedule:
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            spec = {"type": "http", "url": _baseline.request_url(member["url"], options["path"]), "method": options["method"],
                    "headers": options["headers"], "validate_certs": options["validate_certs"], "timeout": options["request_timeout"]}
            futures.append((group, member["name"], pool.submit(_health_probe.run, spec)))
        for group, name, future in futures:
            answers[group].append((name, future.result()))
    return answers


def query_host(options, instance):
    """[(labels, value)] of the query for one host (metric_gate's request and reading), or raises HealthError saying
    what Prometheus answered."""
    query = _baseline.instance_query(options["query"], instance)
    args = {"url": options["prometheus_url"], "query": query, "headers": options["headers"],
            "request_timeout": options["request_timeout"], "validate_certs": options["validate_certs"]}
    series, error = measure(query_url(options["prometheus_url"], query), args)
    if error:
        raise HealthError("the query for instance %s: %s" % (instance, error))
    return series


class ActionModule(ActionBase):

    _requires_connection = False  # every request and query leaves from the controller

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "localhost")
        try:
            options = _baseline.check_options(dict((key, args.get(key)) for key in _baseline.COMPARISON_OPTIONS))
            groups = dict((group, _baseline.members(args[group], group)) for group in GROUPS)
            if options["metric"] != "query":
                for group in GROUPS:
                    for member in groups[group]:
                        if not member["url"]:
                            raise HealthError("%s host %s has no url: metric %s sends requests straight to each host's app"
                                              % (group, member["name"], options["metric"]))
        except HealthError as exc:
            raise AnsibleActionFail("%s: %s" % (host, to_text(exc)))

        name = _baseline.comparison_name(options)
        started = time.monotonic()
        figures = {}
        error = None
        if all(groups[group] for group in GROUPS):
            if options["delay"]:
                time.sleep(options["delay"])
            try:
                figures = self._measure(options, groups)
            except HealthError as exc:
                error = to_text(exc)
        for group in GROUPS:
            figures.setdefault(group, {"hosts": [member["name"] for member in groups[group]], "samples": 0, "value": None,
                                       "per_host": {}, "missing": []})
        verdict = _baseline.judge(options, figures["canary"], figures["baseline"], args["region"])
        if error:
            verdict = dict(verdict, verdict="failed", passed=False,
                           message="baseline gate %s%s failed: %s" % (name, " in region %s" % args["region"] if args["region"] else "", error))
        result.update(name=name, metric=options["metric"], region=args["region"], verdict=verdict["verdict"],
                      canary=figures["canary"], baseline=figures["baseline"], ratio=_rounded(verdict["ratio"]),
                      margin=_rounded(verdict["margin"]), max_ratio=options["max_ratio"], max_margin=options["max_margin"],
                      combine=options["combine"], min_samples=options["min_samples"], small_sample=verdict["small_sample"],
                      missing=verdict["missing"], note=verdict["note"], elapsed=round(time.monotonic() - started, 2))
        if options["metric"] == "latency":
            result["percentile"] = options["percentile"]
        if options["metric"] == "query":
            result.update(query=options["query"], aggregate=options["aggregate"])
        return conclude(result, verdict["passed"], "%s: %s" % (host, verdict["message"]), args["mode"])

    @staticmethod
    def _measure(options, groups):
        if options["metric"] == "query":
            figures = {}
            for group in GROUPS:
                series_of = {}
                for member in groups[group]:
                    if member["instance"]:
                        series_of[member["name"]] = query_host(options, member["instance"])
                figures[group] = _baseline.query_group([member["name"] for member in groups[group]], series_of, options["aggregate"])
                figures[group]["per_host"] = dict((key, _rounded(value)) for key, value in figures[group]["per_host"].items())
                figures[group]["value"] = _rounded(figures[group]["value"])
            return figures
        answers = sample_requests(options, groups)
        figures = {}
        for group in GROUPS:
            figures[group] = _baseline.request_group(options["metric"], [member["name"] for member in groups[group]],
                                                     answers[group], options["percentile"], options["status_codes"])
            figures[group]["value"] = _rounded(figures[group]["value"])
        return figures


def _rounded(value):
    return None if value is None else round(value, 6)

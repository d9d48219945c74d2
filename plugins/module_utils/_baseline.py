# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Canary versus baseline (issue 19): compare a metric of the hosts already on the new release (the canary) with the
same metric of the hosts still on the old one (the baseline), same region, same window. The arithmetic and the
verdict, free of Ansible and of the network; the action plugin ``baseline_gate`` samples and queries.

- ``check_options``: the options of one comparison, checked (every bad value named, with what to do).
- ``members``: a group's hosts, ``{name, url, instance}``.
- ``request_group`` / ``query_group``: a group's figures from sampled requests or from per-host query values.
- ``compare``: ratio and margin of the canary's value against the baseline's, and whether that is worse than allowed.
- ``judge``: the verdict of a comparison from both groups' figures: skipped, missing series, small samples, worse.

Higher values are worse for every metric (error rate, latency, CPU).
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.fleetops.release.plugins.module_utils._health import MODES, HealthError, answer_is_error, percentile

METRICS = ("error_rate", "latency", "query")
AGGREGATES = ("mean", "max")
COMBINES = ("all", "any")
ON_SMALL_SAMPLE = ("fail", "pass")
ON_MISSING_SERIES = ("fail", "ignore")
INSTANCE = "{instance}"
# Requests per group (error rate, latency) or hosts with a value per group (query) a verdict needs by default.
DEFAULT_MIN_SAMPLES = {"error_rate": 100, "latency": 50, "query": 1}
VERDICTS = ("passed", "failed", "skipped")

# The options of one comparison, shared by the module's argument spec and the role's fleet_baseline_gates items.
COMPARISON_OPTIONS = {
    "name": {"type": "str"},
    "metric": {"type": "str", "required": True, "choices": list(METRICS)},
    "max_ratio": {"type": "float"},
    "max_margin": {"type": "float"},
    "combine": {"type": "str", "default": "all", "choices": list(COMBINES)},
    "percentile": {"type": "float", "default": 99.0},
    "query": {"type": "str"},
    "prometheus_url": {"type": "str"},
    "aggregate": {"type": "str", "default": "mean", "choices": list(AGGREGATES)},
    "samples": {"type": "int", "default": 200},
    "rate": {"type": "float", "default": 50.0},
    "min_samples": {"type": "int"},
    "on_small_sample": {"type": "str", "default": "fail", "choices": list(ON_SMALL_SAMPLE)},
    "on_missing_series": {"type": "str", "default": "fail", "choices": list(ON_MISSING_SERIES)},
    "delay": {"type": "float", "default": 0.0},
    "path": {"type": "str", "default": "/"},
    "status_codes": {"type": "list", "elements": "int"},
    "method": {"type": "str", "default": "GET"},
    "headers": {"type": "dict", "default": {}},
    "validate_certs": {"type": "bool", "default": True},
    "request_timeout": {"type": "float", "default": 5.0},
    "mode": {"type": "str", "choices": list(MODES)},
}


class BaselineError(HealthError):
    """A comparison is configured wrongly; the message names the option and says what to do."""


# -- options -------------------------------------------------------------------------------------------------

def _number(options, name, low=None, low_open=False, where=""):
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise BaselineError("%s%s must be a number, not %r" % (where, name, value))
    if low is not None and (value <= low if low_open else value < low):
        raise BaselineError("%s%s must be %s %g, not %r" % (where, name, "more than" if low_open else "at least", low, value))
    return value


def check_options(options, where=""):
    """One comparison's options with their defaults (COMPARISON_OPTIONS), checked; raises BaselineError.

    ``where`` prefixes every message (``fleet_baseline_gates[0] ``) so that the operator finds the entry.
    """
    unknown = sorted(set(options) - set(COMPARISON_OPTIONS))
    if unknown:
        raise BaselineError("%shas no option %s; it takes %s" % (where, ", ".join(unknown), ", ".join(COMPARISON_OPTIONS)))
    checked = dict((key, spec.get("default")) for key, spec in COMPARISON_OPTIONS.items())
    checked.update((key, value) for key, value in options.items() if value is not None)
    metric = checked["metric"]
    if metric not in METRICS:
        raise BaselineError("%smetric must be one of %s, not %r" % (where, ", ".join(METRICS), metric))
    for name, choices in (("combine", COMBINES), ("aggregate", AGGREGATES), ("on_small_sample", ON_SMALL_SAMPLE),
                          ("on_missing_series", ON_MISSING_SERIES)):
        if checked[name] not in choices:
            raise BaselineError("%s%s must be one of %s, not %r" % (where, name, ", ".join(choices), checked[name]))
    if checked["mode"] is not None and checked["mode"] not in MODES:
        raise BaselineError("%smode must be one of %s, not %r" % (where, ", ".join(MODES), checked["mode"]))
    if checked["max_ratio"] is None and checked["max_margin"] is None:
        raise BaselineError("%ssets neither max_ratio nor max_margin: say how much worse than the baseline the canary may be "
                            "(max_ratio: 2 for twice the baseline, max_margin: 0.01 for one point of error rate more)" % where)
    # A ratio below 1 would fail a canary that is better than its baseline.
    _number(checked, "max_ratio", 1, where=where)
    _number(checked, "max_margin", 0, where=where)
    _number(checked, "delay", 0, where=where)
    _number(checked, "request_timeout", 0, low_open=True, where=where)
    if metric == "latency" and not 0 < _number(checked, "percentile", 0, where=where) <= 100:
        raise BaselineError("%spercentile must be above 0 and at most 100 (99 for p99), not %r" % (where, checked["percentile"]))
    if checked["min_samples"] is None:
        checked["min_samples"] = DEFAULT_MIN_SAMPLES[metric]
    _number(checked, "min_samples", 1, where=where)
    if metric == "query":
        if not checked["query"] or INSTANCE not in checked["query"]:
            raise BaselineError("%smetric query needs a query with the placeholder %s, evaluated once per host (for example "
                                "rate(process_cpu_seconds_total{instance=\"{instance}\"}[1m])), not %r"
                                % (where, INSTANCE, checked["query"]))
        if not str(checked["prometheus_url"] or "").lower().startswith(("http://", "https://")):
            raise BaselineError("%smetric query needs prometheus_url, the http(s) base URL of the Prometheus server, not %r"
                                % (where, checked["prometheus_url"]))
    else:
        _number(checked, "samples", 1, where=where)
        _number(checked, "rate", 0, low_open=True, where=where)
        if checked["samples"] < checked["min_samples"]:
            raise BaselineError("%ssamples (%d requests per group) is below min_samples (%d): the comparison could never "
                                "have enough; raise samples" % (where, checked["samples"], checked["min_samples"]))
        if not str(checked["path"]).startswith("/"):
            raise BaselineError("%spath must start with /, not %r" % (where, checked["path"]))
    return checked


def comparison_problems(comparisons, variable="fleet_baseline_gates"):
    """Every problem of a list of comparisons (the role variable), as text; [] when all are good."""
    if comparisons in (None, "", []):
        return []
    if not isinstance(comparisons, (list, tuple)):
        return ["%s must be a list of comparisons (each a dict with metric and max_ratio or max_margin), not %r"
                % (variable, comparisons)]
    problems = []
    for index, options in enumerate(comparisons):
        where = "%s[%d] " % (variable, index)
        if not isinstance(options, dict):
            problems.append("%sis %r: each comparison is a dict (metric, max_ratio or max_margin, ...)" % (where, options))
            continue
        try:
            check_options(options, where)
        except BaselineError as exc:
            problems.append(str(exc))
    return problems


def comparison_name(options):
    """A comparison's display name: its ``name``, else its metric (with the percentile for latency)."""
    if options.get("name"):
        return options["name"]
    if options["metric"] == "latency":
        return "latency p%g" % options["percentile"]
    return options["metric"]


# -- groups ----------------------------------------------------------------------------------------------------

def members(value, group):
    """A group's hosts as ``[{name, url, instance}]`` from a list of URLs or of dicts (``name``, ``url``,
    ``instance``). ``url`` is the host's app address (its path is replaced by the comparison's ``path``);
    ``instance`` defaults to the URL's ``host:port``, what Prometheus calls the scraped target."""
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)):
        raise BaselineError("%s must be a list of hosts (URLs, or dicts with name, url and instance), not %r" % (group, value))
    result = []
    for index, item in enumerate(value):
        entry = {"url": item} if isinstance(item, str) else dict(item) if isinstance(item, dict) else None
        if entry is None:
            raise BaselineError("%s[%d] must be a URL or a dict with name, url and instance, not %r" % (group, index, item))
        url = entry.get("url") or None
        if url is not None and not str(url).lower().startswith(("http://", "https://")):
            raise BaselineError("%s[%d] url must be the http(s) address of the host's app, not %r" % (group, index, url))
        instance = entry.get("instance") or (urlsplit(url).netloc if url else None)
        name = entry.get("name") or instance or url
        if not url and not instance:
            raise BaselineError("%s[%d] (%s) has neither url nor instance: give the host's app address" % (group, index, name))
        result.append({"name": str(name), "url": url, "instance": instance})
    return result


def member_of(host, variables):
    """One host of the run as a member ``{name, url, instance}``: ``url`` its ``fleet_app_url``, else the scheme and
    address of its ``fleet_health_url``; ``instance`` its ``fleet_prometheus_instance``, else the ``host:port`` of url."""
    url = variables.get("fleet_app_url") or None
    if not url and variables.get("fleet_health_url"):
        parts = urlsplit(str(variables["fleet_health_url"]))
        url = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    instance = variables.get("fleet_prometheus_instance") or (urlsplit(str(url)).netloc if url else None)
    return {"name": host, "url": url, "instance": instance}


def host_problems(comparisons, hosts, hostvars):
    """What the run's hosts lack for the comparisons of fleet_baseline_gates, before anything changes (the gate itself
    would only find it after the first wave switched): an app address for the request metrics, a Prometheus instance
    for the query metric."""
    if not comparisons or not isinstance(comparisons, (list, tuple)):
        return []
    metrics = set(options.get("metric") for options in comparisons if isinstance(options, dict))
    problems = []
    for host in hosts:
        member = member_of(host, hostvars.get(host) or {})
        if metrics - {"query"} and not member["url"]:
            problems.append("%s: fleet_baseline_gates sends requests straight to each host's app (%s), but the host has "
                            "neither fleet_app_url nor fleet_health_url: set fleet_app_url (http(s)://address:port)"
                            % (host, ", ".join(sorted(metrics - {"query"}))))
        elif member["url"] and not str(member["url"]).lower().startswith(("http://", "https://")):
            problems.append("%s: fleet_app_url is %r: it must be the http(s) address of the host's app" % (host, member["url"]))
        if "query" in metrics and not member["instance"]:
            problems.append("%s: fleet_baseline_gates queries Prometheus per host, but the host has no "
                            "fleet_prometheus_instance and no app address to derive it from: set fleet_prometheus_instance"
                            % host)
    return problems


def request_url(url, path):
    """The host's app URL with its path (and query) replaced by ``path``."""
    parts = urlsplit(url)
    path, _sep, query = path.partition("?")
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def instance_query(query, instance):
    """The query for one host: every ``{instance}`` replaced (PromQL's own braces are left alone)."""
    return query.replace(INSTANCE, instance)


def request_group(metric, hosts, answers, pct=99.0, status_codes=None):
    """A group's figures from its sampled answers (``[(host name, answer)]``): ``value`` is the error rate (errors per
    request, a request without an answer included) or the ``pct`` latency percentile in ms of the answered requests
    (nearest rank); ``samples`` the requests that count (every request for the error rate, the answered ones for
    latency), and per host its requests and errors."""
    per_host = dict((name, {"requests": 0, "errors": 0}) for name in hosts)
    errors, latencies = 0, []
    for name, answer in answers:
        row = per_host.setdefault(name, {"requests": 0, "errors": 0})
        row["requests"] += 1
        if answer_is_error(answer, status_codes):
            errors += 1
            row["errors"] += 1
        if answer.get("status") is not None and answer.get("latency_ms") is not None:
            latencies.append(answer["latency_ms"])
    figures = {"hosts": list(hosts), "requests": len(answers), "errors": errors, "per_host": per_host, "missing": []}
    if metric == "error_rate":
        figures.update(samples=len(answers), value=errors / float(len(answers)) if answers else None)
    else:
        figures.update(samples=len(latencies), value=percentile(latencies, pct))
    return figures


def aggregate(values, how):
    """mean or max of values; None for none."""
    if not values:
        return None
    if how == "max":
        return max(values)
    return sum(values) / float(len(values))


def query_group(hosts, series_of, how="mean"):
    """A group's figures from each host's query answer: ``series_of`` is ``{host name: [(labels, value)]}`` (a host
    absent from it, with no series, or with only NaN has no data: missing). A host with several series is a
    configuration problem (the query must give one value per host). ``value`` aggregates the hosts' values (mean or
    max); ``samples`` counts the hosts with a value."""
    per_host, missing, problems = {}, [], []
    for name in hosts:
        series = [(labels, value) for labels, value in series_of.get(name) or [] if not math.isnan(value)]
        if not series:
            missing.append(name)
            continue
        if len(series) > 1:
            problems.append("%s: %d series (the query must give one value per host: wrap it in sum(...) or max(...))"
                            % (name, len(series)))
            continue
        per_host[name] = series[0][1]
    values = [per_host[name] for name in hosts if name in per_host]
    return {"hosts": list(hosts), "samples": len(values), "value": aggregate(values, how), "per_host": per_host,
            "missing": missing, "problems": problems}


# -- comparison -------------------------------------------------------------------------------------------------

def compare(canary, baseline, max_ratio=None, max_margin=None, combine="all"):
    """How much worse the canary's value is than the baseline's, and whether that is more than allowed.

    ``ratio`` is canary / baseline, undefined (None) when the baseline is 0 or less. ``margin`` is canary - baseline.
    Each bound that is set is judged: ratio above ``max_ratio``, margin above ``max_margin``; with ``combine`` all
    (the default) the canary is worse only when it breaks every bound judged (so the margin is a floor under which
    a large ratio of small numbers does not count), with any when it breaks one.

    A zero baseline: the ratio is undefined, so with ``max_margin`` set only the margin is judged; without it the
    canary is worse as soon as its value is above 0 (an unbounded ratio), and equal when it is 0 too.
    Returns ``{worse, ratio, margin, judged: [bounds], broken: [bounds], note}``.
    """
    margin = canary - baseline
    ratio = canary / baseline if baseline > 0 else None
    judged, broken, note = [], [], ""
    if max_ratio is not None:
        if ratio is not None:
            judged.append("max_ratio")
            if ratio > max_ratio:
                broken.append("max_ratio")
        elif max_margin is None:
            judged.append("max_ratio")
            note = "zero baseline: any canary value above 0 exceeds max_ratio"
            if canary > 0:
                broken.append("max_ratio")
        else:
            note = "zero baseline: ratio undefined, judged by max_margin alone"
    if max_margin is not None:
        judged.append("max_margin")
        if margin > max_margin:
            broken.append("max_margin")
    worse = bool(broken) and (len(broken) == len(judged) if combine == "all" else True)
    return {"worse": worse, "ratio": ratio, "margin": margin, "judged": judged, "broken": broken, "note": note}


def format_value(metric, value):
    if value is None:
        return "no value"
    if metric == "error_rate":
        return "%.4g%%" % (value * 100)
    if metric == "latency":
        return "%.1f ms" % value
    return "%.6g" % value


def _group_text(metric, label, figures):
    unit = {"error_rate": "requests", "latency": "answers", "query": "hosts"}[metric]
    text = "%s %s over %d %s" % (label, format_value(metric, figures.get("value")), figures.get("samples") or 0, unit)
    if metric == "error_rate":
        text += " (%d errors)" % (figures.get("errors") or 0)
    return "%s from %s" % (text, ", ".join(figures.get("hosts") or []) or "no host")


def judge(options, canary, baseline, region=""):
    """The verdict of one comparison from both groups' figures (request_group or query_group).

    Returns ``{verdict: passed|failed|skipped, passed (bool), message, ratio, margin, small_sample, missing: {group:
    [hosts]}, note}``. In order: a group without hosts skips it (no canary host live, or no baseline host left: the
    region's last wave); a query's host without data fails it naming the host (``on_missing_series: fail``) or is left
    out (``ignore``); a group with fewer than ``min_samples`` fails or passes it per ``on_small_sample``, saying so;
    else ``compare`` decides.
    """
    metric, name = options["metric"], comparison_name(options)
    where = "baseline gate %s%s" % (name, " in region %s" % region if region else "")
    outcome = {"ratio": None, "margin": None, "small_sample": False, "note": "",
               "missing": {"canary": list(canary.get("missing") or []), "baseline": list(baseline.get("missing") or [])}}
    if not canary.get("hosts"):
        return dict(outcome, verdict="skipped", passed=True,
                    message="%s skipped: no canary host on the new release is live to compare" % where)
    if not baseline.get("hosts"):
        return dict(outcome, verdict="skipped", passed=True,
                    message="%s skipped: no baseline host left on the old release to compare with (the region's last wave)" % where)
    problems = list(canary.get("problems") or []) + list(baseline.get("problems") or [])
    if problems:
        return dict(outcome, verdict="failed", passed=False, message="%s failed: %s" % (where, "; ".join(problems)))
    missing = ["%s (%s)" % (host, group) for group in ("canary", "baseline") for host in outcome["missing"][group]]
    if missing and options["on_missing_series"] == "fail":
        return dict(outcome, verdict="failed", passed=False,
                    message="%s failed: no data for %s from the query %r: is the host scraped, does the series exist? "
                            "(on_missing_series: ignore leaves such hosts out)" % (where, ", ".join(missing), options.get("query")))
    figures = "%s; %s" % (_group_text(metric, "canary", canary), _group_text(metric, "baseline", baseline))
    if missing:
        figures += "; no data, left out: %s" % ", ".join(missing)
    short = [group for group, data in (("canary", canary), ("baseline", baseline))
             if (data.get("samples") or 0) < options["min_samples"] or data.get("value") is None]
    if short:
        outcome["small_sample"] = True
        text = ("not enough samples in %s (min_samples %d): %s" % (" and ".join(short), options["min_samples"], figures))
        if options["on_small_sample"] == "pass":
            return dict(outcome, verdict="passed", passed=True, note="small sample",
                        message="%s passed without a comparison (on_small_sample: pass): %s" % (where, text))
        return dict(outcome, verdict="failed", passed=False,
                    message="%s failed: %s; raise samples (or rate) or lower min_samples" % (where, text))
    result = compare(canary["value"], baseline["value"], options.get("max_ratio"), options.get("max_margin"), options["combine"])
    outcome.update(ratio=result["ratio"], margin=result["margin"], note=result["note"])
    bounds = []
    if options.get("max_ratio") is not None:
        ratio = "undefined" if result["ratio"] is None else "%.3gx" % result["ratio"]
        bounds.append("ratio %s (max_ratio %g)" % (ratio, options["max_ratio"]))
    if options.get("max_margin") is not None:
        bounds.append("margin %+.4g (max_margin %g)" % (result["margin"], options["max_margin"]))
    detail = "%s; %s%s" % (figures, ", ".join(bounds), "; %s" % result["note"] if result["note"] else "")
    if result["worse"]:
        return dict(outcome, verdict="failed", passed=False,
                    message="%s failed: the canary is worse than the baseline by more than allowed (%s broken): %s"
                            % (where, " and ".join(result["broken"]), detail))
    return dict(outcome, verdict="passed", passed=True, message="%s passed: %s" % (where, detail))


# -- groups of a run -------------------------------------------------------------------------------------------

CANARY_OUTCOMES = ("switched", "unchanged", "back in rotation")


def run_groups(report, region):
    """``{canary: [hosts], baseline: [hosts]}`` of a region in a run report (docs/run-report.md), between a batch's
    switch and its settlement: the canary are the run's hosts of the region on the target now (switched in an earlier
    batch or found on it, and the batch's hosts that went live: the report's ``live``), the baseline those not touched
    yet (outcome pending: a later wave). Failed and reverted hosts are in neither; hosts outside the run (a --limit)
    neither, since the run does not know what they run."""
    report = report or {}
    live = set(report.get("live") or [])
    groups = {"canary": [], "baseline": []}
    for host, row in sorted((report.get("hosts") or {}).items()):
        if not isinstance(row, dict) or row.get("region") != region:
            continue
        if row.get("outcome") in CANARY_OUTCOMES or (row.get("outcome") == "pending" and host in live):
            groups["canary"].append(host)
        elif row.get("outcome") == "pending" and not row.get("touched") and host not in live:
            groups["baseline"].append(host)
    return groups


def report_entry(wave, region, result):
    """What the run report (and so the audit record) keeps of one comparison's registered result: ``{wave, region,
    name, metric, verdict, mode, counted (whether it failed the run), canary and baseline ({value, samples, hosts}),
    ratio, margin, max_ratio, max_margin, note, message}``."""
    result = result if isinstance(result, dict) else {}

    def group(key):
        figures = result.get(key) if isinstance(result.get(key), dict) else {}
        return {"value": figures.get("value"), "samples": figures.get("samples"), "hosts": list(figures.get("hosts") or [])}

    item = result.get("item")
    comparison = item[1] if isinstance(item, (list, tuple)) and len(item) > 1 and isinstance(item[1], dict) else {}
    return {"wave": wave, "region": region, "name": result.get("name") or comparison.get("name") or comparison.get("metric"),
            "metric": result.get("metric") or comparison.get("metric"),
            "verdict": result.get("verdict") or ("failed" if result.get("failed") else "passed"),
            "mode": result.get("mode") or comparison.get("mode"), "counted": bool(result.get("failed")),
            "canary": group("canary"), "baseline": group("baseline"), "ratio": result.get("ratio"),
            "margin": result.get("margin"), "max_ratio": result.get("max_ratio", comparison.get("max_ratio")),
            "max_margin": result.get("max_margin", comparison.get("max_margin")), "note": result.get("note") or "",
            "message": str(result.get("msg") or "")}

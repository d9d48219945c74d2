# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Traffic-weighted canaries (issue 19): the hosts of a canary wave enter rotation at a share of their configured
weight and step up after each passing gate (``fleet_canary_weights``, docs/rollout-control.md "Weighted canaries").

Pure functions: the validation of the inputs (run_inputs judges them before anything changes), the weight each
load-balancer member is given (HAProxy: ``"N%"`` of its configured weight, which HAProxy resolves; nginx: a whole
number, since nginx keeps no configured weight to be relative to), the hosts an interrupted run left below their
configured weight (the next run puts them back at full weight), and the share of requests a weight gives.
"""

from __future__ import annotations

from collections.abc import Mapping

FULL = 100


class CanaryWeightsError(ValueError):
    """A canary weight setting the run cannot use; the message names it and says what to give instead. ``problems``:
    each problem on its own (a mapping of waves may have several)."""

    def __init__(self, message, problems=None):
        super().__init__(message)
        self.problems = list(problems or [message])


def step_percent(value, what):
    """One step as a whole percentage 1..100: ints, digit strings and ``"N%"`` (not bools, not floats)."""
    text = value.strip().rstrip("%").strip() if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text is not None and text.isdigit():
        number = int(text)
    else:
        raise CanaryWeightsError("%s is %r: each step is a whole percentage of the configured weight from 1 to 100"
                                 % (what, value))
    if not 1 <= number <= FULL:
        raise CanaryWeightsError("%s is %r: each step is a whole percentage of the configured weight from 1 to 100 "
                                 "(0 would take the canaries out of rotation: that is a drain, not a weight)" % (what, value))
    return number


def _steps(value, what):
    """A list of steps: strictly increasing percentages ending with 100 (the canaries end at full weight)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise CanaryWeightsError("%s is %r: give a list of percentages such as [5, 25, 100]" % (what, value))
    steps = [step_percent(item, "%s[%d]" % (what, index)) for index, item in enumerate(value)]
    if not steps:
        return []
    for before, after in zip(steps, steps[1:]):
        if after <= before:
            raise CanaryWeightsError("%s is %r: the steps must be strictly increasing (%d is followed by %d)"
                                     % (what, list(value), before, after))
    if steps[-1] != FULL:
        raise CanaryWeightsError("%s is %r: the last step must be 100 (the canaries end at their full weight); "
                                 "for example %r" % (what, list(value), steps + [FULL]))
    return steps


def _wave_number(key, what):
    text = str(key).strip()
    if isinstance(key, bool) or not text.isdigit() or int(text) < 1:
        raise CanaryWeightsError("%s names wave %r: waves are numbered from 1" % (what, key))
    return int(text)


def normalize_weights(value, waves=None, what="fleet_canary_weights"):
    """``{wave: [percent, ...]}`` (waves with weighted canaries only); CanaryWeightsError otherwise.

    ``value``: a list (the steps of wave 1, the canary wave), a mapping ``{wave number: list}``, or empty (none: every
    host enters rotation at full weight, as without this setting). With ``waves`` (the plan's number of waves), a wave
    past the last is refused."""
    if value is None or value == "" or (isinstance(value, (list, tuple, Mapping)) and not value):
        return {}
    if isinstance(value, Mapping):
        weights, problems = {}, []
        for key, item in value.items():
            try:
                weights[_wave_number(key, what)] = _steps(item, "%s[%s]" % (what, key))
            except CanaryWeightsError as exc:
                problems.append(str(exc))
        if problems:
            raise CanaryWeightsError("; ".join(problems), problems)
        weights = {wave: steps for wave, steps in weights.items() if steps}
    else:
        weights = {1: _steps(value, what)}
    if waves is not None:
        late = sorted(wave for wave in weights if wave > int(waves))
        if late:
            raise CanaryWeightsError("%s names wave %d, but the plan has %d wave(s)" % (what, late[0], int(waves)))
    return weights


def steps_for_wave(weights, wave):
    """The steps of wave ``wave`` (``[]``: it enters at full weight). ``weights``: as normalize_weights returns, or
    with string keys (as the run report keeps it)."""
    if not weights or wave is None:
        return []
    return list(weights.get(int(wave)) or weights.get(str(wave)) or [])


def normalize_step_pause(value, what="fleet_canary_step_pause"):
    """What holds the canaries at each reduced weight before the next step: ``{"kind": "none" | "bake" | "manual",
    "seconds": int}``. Seconds (0: none) or ``"manual"`` (hold until promote.yml or abort.yml, as a manual pause)."""
    if isinstance(value, str) and value.strip() == "manual":
        return {"kind": "manual", "seconds": 0}
    if value is None or value == "":
        return {"kind": "none", "seconds": 0}
    text = value.strip() if isinstance(value, str) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        seconds = value
    elif text is not None and text.isdigit():
        seconds = int(text)
    else:
        raise CanaryWeightsError("%s is %r: give the seconds the canaries bake at each reduced weight (0 for none) or "
                                 "manual (hold until playbooks/promote.yml)" % (what, value))
    return {"kind": "bake" if seconds else "none", "seconds": seconds}


def weight_for(percent, full_weight=None, lb_type="haproxy"):
    """The weight an lb_pool member gets for ``percent`` of its configured weight ``full_weight``.

    With the configured weight known (HAProxy: read by the run's load-balancer preflight; nginx: inventory
    ``fleet_lb_weight``, default 1, since nginx keeps no configured weight to be relative to), an absolute whole
    number, never below 1: a canary in rotation always gets some traffic (HAProxy would make 10% of weight 1 a 0).
    HAProxy without a known weight: ``"N%"``, which HAProxy resolves against the server's configured weight."""
    percent = step_percent(percent, "weight")
    if lb_type == "nginx" and not full_weight:
        full_weight = 1
    if isinstance(full_weight, int) and not isinstance(full_weight, bool) and full_weight >= 1:
        return str(max(1, full_weight * percent // FULL))
    return "%d%%" % percent


def lb_weights(servers):
    """``{host: {"weight", "initial_weight"}}`` as each region's HAProxy serves it. ``servers``: ``(host, its server's
    row)`` pairs of the load-balancer preflight's read (_run_inputs.lb_servers_read)."""
    return {host: {"weight": server["weight"], "initial_weight": server["initial_weight"]} for host, server in servers
            if isinstance(server, Mapping) and all(isinstance(server.get(key), int) for key in ("weight", "initial_weight"))}


def reduced_weight(weights):
    """The hosts served below their configured weight (a canary weight an interrupted run left): a run plans them
    even on their target and puts them back at full weight. ``weights``: as lb_weights returns."""
    return [host for host, row in weights.items() if 0 < row["weight"] < row["initial_weight"]]


# -- the walk: the weight each enable gives, and the steps after a weighted wave (the run ledger's steps) ------------


def enable_weights(canary, batch, hosts, rows):
    """``{host: percent}`` for the enable of ``batch``'s live ``hosts`` (hosts not named: their weight is left alone,
    as without weighted canaries). ``canary``: the run's setting (``weights``, ``full``); ``rows``: the report's hosts.
    A forward batch of a weighted wave enters at its first step; a revert batch, and a host found below its configured
    weight, come back at 100 %."""
    canary = canary or {}
    steps = steps_for_wave(canary.get("weights"), batch.get("wave")) if batch.get("phase") == "forward" else []
    weights = {}
    for host in hosts:
        if steps:
            weights[host] = steps[0]
        elif (batch.get("phase") == "revert" and canary.get("weights")) or (rows.get(host) or {}).get("reduced_weight"):
            weights[host] = FULL
    return weights


def member_weights(canary, percents, hostvars):
    """``{host: lb_pool weight}`` of ``percents`` (``{host: percent}``), each relative to the host's configured weight
    (``canary['full']``, read by the preflight) or, for nginx, to ``fleet_lb_weight``."""
    full = (canary or {}).get("full") or {}
    members = {}
    for host, percent in percents.items():
        variables = hostvars.get(host) or {}
        lb_type = variables.get("fleet_lb_type") or "haproxy"
        base = variables.get("fleet_lb_weight") if lb_type == "nginx" else full.get(host)
        members[host] = weight_for(percent, base, lb_type)
    return members


def record_weights(report, batch, percents, now, phase=None):
    """The weight step taken (``percents``: ``{host: percent}``) in the report's ``canary_steps``, one entry per
    region and percentage: ``{wave, phase, percent, region, hosts, at}``."""
    if not percents:
        return report
    entries = {}
    for host, percent in percents.items():
        region = ((report.get("hosts") or {}).get(host) or {}).get("region")
        entries.setdefault((region, percent), []).append(host)
    report = dict(report)
    report["canary_steps"] = list(report.get("canary_steps") or []) + [
        {"wave": batch.get("wave"), "phase": phase or batch.get("phase"), "percent": percent, "region": region,
         "hosts": sorted(hosts), "at": now}
        for (region, percent), hosts in sorted(entries.items(), key=lambda item: (str(item[0][0]), item[0][1]))]
    return report


def step_hosts(report, wave):
    """``{region: [hosts]}`` of wave ``wave`` now in rotation on the run's target (switched, or put back in rotation):
    the canaries whose weight the next step raises."""
    grouped = {}
    for host, row in (report.get("hosts") or {}).items():
        if row.get("wave") == wave and row.get("outcome") in ("switched", "back in rotation"):
            grouped.setdefault(row.get("region"), []).append(host)
    return grouped


def record_step_result(report, wave, percent, failed_regions):
    """After a weight step's gates: each of its ``canary_steps`` entries says whether its region passed."""
    report = dict(report)
    steps = [dict(entry) for entry in report.get("canary_steps") or []]
    for entry in steps:
        if entry.get("wave") == wave and entry.get("percent") == percent and entry.get("phase") == "forward" and "passed" not in entry:
            entry["passed"] = entry.get("region") not in failed_regions
    report["canary_steps"] = steps
    return report


def expected_share(canary_weights, peer_weights):
    """The share of requests weighted round-robin gives the canaries: the sum of their weights over the sum of all."""
    total = sum(canary_weights) + sum(peer_weights)
    return sum(canary_weights) / total if total else 0.0


def share_bounds(share, requests, sigmas=4.0):
    """``(low, high)`` around ``share`` for ``requests`` independent requests: ``sigmas`` binomial standard deviations
    (a conservative tolerance: HAProxy's weighted round-robin is deterministic and lands much closer)."""
    spread = sigmas * (share * (1.0 - share) / max(1, int(requests))) ** 0.5
    return max(0.0, share - spread), min(1.0, share + spread)

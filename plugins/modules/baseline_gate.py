#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/baseline_gate.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: baseline_gate
short_description: Fail a canary whose metric is worse than the same metric of the hosts still on the old release
version_added: 0.1.0
description:
  - Compares one metric of the O(canary) hosts (already on the new release) with the same metric of the O(baseline)
    hosts (still on the old one), measured in the same window, and fails when the canary is worse by more than
    O(max_ratio) (canary / baseline) and/or O(max_margin) (canary - baseline). Higher values are worse.
  - O(metric=error_rate) and O(metric=latency) send O(samples) requests to each group, straight to each host's app (its
    C(url), see O(canary), with the path O(path)), at O(rate) requests per second per group, a canary request and a baseline
    request at each tick, the hosts of a group in turn. The error rate counts requests without an answer or with a
    status outside O(status_codes) (by default any status of 500 or more), as M(fleetops.release.traffic_gate) does; the
    latency is the O(percentile) of the answered requests (nearest rank).
  - O(metric=query) evaluates a Prometheus instant O(query) once per host, its placeholder C({instance}) replaced by the
    host's C(instance) (see O(canary)), and aggregates each group's values with O(aggregate) (the mean, or the max, the worst
    host).
  - A group without hosts skips the comparison, saying so (no baseline host left in the region's last wave); the result
    passes with RV(verdict=skipped).
  - A zero baseline leaves the ratio undefined; then only O(max_margin) is judged when it is set, and without it any
    canary value above 0 fails (an unbounded ratio).
  - A group with fewer than O(min_samples) samples fails the gate or passes it without a comparison (O(on_small_sample)),
    the message saying so; a host without data from the query fails the gate naming it, or is left out
    (O(on_missing_series)).
extends_documentation_fragment:
  - fleetops.release.health
  - fleetops.release.health.attributes
options:
  canary:
    description:
      - The hosts on the new release. Each is the http(s) address of the host's app (for example V(http://10.0.0.5:8000)),
        or a dict with C(name) (shown in messages), C(url) (that address) and C(instance) (the Prometheus target of the
        host, by default the C(host:port) of C(url)).
    type: list
    elements: raw
    required: true
  baseline:
    description: The hosts still on the old release, like O(canary). Empty skips the comparison.
    type: list
    elements: raw
    required: true
  region:
    description: The region compared, for the messages.
    type: str
    default: ""
  name:
    description: A name for the comparison in messages and in the run report; by default its metric.
    type: str
  metric:
    description:
      - V(error_rate) (a fraction, V(0.05) is 5%), V(latency) (milliseconds, at O(percentile)) or V(query) (the value of
        O(query)).
    type: str
    required: true
    choices: [error_rate, latency, query]
  max_ratio:
    description:
      - Most the canary's value may be, as a multiple of the baseline's (V(2) is twice the baseline). At least 1.
      - At least one of O(max_ratio) and O(max_margin) is required.
    type: float
  max_margin:
    description:
      - Most the canary's value may exceed the baseline's, in the metric's unit (V(0.01) is one point of error rate, V(50)
        is 50 ms of latency). At least 0.
    type: float
  combine:
    description:
      - With both O(max_ratio) and O(max_margin) set, V(all) fails only a canary that breaks both (the margin is a
        floor under which a large ratio of small numbers does not count, as 0.2% against 0.05%, 4x but only 0.15 points),
        V(any) fails one that breaks either.
    type: str
    choices: [all, any]
    default: all
  percentile:
    description: The latency percentile compared (V(50), V(90), V(99)); O(metric=latency) only.
    type: float
    default: 99.0
  query:
    description:
      - O(metric=query) only. A Prometheus instant query with the placeholder C({instance}), evaluated once per host, that
        gives one value per host, for example C(rate(process_cpu_seconds_total{instance="{instance}"}[1m])).
    type: str
  prometheus_url:
    description: O(metric=query) only. The http(s) base URL of the Prometheus server (C(/api/v1/query) is added).
    type: str
  aggregate:
    description: O(metric=query) only. How a group's per-host values become the group's value.
    type: str
    choices: [mean, max]
    default: mean
  samples:
    description: Requests sent to each group (O(metric=error_rate) and O(metric=latency)).
    type: int
    default: 200
  rate:
    description: Requests per second sent to each group; the sampling lasts O(samples) / O(rate) seconds.
    type: float
    default: 50.0
  min_samples:
    description:
      - Samples each group needs for a comparison - requests for V(error_rate), answered requests for V(latency), hosts
        with a value for V(query). Default 100, 50 and 1.
    type: int
  on_small_sample:
    description: V(fail) fails the gate when a group has fewer than O(min_samples) samples; V(pass) passes it, saying so.
    type: str
    choices: [fail, pass]
    default: fail
  on_missing_series:
    description: V(fail) fails the gate naming each host without data from O(query); V(ignore) leaves such hosts out.
    type: str
    choices: [fail, ignore]
    default: fail
  delay:
    description: Seconds to wait before measuring (for example for Prometheus to scrape the canaries for a whole rate window).
    type: float
    default: 0.0
  path:
    description: Path (and query string) requested on each host's app.
    type: str
    default: /
  status_codes:
    description: Statuses counted as successes for V(error_rate). Unset, every status below 500 is a success.
    type: list
    elements: int
  method:
    description: HTTP method of the requests.
    type: str
    default: GET
  headers:
    description: Request headers (also sent to Prometheus).
    type: dict
    default: {}
  validate_certs:
    description: Verify the TLS certificate of C(https://) URLs.
    type: bool
    default: true
  request_timeout:
    description: Seconds a request (or a query) may take; a request without an answer in time counts as an error.
    type: float
    default: 5.0
seealso:
  - module: fleetops.release.traffic_gate
  - module: fleetops.release.metric_gate
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Fail the canary when its error rate is more than twice the baseline's and more than 1 point above it
  fleetops.release.baseline_gate:
    canary: ["http://10.0.1.1:8000"]
    baseline: ["http://10.0.1.2:8000", "http://10.0.1.3:8000"]
    metric: error_rate
    max_ratio: 2
    max_margin: 0.01
    samples: 400
    rate: 50
  run_once: true

- name: CPU of the canary at most 3x the baseline's (Prometheus), trial only
  fleetops.release.baseline_gate:
    canary: [{name: web-1, url: "http://10.0.1.1:8000"}]
    baseline: [{name: web-2, url: "http://10.0.1.2:8000"}]
    metric: query
    prometheus_url: http://prometheus.example.com:9090
    query: 'rate(process_cpu_seconds_total{instance="{instance}"}[1m])'
    aggregate: max
    max_ratio: 3
    max_margin: 0.05
    mode: shadow
  run_once: true
"""

RETURN = r"""
passed:
  description: Whether the gate passed (also in shadow mode; true when skipped).
  returned: always
  type: bool
  sample: false
would_fail:
  description: Whether the task fails (or, in shadow mode, would fail) with this verdict.
  returned: always
  type: bool
  sample: true
mode:
  description: The O(mode) the gate ran in.
  returned: always
  type: str
  sample: enforce
verdict:
  description: V(passed), V(failed) or V(skipped) (a group without hosts).
  returned: always
  type: str
  sample: failed
msg:
  description: The verdict in words, with both groups' values, samples and hosts, the ratio and the margin.
  returned: always
  type: str
  sample: "localhost: baseline gate error_rate in region us failed: the canary is worse than the baseline by more than
    allowed (max_ratio and max_margin broken): canary 5% over 400 requests (20 errors) from us-1; baseline 0.5% over 400
    requests (2 errors) from us-4; ratio 10x (max_ratio 2), margin +0.045 (max_margin 0.01)"
name:
  description: The comparison's name (O(name), else the metric).
  returned: always
  type: str
  sample: error_rate
metric:
  description: The O(metric).
  returned: always
  type: str
  sample: error_rate
region:
  description: The O(region).
  returned: always
  type: str
  sample: us
canary:
  description:
    - The canary group's figures - C(hosts), C(value) (the group's value, V(null) without samples), C(samples), C(missing)
      (hosts without data); for requests C(requests), C(errors) and C(per_host) (requests and errors per host); for a
      query C(per_host) (each host's value).
  returned: always
  type: dict
  sample: {"hosts": ["us-1"], "value": 0.05, "samples": 400, "requests": 400, "errors": 20, "missing": [],
           "per_host": {"us-1": {"requests": 400, "errors": 20}}}
baseline:
  description: The baseline group's figures, like RV(canary).
  returned: always
  type: dict
  sample: {"hosts": ["us-4"], "value": 0.005, "samples": 400, "requests": 400, "errors": 2, "missing": [],
           "per_host": {"us-4": {"requests": 400, "errors": 2}}}
ratio:
  description: Canary value / baseline value; V(null) when not compared or the baseline is 0.
  returned: always
  type: float
  sample: 10.0
margin:
  description: Canary value - baseline value; V(null) when not compared.
  returned: always
  type: float
  sample: 0.045
max_ratio:
  description: The O(max_ratio).
  returned: always
  type: float
  sample: 2.0
max_margin:
  description: The O(max_margin).
  returned: always
  type: float
  sample: 0.01
combine:
  description: The O(combine).
  returned: always
  type: str
  sample: all
min_samples:
  description: The O(min_samples) used.
  returned: always
  type: int
  sample: 100
small_sample:
  description: Whether a group had fewer than O(min_samples) samples.
  returned: always
  type: bool
  sample: false
missing:
  description: Hosts without data from the query, per group.
  returned: always
  type: dict
  sample: {"canary": [], "baseline": []}
note:
  description: How a zero baseline was judged, or that a small sample passed; empty otherwise.
  returned: always
  type: str
  sample: "zero baseline: ratio undefined, judged by max_margin alone"
elapsed:
  description: Seconds the gate ran.
  returned: always
  type: float
  sample: 8.1
percentile:
  description: The O(percentile).
  returned: when O(metric=latency)
  type: float
  sample: 99.0
query:
  description: The O(query).
  returned: when O(metric=query)
  type: str
  sample: rate(process_cpu_seconds_total{instance="{instance}"}[1m])
aggregate:
  description: The O(aggregate).
  returned: when O(metric=query)
  type: str
  sample: mean
"""

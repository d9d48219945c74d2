#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/metric_gate.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: metric_gate
short_description: Gate a release on a metric from a Prometheus-compatible query API
version_added: 0.1.0
description:
  - Evaluates an instant query (Prometheus C(/api/v1/query) and its answer format) every O(interval) seconds for
    O(duration) seconds. A measurement passes when every series' value satisfies C(value <comparison> threshold).
  - The gate fails when measurements keep failing for O(sustained_for) seconds without interruption (V(0), the default,
    fails at the first failed measurement), and stops there.
  - A query without series fails the measurement unless O(empty_result=pass); a NaN value (for example 0/0 when there
    was no traffic) never passes. A query Prometheus rejects (HTTP 400 or 422) fails at once, it cannot get better.
    An unreachable server fails the measurement.
extends_documentation_fragment:
  - fleetops.release.health
  - fleetops.release.health.attributes
options:
  url:
    description: Base URL of the Prometheus server (C(/api/v1/query) is appended unless the URL already ends with it).
    type: str
    required: true
  query:
    description: PromQL instant query; it must return a vector or a scalar.
    type: str
    required: true
  threshold:
    description: Number each value is compared with.
    type: float
    required: true
  comparison:
    description: How a value must compare with O(threshold) to pass.
    type: str
    choices: ["<", "<=", ">", ">=", "==", "!="]
    default: "<="
  interval:
    description: Seconds between measurements.
    type: float
    default: 10.0
  duration:
    description: Seconds to keep measuring; V(0) measures once. Must be at least O(sustained_for).
    type: float
    default: 0.0
  sustained_for:
    description: Seconds measurements must fail without interruption for the gate to fail.
    type: float
    default: 0.0
  empty_result:
    description: Verdict of a measurement whose query returned no series.
    type: str
    choices: [fail, pass]
    default: fail
  headers:
    description: Request headers (an C(Authorization) header, for example).
    type: dict
    default: {}
  validate_certs:
    description: Verify the TLS certificate of an C(https://) URL.
    type: bool
    default: true
  request_timeout:
    description: Seconds one query may take before the measurement counts as failed.
    type: float
    default: 10.0
seealso:
  - module: fleetops.release.traffic_gate
  - module: fleetops.release.health_check
  - name: Prometheus HTTP API
    description: The instant query endpoint and its answer format.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The 5xx ratio of the new release must stay at or below 5% (2 minutes above fails)
  fleetops.release.metric_gate:
    url: http://prometheus.example.com:9090
    query: >-
      sum(rate(http_requests_total{job="shop",code=~"5.."}[1m]))
      / sum(rate(http_requests_total{job="shop"}[1m]))
    comparison: "<="
    threshold: 0.05
    interval: 15
    duration: 300
    sustained_for: 120
  run_once: true

- name: Every host must be scraped (up == 1), measured once
  fleetops.release.metric_gate:
    url: http://prometheus.example.com:9090
    query: up{job="shop"}
    comparison: "=="
    threshold: 1
"""

RETURN = r"""
passed:
  description: Whether the gate passed (also in shadow mode).
  returned: always
  type: bool
  sample: true
would_fail:
  description: Whether the task fails (or, in shadow mode, would fail) with this verdict.
  returned: always
  type: bool
  sample: false
mode:
  description: The O(mode) the gate ran in.
  returned: always
  type: str
  sample: enforce
msg:
  description: The verdict in words, with the query, the condition, what was seen and for how long.
  returned: always
  type: str
  sample: "localhost: metric gate 'sum(rate(fleetapp_http_requests_total{code=~\"5..\"}[10s]))' expected value <= 0.05
    but saw {} 0.1 for 2.0 s (3 of 3 evaluations violated, sustained_for 2 s)"
query:
  description: The query evaluated.
  returned: always
  type: str
  sample: up{job="shop"}
value:
  description: First value of the last measurement (V(null) when it had none).
  returned: always
  type: float
  sample: 0.0
evaluations:
  description: Measurements taken.
  returned: always
  type: int
  sample: 3
violations:
  description: Measurements that failed.
  returned: always
  type: int
  sample: 0
longest_breach:
  description: Seconds of the longest uninterrupted run of failed measurements.
  returned: always
  type: float
  sample: 0.0
elapsed:
  description: Seconds the gate ran.
  returned: always
  type: float
  sample: 4.01
measurements:
  description: The last 50 measurements.
  returned: always
  type: list
  elements: dict
  contains:
    at:
      description: Seconds since the first measurement.
      type: float
    ok:
      description: Whether the measurement passed.
      type: bool
    values:
      description: Value of each series.
      type: list
      elements: float
    seen:
      description: Series and values (or the error) in words.
      type: str
  sample: [{"at": 0.0, "ok": true, "values": [0.0], "seen": "{} 0"}]
"""

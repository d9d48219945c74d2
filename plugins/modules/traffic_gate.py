#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/traffic_gate.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: traffic_gate
short_description: Fail a release whose error rate stays above a threshold under sampled traffic
version_added: 0.1.0
description:
  - Sends requests from the controller at a steady O(rate) for O(duration) seconds, to a region's load balancer or to
    hosts (several URLs are used in turn), and measures the error rate over a trailing O(window).
  - The gate fails when that error rate stays above O(max_error_rate) for O(sustained_for) seconds without interruption,
    the "more than 5% errors for 2 minutes" rule, both numbers settable. It stops sending as soon as that happens.
  - An error is a request without an answer (refused, timed out) or with a status outside O(status_codes) (by default any
    status of 500 or more).
  - Reports samples, errors, the overall and the worst windowed error rate, the longest breach, statuses and p50/p95
    latency, whether it passes or not.
extends_documentation_fragment:
  - fleetops.release.health
  - fleetops.release.health.attributes
options:
  url:
    description:
      - URL to sample (an C(http://) or C(https://) string), or a list of URLs used in turn (for example every host of a
        region).
    type: raw
    required: true
  rate:
    description: Requests per second. Requests are sent on schedule whether or not earlier ones have been answered.
    type: float
    default: 10.0
  duration:
    description: Seconds of sampling (the gate stops earlier when it fails). Must be at least O(sustained_for).
    type: float
    default: 180.0
  window:
    description: Seconds of samples over which each error rate is computed (a trailing window).
    type: float
    default: 30.0
  max_error_rate:
    description: Highest tolerated error rate, as a fraction (V(0.05) is 5%); the rate must exceed it to count as a breach.
    type: float
    default: 0.05
  sustained_for:
    description:
      - Seconds the error rate must stay above O(max_error_rate), without interruption, for the gate to fail.
      - V(0) fails at the first window above the threshold.
    type: float
    default: 120.0
  min_samples:
    description:
      - Answered requests a window needs before its error rate counts (one error among the first three requests is no
        33% error rate). The gate also fails when fewer requests than this were answered in all.
    type: int
    default: 10
  status_codes:
    description: Statuses counted as successes. Unset, every status below 500 is a success.
    type: list
    elements: int
  method:
    description: HTTP method of the requests.
    type: str
    default: GET
  headers:
    description: Request headers (a C(Host) header for a virtual host behind the load balancer, for example).
    type: dict
    default: {}
  validate_certs:
    description: Verify the TLS certificate of C(https://) URLs.
    type: bool
    default: true
  request_timeout:
    description: Seconds a request may take before it counts as an error.
    type: float
    default: 5.0
seealso:
  - module: fleetops.release.health_check
  - module: fleetops.release.metric_gate
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: No more than 5% errors for 2 minutes through the region's load balancer
  fleetops.release.traffic_gate:
    url: "{{ fleet_lb_url }}"
    rate: 10
    duration: 180
    window: 30
    max_error_rate: 0.05
    sustained_for: 120
  run_once: true

- name: Sample every host of the region directly, trial only
  fleetops.release.traffic_gate:
    url: "{{ ansible_play_hosts | map('extract', hostvars, 'ansible_host') | map('regex_replace', '^(.*)$', 'http://\\1:8000/') | list }}"
    rate: 20
    duration: 60
    window: 10
    max_error_rate: 0.01
    sustained_for: 30
    mode: shadow
  run_once: true
  register: trial
"""

RETURN = r"""
passed:
  description: Whether the gate passed (also in shadow mode).
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
msg:
  description: The verdict in words, with the URL, the threshold, the rate seen and for how long.
  returned: always
  type: str
  sample: "localhost: traffic gate on http://127.0.2.1:8080/ expected an error rate of at most 5% (over 2 s windows) but saw
    10% for 2.0 s (sustained_for 2 s); 5 errors in 51 requests (9.804%), statuses 200 x46, 500 x5, p50 1.9 ms, p95 3.1 ms"
samples:
  description: Requests sent and finished (answered, refused or timed out).
  returned: always
  type: int
  sample: 51
errors:
  description: Requests counted as errors.
  returned: always
  type: int
  sample: 5
error_rate:
  description: Errors divided by samples over the whole run (V(null) without samples).
  returned: always
  type: float
  sample: 0.098
max_window_error_rate:
  description: Highest error rate of any window with at least O(min_samples) samples.
  returned: always
  type: float
  sample: 0.1
longest_breach:
  description: Seconds of the longest uninterrupted run of windows above O(max_error_rate).
  returned: always
  type: float
  sample: 2.0
statuses:
  description: Count of answers per HTTP status (V(no answer) for refused or timed-out requests).
  returned: always
  type: dict
  sample: {"200": 46, "500": 5}
p50_ms:
  description: Median latency of the answered requests, in milliseconds.
  returned: always
  type: float
  sample: 1.9
p95_ms:
  description: 95th percentile latency of the answered requests, in milliseconds (nearest rank).
  returned: always
  type: float
  sample: 3.1
max_ms:
  description: Highest latency of the answered requests, in milliseconds.
  returned: always
  type: float
  sample: 8.7
elapsed:
  description: Seconds the gate ran.
  returned: always
  type: float
  sample: 2.6
urls:
  description: The URLs sampled.
  returned: always
  type: list
  elements: str
  sample: ["http://127.0.2.1:8080/"]
"""

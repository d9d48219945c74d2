#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/health_check.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: health_check
short_description: Prove that a host is healthy on the release it should run
version_added: 0.1.0
description:
  - Probes a host until its checks pass a number of times in a row, or fails with a message naming the host, the check,
    what was expected, what was seen and for how long.
  - HTTP(S) checks (status codes, a body regular expression, a JSON field such as the running release, response headers,
    a latency ceiling) and TCP connect checks run from the controller, or on the host with O(checks[].run_on=host) when the
    service is only reachable there. Command checks (a smoke script, C(systemctl is-active myapp)) run on the host over its
    connection.
  - "Semantics as in progressive-delivery tools: after O(initial_delay), every O(wait.interval) seconds all checks run (a
    round); the host passes after O(wait.successes) passing rounds in a row; it fails when more than O(wait.failure_limit)
    rounds failed, or when O(wait.timeout) seconds passed without passing. Rounds where nothing answered do not count
    during O(wait.start_period). The same wait as the host's own health wait of M(fleetops.release.release_activate)."
  - With O(expected_release), the O(url) must answer JSON whose O(release_field) equals that release. This is how a
    rollback is proven, not just assumed.
extends_documentation_fragment:
  - fleetops.release.health
  - fleetops.release.wait
  - fleetops.release.health.attributes
options:
  url:
    description:
      - Shorthand for one HTTP check of this URL expecting HTTP 200 (and the release, with O(expected_release)). Runs first.
    type: str
  expected_release:
    description:
      - Release id the host must report in the O(release_field) of the JSON answer of O(url) (which it requires).
      - For other checks, set O(checks[].json_field) and O(checks[].json_value).
    type: str
  release_field:
    description:
      - JSON field (dotted path for nested fields, such as V(build.release)) holding the running release in the answer.
    type: str
    default: release
  checks:
    description:
      - Checks to run in every round, after O(url). A round passes when all of them pass.
      - At least one of O(url) and O(checks) is needed.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name used in messages and results. Defaults to the type and target, such as C(http http://host/health).
        type: str
      type:
        description: Kind of check.
        type: str
        choices: [http, tcp, command]
        default: http
      run_on:
        description:
          - Where an V(http) or V(tcp) probe is sent from. V(controller) (the default) or V(host), with the host's Python
            over its connection (for services that listen only on the host's loopback).
          - V(command) checks always run on the host.
        type: str
        choices: [controller, host]
      url:
        description: URL of an V(http) check (C(http://) or C(https://)).
        type: str
      method:
        description: HTTP method of an V(http) check.
        type: str
        default: GET
      headers:
        description: Request headers of an V(http) check.
        type: dict
        default: {}
      status_codes:
        description: HTTP statuses that pass an V(http) check.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: Regular expression the body of an V(http) answer must match (Python C(re.search)).
        type: str
      json_field:
        description:
          - Field of the JSON answer that must exist (dotted path; list items by index, such as V(items.0.id)).
        type: str
      json_value:
        description:
          - Value O(checks[].json_field) must hold. Compared as JSON values, or as text when they differ in type (so V("42")
            matches the number 42).
        type: raw
      expect_headers:
        description: Response headers that must be present, name to a regular expression their value must match.
        type: dict
        default: {}
      validate_certs:
        description: Verify the TLS certificate of an C(https://) URL.
        type: bool
        default: true
      max_latency_ms:
        description: Latency ceiling in milliseconds; a slower answer (or command run) fails the check.
        type: float
      host:
        description: Address of a V(tcp) check.
        type: str
      port:
        description: Port of a V(tcp) check.
        type: int
      command:
        description: Shell command of a V(command) check, run on the host (with become when the task has it).
        type: str
      rc:
        description: Exit code that passes a V(command) check.
        type: int
        default: 0
      stdout_regex:
        description: Regular expression the standard output of a V(command) check must match.
        type: str
  initial_delay:
    description: Seconds to wait before the first round (a service known to need time to start).
    type: float
    default: 0.0
  command_timeout:
    description:
      - Seconds one run of a V(command) check may take. A command that runs longer is killed together with every process
        it started (it runs in a process group of its own on the host, which gets SIGTERM, then SIGKILL after 2 seconds), and the
        probe fails naming the check and the timeout.
      - In the playbooks of this collection it comes from the variable C(fleet_health_command_timeout).
    type: float
    default: 30.0
seealso:
  - module: fleetops.release.traffic_gate
  - module: fleetops.release.metric_gate
  - module: fleetops.release.release_switch
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The host must answer HTTP 200 with the release it was switched to, 3 times in a row within 60 s
  fleetops.release.health_check:
    url: "http://{{ ansible_host }}:8000/health"
    expected_release: "{{ fleet_verify_release }}"
    wait:
      successes: 3
      timeout: 60

- name: Several checks, one of them on the host itself
  fleetops.release.health_check:
    checks:
      - name: release
        url: "https://{{ inventory_hostname }}:8443/health"
        json_field: build.release
        json_value: "2026.11.26-1"
        max_latency_ms: 500
        expect_headers:
          Content-Type: ^application/json
      - name: admin port
        type: tcp
        host: "{{ ansible_host }}"
        port: 9000
      - name: service active
        type: command
        command: systemctl is-active shop
        stdout_regex: ^active
      - name: metrics endpoint on loopback
        url: http://127.0.0.1:9100/metrics
        run_on: host
    initial_delay: 2
    wait:
      interval: 2
      failure_limit: 10
      timeout: 120

- name: Trial a stricter latency check without failing anything
  fleetops.release.health_check:
    checks:
      - url: "http://{{ ansible_host }}:8000/"
        max_latency_ms: 50
    wait:
      successes: 5
      timeout: 10
    mode: shadow
  register: latency_trial
"""

RETURN = r"""
passed:
  description: Whether the checks passed (also in shadow mode, where a failure does not fail the task).
  returned: always
  type: bool
  sample: true
would_fail:
  description: Whether the task fails (or, in shadow mode, would fail) with this verdict.
  returned: always
  type: bool
  sample: false
mode:
  description: The O(mode) the checks ran in.
  returned: always
  type: str
  sample: enforce
msg:
  description: The verdict in words; on failure every failing check with what was expected, what was seen and for how long.
  returned: always
  type: str
  sample: "us-1: check 'http http://127.0.1.1:8000/health' expected HTTP 200, release=v2 but saw HTTP 200, release=v1;
    4 failed rounds (more than wait.failure_limit 3) after 1.5 s (4 probes; failures at 0.0 s: HTTP 200, release=v1,
    0.5 s: HTTP 200, release=v1, 1.0 s: HTTP 200, release=v1, 1.5 s: HTTP 200, release=v1). Fix the release, or raise
    wait.failure_limit to tolerate more failed rounds"
probes:
  description: Rounds run.
  returned: always
  type: int
  sample: 3
successes:
  description: Passing rounds.
  returned: always
  type: int
  sample: 3
failures:
  description: Failed rounds counted against O(wait.failure_limit).
  returned: always
  type: int
  sample: 0
not_up:
  description: Rounds where nothing answered during O(wait.start_period), not counted.
  returned: always
  type: int
  sample: 0
reason:
  description: Why the wait ended, V(passed), V(failure_limit) or V(timeout).
  returned: always
  type: str
  sample: passed
last_failures:
  description: The last (up to 10) counted failed rounds.
  returned: always
  type: list
  elements: dict
  contains:
    at:
      description: Seconds from the first round to the start of this one.
      type: float
    seen:
      description: What the failing checks saw.
      type: str
    not_up:
      description: Whether nothing answered (rather than a wrong answer).
      type: bool
  sample: [{"at": 10.0, "seen": "no answer (connection refused)", "not_up": true}]
elapsed:
  description: Seconds from the first round to the verdict.
  returned: always
  type: float
  sample: 2.01
checks:
  description: Verdict of each check in the last round.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
    type:
      description: V(http), V(tcp) or V(command).
      type: str
    ok:
      description: Whether the check passed.
      type: bool
    expected:
      description: What the check expected.
      type: str
    seen:
      description: What the probe saw.
      type: str
    latency_ms:
      description: Duration of the probe in milliseconds (V(null) when it could not be measured).
      type: float
    not_up:
      description: Whether the check failed only because nothing answered (connection refused or reset, timed out).
      type: bool
  sample:
    - name: http http://127.0.1.1:8000/health
      type: http
      ok: true
      expected: HTTP 200, release=v2
      seen: HTTP 200, release=v2
      latency_ms: 2.4
      not_up: false
"""

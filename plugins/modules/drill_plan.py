#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/drill_plan.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_plan
short_description: Check a rollback drill's inputs and plan it before anything changes
version_added: 0.1.0
description:
  - Run once (C(run_once)), as the first task of a drill, on the controller, in a play over the drill's group. Judges
    every input from the inputs and the inventory alone and refuses a bad one with one message that lists every problem.
  - "Checks: O(group) names a group of the inventory (not C(all)), and the play's hosts are in it; O(fault) is one of
    V(broken_health), V(errors_5xx), V(crash), V(rollback); the three deploy faults have the broken release's id
    (O(release)) and tarball (O(artifact)); each host has C(fleet_region) and each region a C(fleet_lb_url) to measure
    through; the probe's bounds are numbers above 0."
  - A host counts as production unless its C(fleet_environment) names another environment (unknown counts as production).
    A drill on production hosts needs O(allow_production=true) and O(reason).
  - Creates a private working directory on the controller (the prober's output and stop file, the logs of the runs the
    drill starts) and a key for the configuration digests of this drill.
author:
  - fleetops maintainers (!UNKNOWN)
extends_documentation_fragment:
  - fleetops.release.drill.actions
attributes:
  idempotent:
    description: Changes nothing on the fleet; every run makes a new working directory.
    support: N/A
options:
  group:
    description: The inventory group to drill (C(fleet_drill_group)).
    type: str
  fault:
    description: The fault to inject (C(fleet_drill_fault)).
    type: str
  release:
    description: Id of the deliberately broken release a deploy fault deploys (C(fleet_drill_release)).
    type: str
  artifact:
    description: Its tarball on the controller (C(fleet_drill_artifact)).
    type: str
  artifact_sha256:
    description: Its sha256 (C(fleet_drill_artifact_sha256)).
    type: str
  allow_production:
    description: Allow a drill on production hosts (with O(reason)).
    type: bool
    default: false
  reason:
    description: Why the drill runs (C(fleet_reason)); required on production hosts.
    type: str
  probe_path:
    description: Path the prober requests from each load balancer.
    type: raw
    default: /
  probe_interval:
    description: Seconds between two requests of the prober, per region.
    type: raw
    default: 0.1
  probe_timeout:
    description: Seconds a request of the prober may take.
    type: raw
    default: 2.0
  probe_max_seconds:
    description: The prober stops after this many seconds at the latest.
    type: raw
    default: 900
  probe_max_requests:
    description: The prober stops after this many requests at the latest.
    type: raw
    default: 50000
  run_timeout:
    description: Seconds each run the drill starts (deploy.yml, rollback.yml) may take before it is stopped.
    type: raw
    default: 1800
seealso:
  - module: fleetops.release.drill_run
  - module: fleetops.release.drill_report
"""

EXAMPLES = r"""
- name: Check the drill's inputs and plan it
  fleetops.release.drill_plan:
    group: "{{ fleet_drill_group }}"
    fault: broken_health
    release: "2026.11.26-drill"
    artifact: dist/shop-broken-health.tar.gz
  run_once: true
  register: fleet_drill_plan
"""

RETURN = r"""
plan:
  description:
    - The drill's plan, C(group), C(fault), C(fault_text), C(hosts), C(production) (the production hosts), C(regions)
      (region -> C(hosts), C(url)), C(release), C(probe) (its settings), C(run_timeout), C(work_dir), C(probe_output),
      C(probe_stop_file) and C(digest_key_file) (the file, private to the controller user, that holds the key of the
      drill's configuration digests; the key itself is never in the result).
  returned: success
  type: dict
  sample: {"group": "staging", "fault": "rollback", "hosts": ["eu-1", "eu-2"], "regions": {"eu": {"hosts": ["eu-1", "eu-2"],
           "url": "http://lb.eu.example.com/"}}, "production": [], "probe_output": "/tmp/fleetops-drill-x1/probe.jsonl"}
msg:
  description: One line about the drill, or every problem when refused.
  returned: always
  type: str
  sample: drill rollback on staging (2 hosts in eu)
"""

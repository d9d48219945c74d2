# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: baseline_groups
short_description: A region's canary and baseline hosts in a running deploy, as members of fleetops.release.baseline_gate
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Reads the run report (C(hostvars.localhost.fleet_run_report), docs/run-report.md) between a batch's switch and its
    settlement. The canary are the run's hosts of region O(region) on the target now (switched in an earlier batch,
    found on it, or live in this batch); the baseline are the run's hosts of the region not touched yet (a later wave).
    Failed hosts and hosts outside the run (a C(--limit)) are in neither.
  - Each host becomes a member C({name, url, instance}) of M(fleetops.release.baseline_gate) - C(url) is the host's
    C(fleet_app_url), else the scheme and address of its C(fleet_health_url); C(instance) its C(fleet_prometheus_instance),
    else the C(host:port) of C(url).
positional: _input, region, hostvars
options:
  _input:
    description: The run report.
    type: dict
    required: true
  region:
    description: The region.
    type: str
    required: true
  hostvars:
    description: The variables of each host (C(hostvars)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare the canaries of region us with the hosts still on the old release
  fleetops.release.baseline_gate:
    canary: "{{ groups_of_us.canary }}"
    baseline: "{{ groups_of_us.baseline }}"
    metric: error_rate
    max_ratio: 2
  vars:
    groups_of_us: "{{ hostvars.localhost.fleet_run_report | fleetops.release.baseline_groups('us', hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: C(canary) and C(baseline), each a list of C({name, url, instance}).
  type: dict
  sample: {"canary": [{"name": "us-1", "url": "http://127.0.1.1:8000", "instance": "127.0.1.1:8000"}],
           "baseline": [{"name": "us-4", "url": "http://127.0.1.4:8000", "instance": "127.0.1.4:8000"}]}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._baseline import member_of, run_groups


def baseline_groups(report, region, hostvars):
    if not isinstance(report, Mapping):
        raise AnsibleFilterError("baseline_groups: the run report must be a dict, not %r" % (report,))
    groups = run_groups(report, region)
    try:
        return dict((group, [member_of(host, hostvars[host]) for host in hosts]) for group, hosts in groups.items())
    except KeyError as exc:
        raise AnsibleFilterError("baseline_groups: host %s of the run report is not in hostvars" % exc)


class FilterModule:

    def filters(self):
        return {"baseline_groups": baseline_groups}

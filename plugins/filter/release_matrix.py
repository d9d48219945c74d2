# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: release_matrix
short_description: Group host status rows by region and mark the hosts that disagree with their region
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Takes one row per host (as role C(fleetops.release.status) builds them, with at least C(host), C(region),
    C(reachable) and C(current)) and returns the fleet by region, in the order the regions first appear.
  - Each region lists its hosts, how many hosts run each release, and its majority release (the most common current
    release of its reachable hosts; none when releases tie, a split region). A reachable host whose current release is
    not the majority release (every reachable host of a split region) is marked with C(differs).
positional: _input
options:
  _input:
    description: One row per host.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Mark the hosts that run another release than their region
  ansible.builtin.debug:
    msg: "{{ rows | fleetops.release.release_matrix }}"
  vars:
    rows:
      - {host: eu-1, region: eu, reachable: true, current: v2}
      - {host: eu-2, region: eu, reachable: true, current: v1}
      - {host: eu-3, region: eu, reachable: true, current: v2}
"""

RETURN = r"""
_value:
  description: The fleet by region.
  type: dict
  contains:
    regions:
      description: One entry per region with C(name), C(majority), C(releases) (release -> hosts) and C(hosts) (the rows, each
        with C(differs) added).
      type: list
      elements: dict
    hosts:
      description: All rows, each with C(differs).
      type: list
      elements: dict
    disagreeing:
      description: Names of the hosts that differ from their region.
      type: list
      elements: str
  sample: {"regions": [{"name": "eu", "majority": "v2", "releases": {"v2": 2, "v1": 1}, "hosts": []}], "hosts": [],
           "disagreeing": ["eu-2"]}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def release_matrix(rows):
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, (list, tuple)):
        raise AnsibleFilterError("release_matrix: the input must be a list of host rows, got %r" % (rows,))
    regions = {}
    for row in rows:
        if not isinstance(row, Mapping) or not row.get("host"):
            raise AnsibleFilterError("release_matrix: every row needs a host name, got %r" % (row,))
        regions.setdefault(row.get("region") or "-", []).append(dict(row))
    result = {"regions": [], "hosts": [], "disagreeing": []}
    for name, members in regions.items():
        counts = {}
        for row in members:
            if row.get("reachable", True):
                release = row.get("current")
                counts[release] = counts.get(release, 0) + 1
        top = max(counts.values()) if counts else 0
        leaders = [release for release, count in counts.items() if count == top]
        majority = leaders[0] if len(leaders) == 1 else None  # a split region has no majority: every host stands out
        for row in members:
            row["differs"] = bool(row.get("reachable", True)) and row.get("current") != majority
            if row["differs"]:
                result["disagreeing"].append(row["host"])
        result["regions"].append({"name": name, "majority": majority,
                                  "releases": {str(release): count for release, count in counts.items()}, "hosts": members})
        result["hosts"].extend(members)
    return result


class FilterModule:

    def filters(self):
        return {"release_matrix": release_matrix}

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: wave_plan
short_description: Plan the waves of a release across regions
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Computes, once and from the inventory, which hosts switch together. The result is a list of waves, each a list of
    batches. A batch is the set of hosts (per region) that are drained, switched and put back in rotation together.
  - O(waves) is applied per region and is cumulative. Wave k brings each region up to its share. A count is a number
    of hosts, a percentage (V("50%")) is a share of the region rounded up, so it never stands for 0 hosts. The shares
    must grow strictly (counts among counts, percentages among percentages) and the list must end with V("100%");
    the filter never adds a wave that was not asked for. Where counts and percentages mix, a share that an earlier
    wave already reached in a region brings nobody there. A wave that brings no host in any region (tiny regions)
    is left out of the plan.
  - O(min_healthy) is what must stay in rotation in each region. A wave whose share would drain more of a region at
    once is split into several batches (of balanced sizes). Hosts switched by an earlier batch count as back in
    rotation, so the playbook must verify them (health checks, enabled in the load balancer) before the next batch.
  - A region that cannot keep O(min_healthy) members in rotation while even one of its hosts is drained (by default a
    region with a single host) is refused with an error. Setting O(min_healthy) to V(0) for that region is the
    explicit way to accept that it goes out of service; each batch that leaves a region with nobody in rotation is
    then marked with RV(_value[].batches[].outage).
  - In V(lockstep) mode every wave takes its share of every region (with the default O(waves), the first wave is one
    canary per region), so regions are never more than one wave apart. In V(sequential) mode the regions go one
    after another in O(region_order), each region walking all the waves.
  - Host order within a region is the order of O(_input) (the inventory order for C(ansible_play_hosts)); regions
    are ordered by O(region_order), then by the first appearance of one of their hosts. The plan is deterministic.
positional: _input
options:
  _input:
    description:
      - The hosts to plan, in inventory order, usually C(ansible_play_hosts).
    type: list
    elements: str
    required: true
  regions:
    description:
      - Where each host belongs. Either a mapping of host name to region name, or a mapping of host name to the
        host's variables (such as C(hostvars)), from which O(region_var) is read.
      - Every host of O(_input) must have a region.
    type: dict
    required: true
  region_var:
    description:
      - The variable holding the region when O(regions) maps hosts to their variables.
    type: str
    default: fleet_region
  members:
    description:
      - All members of the regions, usually C(groups['fleet']), including hosts that are not planned (outside a
        C(--limit), or already on the target). They stay in rotation, so O(min_healthy) is measured against the whole
        region, while O(waves) shares apply to the planned hosts. Every member needs a region in O(regions).
      - Without it, a region is only its planned hosts.
    type: list
    elements: str
  waves:
    description:
      - Cumulative share of each region that is switched after each wave. Each entry is a number of hosts (V(2)) or
        a percentage of the region (V("25%")), rounded up.
      - Counts must grow strictly, percentages too, and the last entry must be V("100%").
    type: list
    elements: raw
    default: [1, "50%", "100%"]
  mode:
    description:
      - V(lockstep) walks all regions together, wave by wave. V(sequential) walks one region after another.
    type: str
    choices: [lockstep, sequential]
    default: lockstep
  region_order:
    description:
      - Regions to take first, in this order; regions not listed follow in inventory order.
      - Every name must be a region of a host of O(_input); a region named twice is an error.
      - In V(lockstep) mode it orders the regions within each batch.
    type: list
    elements: str
  min_healthy:
    description:
      - Members of each region that must stay in rotation while a batch is drained. A count (V(1)), a percentage of
        the region (V("50%"), rounded up), or a mapping of region name to either (regions not named get V(1)).
      - The default V(1) never drains a region's last member.
    type: raw
    default: 1
notes:
  - Play keywords such as C(hosts) and C(serial) cannot be templated from C(hostvars), and C(serial) hides earlier
    batches from the play. Compute the plan once (C(run_once)) and walk it inside one play, so that earlier waves
    stay reachable, for example to revert them.
seealso:
  - module: fleetops.release.release_switch
"""

EXAMPLES = r"""
- name: Plan the waves once for the whole play
  ansible.builtin.set_fact:
    fleet_plan: >-
      {{ ansible_play_hosts | fleetops.release.wave_plan(regions=hostvars, region_var='fleet_region',
         waves=fleet_waves, mode=fleet_wave_mode, region_order=fleet_region_order,
         min_healthy=fleet_min_healthy) }}
  run_once: true

- name: Show the plan
  ansible.builtin.debug:
    msg: >-
      wave {{ item.index }}/{{ item.total }} ({{ item.spec }}):
      {{ item.batches | length }} batch(es), {{ item.hosts | join(', ') }}
  loop: "{{ fleet_plan }}"
  loop_control:
    label: "{{ item.index }}"
  run_once: true

- name: Plan from an explicit host-to-region mapping, two regions one after the other
  ansible.builtin.set_fact:
    fleet_plan: >-
      {{ ['eu-1', 'eu-2', 'us-1', 'us-2'] | fleetops.release.wave_plan(
         regions={'eu-1': 'eu', 'eu-2': 'eu', 'us-1': 'us', 'us-2': 'us'},
         mode='sequential', region_order=['us']) }}
  # waves: us-1 | us-2 | eu-1 | eu-2

- name: Accept that a single-host region goes out of service while it switches
  ansible.builtin.set_fact:
    fleet_plan: >-
      {{ ansible_play_hosts | fleetops.release.wave_plan(regions=hostvars, min_healthy={'ap': 0}) }}
"""

RETURN = r"""
_value:
  description:
    - The waves, in order. Every host of O(_input) is in exactly one batch of one wave.
  type: list
  elements: dict
  contains:
    index:
      description: Position of the wave, from 1.
      type: int
      sample: 1
    total:
      description: Number of waves in the plan.
      type: int
      sample: 3
    mode:
      description: The mode the plan was made in.
      type: str
      sample: lockstep
    spec:
      description: The entry of O(waves) this wave comes from.
      type: raw
      sample: "50%"
    regions:
      description: The regions this wave switches hosts in, in order.
      type: list
      elements: str
      sample: [eu, us, ap]
    hosts:
      description: The hosts of this wave, batch after batch.
      type: list
      elements: str
      sample: [eu-2, us-2, ap-2]
    counts:
      description: Number of hosts this wave switches, per region it touches.
      type: dict
      sample: {"eu": 1, "us": 1, "ap": 1}
    switched:
      description: Number of hosts switched in each region once this wave is done (cumulative, every region).
      type: dict
      sample: {"eu": 2, "us": 2, "ap": 2}
    sizes:
      description: Number of hosts of each region.
      type: dict
      sample: {"eu": 4, "us": 4, "ap": 4}
    min_healthy:
      description: Members of each region that stay in rotation, resolved to a number of hosts.
      type: dict
      sample: {"eu": 1, "us": 1, "ap": 1}
    batches:
      description: The batches of the wave, in order. More than one when O(min_healthy) splits the wave.
      type: list
      elements: dict
      contains:
        index:
          description: Position of the batch within its wave, from 1.
          type: int
          sample: 1
        total:
          description: Number of batches in its wave.
          type: int
          sample: 1
        wave:
          description: Position of its wave, from 1.
          type: int
          sample: 2
        waves:
          description: Number of waves in the plan.
          type: int
          sample: 3
        step:
          description: Position of the batch across the whole plan, from 1.
          type: int
          sample: 2
        steps:
          description: Number of batches in the whole plan.
          type: int
          sample: 3
        hosts_by_region:
          description: The hosts drained and switched together, per region, in inventory order.
          type: dict
          sample: {"eu": ["eu-2"], "us": ["us-2"], "ap": ["ap-2"]}
        hosts:
          description: The same hosts as one list.
          type: list
          elements: str
          sample: [eu-2, us-2, ap-2]
        in_rotation:
          description: Members of each region of the batch that stay in rotation while it is drained.
          type: dict
          sample: {"eu": 3, "us": 3, "ap": 3}
        outage:
          description: Whether the batch leaves a region with no member in rotation (only with O(min_healthy) V(0)).
          type: bool
          sample: false
        outage_regions:
          description: The regions the batch leaves with no member in rotation.
          type: list
          elements: str
          sample: []
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError
from ansible_collections.fleetops.release.plugins.module_utils._waves import DEFAULT_WAVES, plan_waves


def _region_of(host, regions, region_var):
    try:
        value = regions[host]
    except KeyError:
        raise AnsibleFilterError("wave_plan: host %r has no entry in regions: give every host a region" % (host,))
    if isinstance(value, Mapping):
        if region_var not in value:
            raise AnsibleFilterError(
                "wave_plan: host %r has no variable %r: set it in the inventory (or pass region_var)"
                % (host, region_var))
        value = value[region_var]
    if not isinstance(value, str) or not value:
        raise AnsibleFilterError("wave_plan: host %r has region %r: a region must be a non-empty string" % (host, value))
    return value


def wave_plan(hosts, regions, waves=None, mode=None, region_order=None, min_healthy=None, region_var="fleet_region",
              members=None):
    """Group ``hosts`` by region (in their order) and plan the waves (see plan_waves)."""
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("wave_plan: the input must be a list of hosts (such as ansible_play_hosts), got %r"
                                 % (hosts,))
    if not isinstance(regions, Mapping):
        raise AnsibleFilterError("wave_plan: regions must map each host to its region (or to its variables, such as "
                                 "hostvars), got %r" % (regions,))
    if not isinstance(region_var, str) or not region_var:
        raise AnsibleFilterError("wave_plan: region_var must be a variable name, got %r" % (region_var,))
    by_region = {}
    seen = set()
    for host in hosts:
        if not isinstance(host, str) or not host:
            raise AnsibleFilterError("wave_plan: host names must be non-empty strings, got %r" % (host,))
        if host in seen:
            raise AnsibleFilterError("wave_plan: host %r is listed twice in the input" % (host,))
        seen.add(host)
        by_region.setdefault(_region_of(host, regions, region_var), []).append(host)
    sizes = None
    if members is not None:
        if isinstance(members, (str, bytes, Mapping)) or not isinstance(members, (list, tuple)):
            raise AnsibleFilterError("wave_plan: members must be a list of hosts (such as groups['fleet']), got %r" % (members,))
        sizes = {}
        for host in set(members) | seen:
            region = _region_of(host, regions, region_var)
            sizes[region] = sizes.get(region, 0) + 1
    try:
        return plan_waves(by_region, waves=DEFAULT_WAVES if waves is None else waves, mode=mode,
                          region_order=region_order, min_healthy=min_healthy, region_sizes=sizes)
    except FleetError as exc:
        raise AnsibleFilterError("wave_plan: %s" % (exc,))


class FilterModule:

    def filters(self):
        return {"wave_plan": wave_plan}

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: wave_walk
short_description: Turn a wave plan into the hosts and batch sizes of a walk play
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - The waves are walked by a play whose C(hosts) are the plan's hosts in batch order and whose C(serial) is the list
    of batch sizes, so that each batch's tasks run on its hosts only. This filter gives both, plus the batches and
    each host's batch.
positional: _input
options:
  _input:
    description: A plan from P(fleetops.release.wave_plan#filter).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Keep the walk on the controller for the next play
  ansible.builtin.set_fact:
    fleet_wave_walk: "{{ fleet_wave_plan | fleetops.release.wave_walk }}"
  run_once: true
  delegate_to: localhost
  delegate_facts: true

# The next play:
#   hosts: "{{ hostvars.localhost.fleet_wave_walk.hosts }}"
#   serial: "{{ hostvars.localhost.fleet_wave_walk.sizes }}"
"""

RETURN = r"""
_value:
    description: The walk.
    type: dict
    contains:
      hosts:
        description: Every host of the plan, batch after batch.
        type: list
        elements: str
        sample: [eu-1, us-1, eu-2, us-2]
      sizes:
        description: The number of hosts of each batch (for C(serial)).
        type: list
        elements: int
        sample: [2, 2]
      batches:
        description: The batches of the plan, in order (see P(fleetops.release.wave_plan#filter)).
        type: list
        elements: dict
      batch_of:
        description: Each host's position in O(batches), from 0.
        type: dict
        sample: {"eu-1": 0, "us-1": 0, "eu-2": 1, "us-2": 1}
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report


def wave_walk(plan):
    if not isinstance(plan, list):
        raise AnsibleFilterError("wave_walk: the input must be a plan from wave_plan, got %r" % (plan,))
    try:
        return _wave_report.walk(plan)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("wave_walk: the input is not a plan from wave_plan (%s)" % (exc,))


class FilterModule:

    def filters(self):
        return {"wave_walk": wave_walk}

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: lb_membership
short_description: The hosts their region's load balancer does not know
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Takes the registered results of one M(fleetops.release.lb_pool_info) read per region (a loop whose C(item.value) is
    the region's hosts) and returns a mapping of host to problem for every host whose backend (C(fleet_lb_backend)) is
    missing or unknown, or whose server (C(fleet_lb_server), default the inventory name) is not in that backend on every
    node. An empty mapping means every host can be drained and enabled.
  - Skipped reads (regions without HAProxy) are ignored.
positional: _input
options:
  _input:
    description: The C(results) of the registered loop.
    type: list
    elements: dict
    required: true
  hostvars:
    description: The variables of each host (C(hostvars)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Refuse hosts their load balancer does not know
  ansible.builtin.fail:
    msg: "{{ problems }}"
  when: problems | length > 0
  vars:
    problems: "{{ fleet_wave_lb.results | fleetops.release.lb_membership(hostvars) }}"
"""

RETURN = r"""
_value:
  description: Host name to problem.
  type: dict
  sample: {"us-2": "server us-2 is not in backend app at /run/haproxy/us.sock (servers there: us-1, us-3)"}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import lb_membership_problems


def lb_membership(reads, hostvars):
    if not isinstance(reads, list):
        raise AnsibleFilterError("lb_membership: the input must be the results list of an lb_pool_info loop, got %r" % (reads,))
    return lb_membership_problems(reads, hostvars)


class FilterModule:

    def filters(self):
        return {"lb_membership": lb_membership}

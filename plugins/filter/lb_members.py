# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: lb_members
short_description: Turn hosts into the members list of fleetops.release.lb_pool
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Maps each host to a member of M(fleetops.release.lb_pool), with C(server) set to its C(fleet_lb_server) (else its
    name) and C(state) set to O(state), so that one call can drain or enable all of a batch's hosts of a region at once.
positional: _input
options:
  _input:
    description: Host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The variables of each host (C(hostvars)); the server name is read from O(server_var).
    type: dict
    required: true
  state:
    description: The admin state every member gets.
    type: str
    choices: [ready, drain, maint]
    required: true
  server_var:
    description: The variable that names a host's server in its load balancer's backend.
    type: str
    default: fleet_lb_server
"""

EXAMPLES = r"""
- name: Drain this batch's hosts of the region in one call
  fleetops.release.lb_pool:
    socket: "{{ fleet_lb_socket }}"
    backend: "{{ fleet_lb_backend }}"
    members: "{{ ['eu-1', 'eu-2'] | fleetops.release.lb_members(hostvars, 'drain') }}"
  delegate_to: "{{ fleet_lb_host }}"
"""

RETURN = r"""
_value:
  description: One member per host.
  type: list
  elements: dict
  sample: [{"server": "eu-1", "state": "drain"}, {"server": "eu-2", "state": "drain"}]
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

STATES = ("ready", "drain", "maint")


def lb_members(hosts, hostvars, state, server_var="fleet_lb_server"):
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("lb_members: the input must be a list of host names, got %r" % (hosts,))
    if state not in STATES:
        raise AnsibleFilterError("lb_members: state must be one of %s, got %r" % (", ".join(STATES), state))
    members = []
    for host in hosts:
        try:
            variables = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("lb_members: %r is not a host of the inventory" % (host,))
        server = variables.get(server_var) or host
        members.append({"server": str(server), "state": state})
    return members


class FilterModule:

    def filters(self):
        return {"lb_members": lb_members}

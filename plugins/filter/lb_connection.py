# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: lb_connection
short_description: The load-balancer connection options of a host's inventory, for module_defaults of the LB modules
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Turns a host's variables (for example C(hostvars[host])) into the connection option group that every module of the
    action group C(fleetops.release.lb) (M(fleetops.release.lb_pool), M(fleetops.release.lb_pool_flip),
    M(fleetops.release.lb_pool_info)) accepts, so that one C(module_defaults) entry for C(group/fleetops.release.lb)
    connects all of them to the region's load balancer, HAProxy or nginx.
  - "Each option C(NAME) of the group comes from the inventory variable C(fleet_lb_NAME): C(fleet_lb_type) gives C(lb_type),
    C(fleet_lb_socket) C(socket), C(fleet_lb_state_file) C(state_file), C(fleet_lb_nodes) C(nodes), C(fleet_lb_timeout)
    C(timeout), C(fleet_lb_nginx_upstream_file) C(nginx_upstream_file), C(fleet_lb_nginx_config) C(nginx_config),
    C(fleet_lb_nginx_pid_file) C(nginx_pid_file) and C(fleet_lb_nginx_binary) C(nginx_binary)."
  - A variable that is unset, empty or null is left out, so the module's default applies; C(lb_type) is always there
    (V(haproxy) when C(fleet_lb_type) is unset or empty).
  - The values are passed on as they are; the modules check them and name the option that is wrong.
positional: _input
options:
  _input:
    description: The variables of one host, for example C(hostvars['lb-leader']) or C(vars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Every LB module of the block talks to the load balancer of the batch's leader
  module_defaults:
    group/fleetops.release.lb: "{{ hostvars[item.leader] | fleetops.release.lb_connection }}"
  block:
    - name: Drain the batch's hosts of the region
      fleetops.release.lb_pool:
        backend: "{{ hostvars[item.leader].fleet_lb_backend | default(omit) }}"
        members: "{{ item.hosts | fleetops.release.lb_members(hostvars, 'drain') }}"
      delegate_to: "{{ hostvars[item.leader].fleet_lb_host }}"

- name: Show what the inventory gives an HA pair region
  ansible.builtin.debug:
    msg: "{{ {'fleet_lb_nodes': [{'socket': 'ipv4@10.0.0.11:9999'}, {'socket': 'ipv4@10.0.0.12:9999'}], 'fleet_lb_socket': ''}
             | fleetops.release.lb_connection }}"
  # => {"lb_type": "haproxy", "nodes": [{"socket": "ipv4@10.0.0.11:9999"}, {"socket": "ipv4@10.0.0.12:9999"}]}
"""

RETURN = r"""
_value:
  description:
    - The options of the group that the host's variables set, named as the modules name them; always C(lb_type).
  type: dict
  sample: {"lb_type": "haproxy", "socket": "/run/haproxy/admin.sock", "state_file": "/var/lib/haproxy/server-state"}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._module_common import LB_CONNECTION_SPEC

# Each option NAME of the group (LB_CONNECTION_SPEC, defined once) comes from the inventory variable fleet_lb_NAME,
# except lb_type, whose variable has always been fleet_lb_type.
VARIABLES = {name: "fleet_lb_type" if name == "lb_type" else "fleet_lb_" + name for name in LB_CONNECTION_SPEC}
LB_TYPES = tuple(LB_CONNECTION_SPEC["lb_type"]["choices"])


def _unset(value):
    # An inventory often sets a variable to "" (or null) to mean "not here", e.g. fleet_lb_socket: "" for an HA pair.
    return value is None or (isinstance(value, (str, bytes, list, tuple, dict, Mapping)) and len(value) == 0)


def lb_connection(variables):
    if not isinstance(variables, Mapping):
        raise AnsibleFilterError("lb_connection: the input must be a host's variables (a dict such as hostvars[host]), got %s %r"
                                 % (type(variables).__name__, variables))
    options = {}
    for name, variable in VARIABLES.items():
        if variable not in variables:
            continue
        value = variables[variable]  # hostvars templates the value on access
        if not _unset(value):
            options[name] = value
    lb_type = options.get("lb_type", "haproxy")
    if lb_type not in LB_TYPES:
        raise AnsibleFilterError("lb_connection: fleet_lb_type is %r; set it to one of %s (or leave it empty for haproxy)"
                                 % (lb_type, ", ".join(LB_TYPES)))
    options.pop("lb_type", None)
    return dict(lb_type=lb_type, **options)


class FilterModule:

    def filters(self):
        return {"lb_connection": lb_connection}

#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_pool_flip
short_description: Flip a blue/green region of HAProxy to the other pool, atomically
version_added: 0.1.0
description:
  - A blue/green region has two backends (for example C(app_blue) and C(app_green)); its frontend picks one through a map,
    for example C(use_backend %[str(active),map(/etc/haproxy/active.map,app_blue)]).
  - This module points the map entry O(key) at the backend O(pool) on every LB node. The whole map is swapped in one step
    with the runtime API (C(prepare map), C(add map), C(commit map)), so every new request goes to exactly one pool and
    requests in flight are not touched.
  - It also writes the map file (a temporary file renamed over it) before the swap, so a reload keeps the flip. The module
    owns that file; comments in it are not kept.
  - It returns the pool that was active before, so the flip back is one call with O(pool) set to RV(previous).
  - Before anything changes it waits (up to O(ready_timeout)) until O(pool) can take the traffic on every node, that is
    until at least one server is in rotation and every server in rotation is up by HAProxy's own health checks. A pool whose hosts were just
    restarted may still count as down there, and a flip to it would answer 503. When the time is up the flip is
    refused and nothing changes.
  - It takes the whole load-balancer option group (O(lb_type) to O(nginx_binary)), so that one C(module_defaults) entry for
    the action group C(fleetops.release.lb) fits it; O(state_file) and the C(nginx_*) options are not used.
    O(lb_type=nginx) fails, because the flip swaps an HAProxy map at runtime, which nginx has no counterpart for.
extends_documentation_fragment:
  - fleetops.release.lb
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Only reads; C(changed) and the diff say what would happen.
  idempotent:
    details: When the map (at runtime and on disk) already points at O(pool), nothing is written and C(changed=false).
options:
  map:
    description:
      - The map file, exactly as named in the frontend's C(map()) converter (HAProxy identifies the map by it), on the host the
        module runs on (inventory variable C(fleet_lb_map)).
      - Required unless every entry of O(nodes) has its own C(map).
    type: path
  key:
    description:
      - The map key whose value is the active backend (inventory variable C(fleet_lb_map_key)), for example V(active) or a
        host name.
    type: str
    required: true
  pool:
    description:
      - The backend to make active. It must exist on every node.
    type: str
    required: true
  pools:
    description:
      - The region's pools (inventory variable C(fleet_lb_pools)). When given, O(pool) must be one of them, and all of them
        must exist on every node.
    type: list
    elements: str
  ready_timeout:
    description:
      - Seconds to wait, before the flip, until O(pool) can take the traffic on every node (see above). V(0) checks once
        without waiting.
    type: float
    default: 30
seealso:
  - module: fleetops.release.lb_pool
  - plugin: fleetops.release.lb_connection
    plugin_type: filter
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Flip with the connection options of the region's inventory (socket or nodes), set once for the LB modules
  module_defaults:
    group/fleetops.release.lb: "{{ hostvars[groups[fleet_region][0]] | fleetops.release.lb_connection }}"
  block:
    - name: Send the region's traffic to the green pool
      fleetops.release.lb_pool_flip:
        map: "{{ fleet_lb_map }}"
        key: "{{ fleet_lb_map_key }}"
        pool: app_green
        pools: "{{ fleet_lb_pools }}"
      delegate_to: "{{ fleet_lb_host }}"
      run_once: true

- name: Send the region's traffic to the green pool
  fleetops.release.lb_pool_flip:
    socket: "{{ fleet_lb_socket }}"
    map: /etc/haproxy/maps/active.map
    key: active
    pool: app_green
    pools: [app_blue, app_green]
  delegate_to: "{{ fleet_lb_host }}"
  run_once: true
  register: flip

- name: Flip back in one call
  fleetops.release.lb_pool_flip:
    socket: "{{ fleet_lb_socket }}"
    map: /etc/haproxy/maps/active.map
    key: active
    pool: "{{ flip.previous }}"
  delegate_to: "{{ fleet_lb_host }}"
  run_once: true
"""

RETURN = r"""
active:
  description: The pool that is active now (or would be, in check mode).
  returned: success
  type: str
  sample: app_green
previous:
  description: The pool that was active before, as the first node's runtime map said (V(null) when the key was absent).
  returned: success
  type: str
  sample: app_blue
agreed_before:
  description: Whether all nodes had the same active pool before the call.
  returned: success
  type: bool
  sample: true
waited:
  description: Seconds spent waiting for O(pool) to be able to take the traffic (V(0) when nothing had to change).
  returned: success
  type: float
  sample: 0.8
nodes:
  description: Per node, its map file, the pool active before, and what changed (runtime map, map file).
  returned: success
  type: list
  elements: dict
  sample: [{"socket": "/run/haproxy/admin.sock", "map": "/etc/haproxy/maps/active.map", "previous": "app_blue", "changed": true,
            "runtime_changed": true, "file_changed": true}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._haproxy import LbError, flip_pool, haproxy_nodes
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    LB_CONNECTION_MUTUALLY_EXCLUSIVE,
    LB_CONNECTION_SPEC,
    argument_spec,
)


def main():
    spec = argument_spec(
        LB_CONNECTION_SPEC,
        map={"type": "path"},
        key={"type": "str", "required": True, "no_log": False},
        pool={"type": "str", "required": True},
        pools={"type": "list", "elements": "str"},
        ready_timeout={"type": "float", "default": 30.0},
    )
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=LB_CONNECTION_MUTUALLY_EXCLUSIVE, supports_check_mode=True)
    params = module.params
    if params["lb_type"] != "haproxy":
        module.fail_json(msg=f"lb_pool_flip needs lb_type=haproxy, not {params['lb_type']}: a blue/green flip swaps an HAProxy map "
                             "at runtime, which nginx has no counterpart for. Run blue/green regions behind HAProxy (inventory "
                             "variable fleet_lb_type), or take nginx members out and back with fleetops.release.lb_pool")
    try:
        nodes = haproxy_nodes(params)
    except LbError as exc:
        module.fail_json(msg=str(exc))
    if not params["map"] and not all(node.get("map") for node in nodes):
        module.fail_json(msg="no map file: set map (or map in every entry of nodes) to the file named in the frontend's map() converter")
    try:
        result = flip_pool(nodes, params["map"], params["key"], params["pool"], pools=params["pools"], check_mode=module.check_mode,
                           timeout=params["timeout"], ready_timeout=params["ready_timeout"])
    except LbError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

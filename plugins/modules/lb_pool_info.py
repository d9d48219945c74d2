#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_pool_info
short_description: Read the servers of a region's load balancer (HAProxy backends on every node, or an nginx upstream)
version_added: 0.1.0
description:
  - Reads C(show servers state) and C(show stat) on each node (an operator-level socket is enough) and returns, per backend
    and server, the admin state (V(ready), V(drain), V(maint)), weight, operational state and current sessions.
  - Reports every server whose admin state or weight differs between nodes (for example a change made by hand on one node
    of an HA pair) in RV(disagreements), with RV(agree=false).
  - With O(lb_type=nginx) it reads the members of the upstream file O(nginx_upstream_file) that M(fleetops.release.lb_pool)
    owns (what nginx serves with, since that module validates and reloads after each change) and returns them in
    RV(upstream), with their admin state (V(ready), or V(drain)/V(maint) when marked C(down)), weight and address. nginx has no
    runtime API, so there are no sessions or health states; O(backends) is not used.
  - It takes the whole load-balancer option group (O(lb_type) to O(nginx_binary)), so that one C(module_defaults) entry for
    the action group C(fleetops.release.lb) fits it; O(state_file), O(nodes[].map), O(nginx_config),
    O(nginx_pid_file) and O(nginx_binary) are not used.
extends_documentation_fragment:
  - fleetops.release.lb
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Read-only; runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    details: Read-only.
options:
  backends:
    description: The HAProxy backends to read. Required with O(lb_type=haproxy).
    type: list
    elements: str
    aliases: [backend]
  fail_on_disagreement:
    description: Fail when the nodes disagree (after reporting them).
    type: bool
    default: false
seealso:
  - module: fleetops.release.lb_pool
  - plugin: fleetops.release.lb_connection
    plugin_type: filter
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check that both nodes of the pair agree
  fleetops.release.lb_pool_info:
    nodes:
      - socket: /run/haproxy/admin.sock
      - socket: ipv4@10.0.0.12:9999
    backends: [app]
    fail_on_disagreement: true
  delegate_to: lb-eu-1
  register: pool

- name: Read the region's pool with the connection options of its inventory (HAProxy or nginx)
  fleetops.release.lb_pool_info:
    backends: ["{{ fleet_lb_backend | default('app') }}"]
  module_defaults:
    group/fleetops.release.lb: "{{ hostvars[groups[fleet_region][0]] | fleetops.release.lb_connection }}"
  delegate_to: "{{ fleet_lb_host }}"
  run_once: true
  register: pool
"""

RETURN = r"""
backends:
  description: Per backend and server, what the first node reports.
  returned: success with lb_type=haproxy
  type: dict
  sample: {"app": {"web-1": {"state": "ready", "weight": 1, "initial_weight": 1, "operational": "running", "sessions": 0}}}
nodes:
  description: Per node, its socket, CLI level and the same data as RV(backends).
  returned: success with lb_type=haproxy
  type: list
  elements: dict
  sample: [{"socket": "/run/haproxy/admin.sock", "level": "admin", "backends": {"app": {}}}]
agree:
  description: Whether every node reports the same admin state and weight for every server (always V(true) for nginx, one node).
  returned: success
  type: bool
  sample: false
disagreements:
  description: The servers on which the nodes differ, with each node's state and weight (V(null) where a node lacks the server).
  returned: success
  type: list
  elements: dict
  sample: [{"backend": "app", "server": "web-3", "nodes": {"/run/haproxy/admin.sock": {"state": "ready", "weight": 1},
            "ipv4@10.0.0.12:9999": {"state": "maint", "weight": 1}}}]
upstream:
  description: Per member of the nginx upstream file, its admin state, weight, address and whether nginx has it C(down).
  returned: success with lb_type=nginx
  type: dict
  sample: {"web-1": {"state": "ready", "weight": 1, "address": "10.0.1.1:8000", "down": false},
           "web-2": {"state": "drain", "weight": 1, "address": "10.0.1.2:8000", "down": true}}
upstream_file:
  description: The nginx upstream file that was read.
  returned: success with lb_type=nginx
  type: str
  sample: /etc/nginx/upstreams/app.conf
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._haproxy import LbError, haproxy_nodes, pool_info
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    LB_CONNECTION_MUTUALLY_EXCLUSIVE,
    LB_CONNECTION_SPEC,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._nginx import upstream_info


def main():
    spec = argument_spec(
        LB_CONNECTION_SPEC,
        backends={"type": "list", "elements": "str", "aliases": ["backend"]},
        fail_on_disagreement={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=LB_CONNECTION_MUTUALLY_EXCLUSIVE,
                           required_if=[("lb_type", "haproxy", ("backends",)), ("lb_type", "nginx", ("nginx_upstream_file",))],
                           supports_check_mode=True)
    params = module.params
    try:
        if params["lb_type"] == "nginx":
            # One nginx, no runtime API: the upstream file is the pool's whole state, and there is nothing to disagree with.
            result = {"upstream_file": params["nginx_upstream_file"], "upstream": upstream_info(params["nginx_upstream_file"]),
                      "agree": True, "disagreements": []}
        else:
            result = pool_info(haproxy_nodes(params), params["backends"], timeout=params["timeout"])
    except LbError as exc:
        module.fail_json(msg=str(exc))
    if params["fail_on_disagreement"] and not result["agree"]:
        text = "; ".join(f"{d['backend']}/{d['server']}: " + ", ".join(f"{a} {v}" for a, v in d["nodes"].items()) for d in result["disagreements"])
        module.fail_json(msg=f"the LB nodes disagree: {text}", **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

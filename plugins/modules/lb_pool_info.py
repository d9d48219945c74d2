#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_pool_info
short_description: Read the servers of HAProxy backends on every LB node of a region, and whether the nodes agree
version_added: 0.1.0
description:
  - Reads C(show servers state) and C(show stat) on each node (an operator-level socket is enough) and returns, per backend
    and server, the admin state (V(ready), V(drain), V(maint)), weight, operational state and current sessions.
  - Reports every server whose admin state or weight differs between nodes (for example a change made by hand on one node
    of an HA pair) in RV(disagreements), with RV(agree=false).
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
    description: The backends to read.
    type: list
    elements: str
    required: true
    aliases: [backend]
  fail_on_disagreement:
    description: Fail when the nodes disagree (after reporting them).
    type: bool
    default: false
seealso:
  - module: fleetops.release.lb_pool
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
"""

RETURN = r"""
backends:
  description: Per backend and server, what the first node reports.
  returned: success
  type: dict
  sample: {"app": {"web-1": {"state": "ready", "weight": 1, "initial_weight": 1, "operational": "running", "sessions": 0}}}
nodes:
  description: Per node, its socket, CLI level and the same data as RV(backends).
  returned: success
  type: list
  elements: dict
  sample: [{"socket": "/run/haproxy/admin.sock", "level": "admin", "backends": {"app": {}}}]
agree:
  description: Whether every node reports the same admin state and weight for every server.
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._haproxy import LB_NODES_SPEC, LbError, lb_node_specs, pool_info


def main():
    spec = dict(LB_NODES_SPEC)
    spec.update(
        backends={"type": "list", "elements": "str", "required": True, "aliases": ["backend"]},
        fail_on_disagreement={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=spec, mutually_exclusive=[("socket", "nodes")], required_one_of=[("socket", "nodes")],
                           supports_check_mode=True)
    params = module.params
    try:
        result = pool_info(lb_node_specs(params), params["backends"], timeout=params["timeout"])
    except LbError as exc:
        module.fail_json(msg=str(exc))
    if params["fail_on_disagreement"] and not result["agree"]:
        text = "; ".join(f"{d['backend']}/{d['server']}: " + ", ".join(f"{a} {v}" for a, v in d["nodes"].items()) for d in result["disagreements"])
        module.fail_json(msg=f"the LB nodes disagree: {text}", **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

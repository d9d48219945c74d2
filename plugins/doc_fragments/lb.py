# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The LB nodes of a region: one HAProxy, or every HAProxy of an HA pair.
    DOCUMENTATION = r"""
options:
  socket:
    description:
      - The HAProxy stats socket of the region's single LB node, as on its C(stats socket) line.
      - An absolute path of a unix socket (optionally prefixed C(unix@)), or C(ipv4@<address>:<port>) for a TCP socket
        (which can be reached from the controller).
      - A unix socket must exist on the host the module runs on, so run the task with C(delegate_to) the region's LB host
        (inventory variable C(fleet_lb_host)).
      - Mutually exclusive with O(nodes).
    type: str
  state_file:
    description:
      - Path of the node's C(server-state-file) (from the C(global) section of C(haproxy.cfg)) on the host the module runs on.
      - After every call the module saves C(show servers state) there whenever the admin states or weights it holds differ
        from the live ones, so that a reload (with C(load-server-state-from-file global)) keeps drained and maintained
        servers out of rotation.
      - Only with O(socket); for several nodes use O(nodes[].state_file).
    type: path
  nodes:
    description:
      - Every LB node of the region (for example an HA pair). The change is made on each node through its own runtime API
        session, and the nodes must agree before and after it.
      - Mutually exclusive with O(socket).
    type: list
    elements: dict
    suboptions:
      socket:
        description: Stats socket of this node (a unix socket path or C(ipv4@<address>:<port>)).
        type: str
        required: true
      state_file:
        description: The node's C(server-state-file), written as described for O(state_file).
        type: path
      map:
        description:
          - The map file of this node, when it differs from the module's C(map) option (only for M(fleetops.release.lb_pool_flip)).
        type: path
  timeout:
    description:
      - Seconds to wait for connecting to a socket and for each answer of HAProxy (the whole answer, however slowly it
        comes).
      - With O(fleetops.release.lb_pool#module:lb_type=nginx), also the seconds C(nginx -t) may run; it is killed after
        that with every process it started, and the previous upstream file is put back.
    type: float
    default: 10.0
notes:
  - Runtime API commands are sent through one interactive (C(prompt)) session per node and call.
  - HAProxy forgets runtime changes on reload; see O(state_file) and the map file written by M(fleetops.release.lb_pool_flip).
"""

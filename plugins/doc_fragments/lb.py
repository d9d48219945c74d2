# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The load-balancer connection option group: how to reach a region's LB (one HAProxy, every HAProxy of an HA pair,
    # or one nginx). Every module of the action group fleetops.release.lb takes all of it (spec LB_CONNECTION_SPEC in
    # module_utils/_module_common.py), so that one module_defaults entry fits every call.
    DOCUMENTATION = r"""
options:
  lb_type:
    description:
      - The kind of load balancer (inventory variable C(fleet_lb_type)).
      - V(haproxy) uses O(socket), O(state_file) or O(nodes), and O(timeout); V(nginx) uses the C(nginx_*) options and
        O(timeout). The options of the other kind are ignored, so one option group fits every call.
    type: str
    choices: [haproxy, nginx]
    default: haproxy
  socket:
    description:
      - The HAProxy stats socket of the region's single LB node, as on its C(stats socket) line (inventory variable
        C(fleet_lb_socket)).
      - An absolute path of a unix socket (optionally prefixed C(unix@)), or C(ipv4@<address>:<port>) for a TCP socket
        (which can be reached from the controller).
      - A unix socket must exist on the host the module runs on, so run the task with C(delegate_to) the region's LB host
        (inventory variable C(fleet_lb_host)).
      - Mutually exclusive with O(nodes). One of them is required with O(lb_type=haproxy).
    type: str
  state_file:
    description:
      - Path of the node's C(server-state-file) (from the C(global) section of C(haproxy.cfg)) on the host the module runs on
        (inventory variable C(fleet_lb_state_file)).
      - After every call of M(fleetops.release.lb_pool) the module saves C(show servers state) there whenever the admin
        states or weights it holds differ from the live ones, so that a reload (with C(load-server-state-from-file global))
        keeps drained and maintained servers out of rotation. The other modules of the group ignore it.
      - Only with O(socket); for several nodes use O(nodes[].state_file).
    type: path
  nodes:
    description:
      - Every LB node of the region (for example an HA pair) (inventory variable C(fleet_lb_nodes)). The change is made on
        each node through its own runtime API session, and the nodes must agree before and after it.
      - Mutually exclusive with O(socket) and O(state_file).
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
          - The map file of this node, when it differs from the module's C(map) option (only used by
            M(fleetops.release.lb_pool_flip)).
        type: path
  timeout:
    description:
      - Seconds to wait for connecting to a socket and for each answer of HAProxy (the whole answer, however slowly it
        comes) (inventory variable C(fleet_lb_timeout)).
      - With O(lb_type=nginx), also the seconds C(nginx -t) may run in M(fleetops.release.lb_pool); it is killed after
        that with every process it started, and the previous upstream file is put back.
    type: float
    default: 10.0
  nginx_upstream_file:
    description:
      - nginx only. The include file holding the upstream's C(server) lines; M(fleetops.release.lb_pool) owns it
        (inventory variable C(fleet_lb_nginx_upstream_file)).
      - Required with O(lb_type=nginx).
    type: path
  nginx_config:
    description:
      - nginx only. The main configuration file, validated with C(nginx -t -c) after each change (inventory variable
        C(fleet_lb_nginx_config)).
    type: path
    default: /etc/nginx/nginx.conf
  nginx_pid_file:
    description:
      - nginx only. The pid file of the nginx master (its C(pid) directive), which gets SIGHUP to reload (inventory
        variable C(fleet_lb_nginx_pid_file)).
    type: path
    default: /run/nginx.pid
  nginx_binary:
    description:
      - nginx only. The nginx program used for validation (inventory variable C(fleet_lb_nginx_binary)).
    type: str
    default: nginx
notes:
  - The options above form one group. Every module of the action group C(fleetops.release.lb) accepts all of them, so
    they can be set once with C(module_defaults) for C(group/fleetops.release.lb), for example from a host's inventory
    variables with the filter P(fleetops.release.lb_connection#filter).
  - Runtime API commands are sent through one interactive (C(prompt)) session per node and call.
  - HAProxy forgets runtime changes on reload; see O(state_file) and the map file written by M(fleetops.release.lb_pool_flip).
"""

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Argument-spec pieces and error handling shared by the modules."""

from __future__ import annotations

import getpass

APP_ROOT_SPEC = {"app_root": {"type": "path", "default": "/srv/app"}}
ACTOR_SPEC = {"run_id": {"type": "str"}, "actor": {"type": "str"}}
# What a module that makes a release current is told (doc fragment fleetops.release.common.switch).
SWITCH_SPEC = {
    "release": {"type": "str", "required": True, "aliases": ["id"]},
    "operation": {"type": "str", "default": "switch", "choices": ["switch", "deploy", "rollback"]},
    "reason": {"type": "str"},
}

# The load-balancer connection option group (doc fragment fleetops.release.lb), accepted by every module of the
# action group ``lb`` (lb_pool, lb_pool_flip, lb_pool_info): module_defaults for a group hands every key to every
# module of it, and a module fails on a key it does not know, so all of them take all of these. Options that do not
# apply to the chosen lb_type are ignored. Each option NAME comes from the inventory variable fleet_lb_NAME
# (filter fleetops.release.lb_connection).
LB_CONNECTION_SPEC = {
    "lb_type": {"type": "str", "default": "haproxy", "choices": ["haproxy", "nginx"]},
    "socket": {"type": "str"},
    "state_file": {"type": "path"},
    "nodes": {
        "type": "list",
        "elements": "dict",
        "options": {
            "socket": {"type": "str", "required": True},
            "state_file": {"type": "path"},
            "map": {"type": "path"},
        },
    },
    "timeout": {"type": "float", "default": 10.0},
    "nginx_upstream_file": {"type": "path"},
    "nginx_config": {"type": "path", "default": "/etc/nginx/nginx.conf"},
    "nginx_pid_file": {"type": "path", "default": "/run/nginx.pid"},
    "nginx_binary": {"type": "str", "default": "nginx"},
}
# A node is named either alone (socket, state_file) or in nodes, never both: which one was meant is unknowable.
LB_CONNECTION_MUTUALLY_EXCLUSIVE = [("socket", "nodes"), ("state_file", "nodes")]


def argument_spec(*parts, **options):
    spec = {}
    for part in parts:
        spec.update(part)
    spec.update(options)
    return spec


def actor_of(module):
    """The actor named by the caller, else the user the module runs as."""
    return module.params.get("actor") or getpass.getuser()

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


def argument_spec(*parts, **options):
    spec = {}
    for part in parts:
        spec.update(part)
    spec.update(options)
    return spec


def actor_of(module):
    """The actor named by the caller, else the user the module runs as."""
    return module.params.get("actor") or getpass.getuser()

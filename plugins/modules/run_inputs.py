#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/run_inputs.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: run_inputs
short_description: Check a deploy's or rollback's inputs and plan it before anything changes
version_added: 0.1.0
description:
  - Run once (C(run_once)), as the first task of a deploy or rollback, on the controller. It judges everything an operator
    can get wrong on the command line or in the inventory from the inputs and the inventory alone, so that a bad input
    is refused before the first remote change (before any lock, unpack or prune).
  - "It checks: options with a fixed set of values (O(strategy), O(mode)); whole numbers and their bounds (O(max_fail),
    O(wave_pause), O(keep_releases), the command timeouts, O(artifact_max_unpacked)); the release id (letters, digits
    and C(. _ + @ -), the whole value, so no trailing newline); each configuration path (absolute, normalised, no
    C(..)); the regions of the play's hosts (each host has C(fleet_region), a group of that name exists, and the host is
    in exactly one region group); and a dry plan of the waves over every host of the play (O(waves), O(min_healthy),
    O(region_order)), which no plan over fewer hosts can exceed."
  - It also checks every host's variables against the argument specs of the role entry points the operation's
    playbook runs (for O(operation=deploy) the C(preflight) of M(fleetops.release.deploy), for V(rollback) the
    C(preflight) of M(fleetops.release.rollback), and the C(main) of M(fleetops.release.waves)), in this one step
    instead of a validation task per host and entry point; a problem that not every host has names its hosts.
  - A refusal fails the task with one message that lists every problem and what to do.
  - "Hosts outside a C(--limit) keep serving: they count towards O(min_healthy) in the dry plan, as in the real one."
author:
  - fleetops maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Only reads; the same checks run in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to diff.
  idempotent:
    support: full
    description: Only reads the inputs and the inventory.
options:
  operation:
    description: The run the inputs are for. A deploy needs O(release).
    type: str
    required: true
    choices: [deploy, rollback]
  release:
    description: The release to deploy, or the named rollback target (C(fleet_release)); empty for the automatic target.
    type: str
  strategy:
    description: C(fleet_strategy); V(rolling) or V(blue_green).
    type: raw
    default: rolling
  waves:
    description: C(fleet_waves), a list of counts and percentages ending with V("100%"), or its YAML text.
    type: raw
  mode:
    description: C(fleet_wave_mode); V(lockstep) or V(sequential).
    type: raw
    default: lockstep
  region_order:
    description: C(fleet_region_order), a list of region names.
    type: raw
  min_healthy:
    description: C(fleet_min_healthy), a count, a percentage, or a mapping of region to either.
    type: raw
  max_fail:
    description: C(fleet_max_fail), failures tolerated before the waves stop; 0 or more.
    type: raw
    default: 0
  wave_pause:
    description:
      - C(fleet_wave_pause), what follows each wave but the last; seconds of bake time (0 or more), V(manual) (the run
        holds until promoted or aborted), or per wave a mapping of wave number to either, or a list with one value per
        wave. A wave number at or past the plan's last wave is refused.
    type: raw
    default: 0
  wave_pause_timeout:
    description: C(fleet_wave_pause_timeout), the seconds a manual pause may last; at least 1.
    type: raw
    default: 3600
  wave_pause_on_timeout:
    description: C(fleet_wave_pause_on_timeout), what a manual pause does at its timeout, V(abort) or V(promote).
    type: raw
    default: abort
  wave_pause_poll:
    description: C(fleet_wave_pause_poll), the seconds between two reads of the control record while paused; 1 to 120.
    type: raw
    default: 10
  canary_weights:
    description:
      - C(fleet_canary_weights) (weighted canaries) - a list of whole percentages 1 to 100, strictly increasing, ending
        with 100 (the steps of wave 1), or a mapping of wave number to such a list; empty for none. Refused with
        O(strategy=blue_green).
    type: raw
    default: []
  canary_step_pause:
    description: C(fleet_canary_step_pause), seconds (0 or more) or V(manual), what holds each reduced weight step.
    type: raw
    default: 0
  keep_releases:
    description: C(fleet_keep_releases) of a deploy; 0 or more (0 keeps every release).
    type: raw
  config_paths:
    description: C(fleet_config_paths), absolute configuration paths.
    type: raw
    default: []
  config_templates:
    description:
      - C(fleet_config_templates); a configuration path that a template's C(dest) equals or lies below need not exist
        before a deploy (RV(config_paths_to_check)).
    type: raw
    default: []
  restart_timeout:
    description: C(fleet_restart_timeout), seconds; 1 or more.
    type: raw
    default: 120
  health_command_timeout:
    description: C(fleet_health_command_timeout), seconds; 1 or more.
    type: raw
    default: 30
  hook_timeout:
    description: C(fleet_hook_timeout), seconds per hook task; 0 or more (0 for no limit).
    type: raw
    default: 600
  health_wait:
    description:
      - C(fleet_health_wait), the health wait of the activations and checks (built from the C(fleet_health_*)
        variables), checked as M(fleetops.release.release_activate) checks its O(fleetops.release.release_activate#module:wait).
    type: raw
  artifact_max_unpacked:
    description: C(fleet_artifact_max_unpacked) of a deploy, bytes; 1 or more, or unset for the default.
    type: raw
  run_timeout:
    description: C(fleet_run_timeout), the run's deadline in seconds from its start; 0 or more (0 for none).
    type: raw
    default: 0
  lock_ttl:
    description: C(fleet_lock_ttl), seconds the run's locks outlive its deadline; 0 or more (0 for locks that never expire).
    type: raw
    default: 0
  baseline_gates:
    description:
      - C(fleet_baseline_gates), the canary-versus-baseline comparisons (issue 19); each item's options are checked as
        M(fleetops.release.baseline_gate) checks them, so that a bad one is refused before any change rather than at
        the first wave's gate.
    type: raw
    default: []
seealso:
  - module: fleetops.release.run_guard
  - plugin: fleetops.release.wave_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the run's inputs before anything changes
  fleetops.release.run_inputs:
    operation: deploy
    release: "{{ fleet_release }}"
    waves: "{{ fleet_waves }}"
    min_healthy: "{{ fleet_min_healthy }}"
    max_fail: "{{ fleet_max_fail }}"
    keep_releases: "{{ fleet_keep_releases }}"
  run_once: true
  register: fleet_inputs
"""

RETURN = r"""
operation:
  description: The operation judged.
  returned: success
  type: str
  sample: deploy
release:
  description: The release id, or V(null) for a rollback to the automatic target.
  returned: success
  type: str
  sample: "2026.12.05-1"
strategy:
  description: The strategy.
  returned: success
  type: str
  sample: rolling
mode:
  description: The wave mode.
  returned: success
  type: str
  sample: lockstep
max_fail:
  description: O(max_fail) as a number.
  returned: success
  type: int
  sample: 0
wave_pause:
  description: O(wave_pause) as given when it is valid (a number of seconds as a number).
  returned: success
  type: raw
  sample: 0
keep_releases:
  description: O(keep_releases) as a number (deploy), else V(null).
  returned: success
  type: int
  sample: 5
config_paths_to_check:
  description:
    - A deploy's configuration paths that must exist on every host, those no template creates. The preflight refuses a
      missing one unless C(fleet_config_allow_missing) is set. Empty for a rollback.
  returned: success
  type: list
  elements: str
  sample: ["/etc/shop/app.conf"]
regions:
  description: The play's hosts by region, in play order.
  returned: success
  type: dict
  sample: {"us": ["us-1", "us-2"], "eu": ["eu-1", "eu-2"]}
waves:
  description: Number of waves of the dry plan over every host of the play (0 for blue/green).
  returned: success
  type: int
  sample: 3
batches:
  description: Number of batches of the dry plan.
  returned: success
  type: int
  sample: 3
"""

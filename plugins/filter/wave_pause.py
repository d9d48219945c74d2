# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: wave_pause
short_description: What follows a wave of the walk according to fleet_wave_pause (bake time, a manual pause, nothing)
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Reads C(fleet_wave_pause) for wave O(wave) of O(waves). C(fleet_wave_pause) is a number of seconds (bake time after
    every wave but the last), V(manual) (the run holds after every wave but the last until C(playbooks/promote.yml) or
    C(playbooks/abort.yml), or the pause's timeout), a mapping of wave number to either (waves not named have no pause), or
    a list with one value per wave.
  - The last wave never has a pause. See C(docs/rollout-control.md).
positional: _input, wave, waves
options:
  _input:
    description: C(fleet_wave_pause).
    type: raw
    required: true
  wave:
    description: The wave just done (1 is the first); V(0) asks only whether any pause is set (RV(_value.any)).
    type: int
    default: 0
  waves:
    description: The number of waves of the run.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Hold after the wave when it says manual
  ansible.builtin.debug:
    msg: "{{ fleet_wave_pause | fleetops.release.wave_pause(fleet_batch.wave, fleet_batch.waves) }}"
"""

RETURN = r"""
_value:
  description: C(kind) (V(none), V(bake) or V(manual)), C(seconds) (bake time) and C(any) (whether any wave has a pause).
  type: dict
  sample: {"kind": "manual", "seconds": 0, "any": true}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._rollout_control import ControlError, any_pause, pause_for_wave


def wave_pause(value, wave=0, waves=0):
    try:
        found = pause_for_wave(value, int(wave), int(waves)) if int(wave or 0) > 0 else {"kind": "none", "seconds": 0}
        return dict(found, any=any_pause(value))
    except (ControlError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("wave_pause: %s" % exc)


class FilterModule:

    def filters(self):
        return {"wave_pause": wave_pause}

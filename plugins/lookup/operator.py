# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: operator
short_description: Who runs this play, determined on the controller (the OS user, or AWX's user in a proven AWX job)
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Returns the operator exactly as M(fleetops.release.run_guard) and every plugin of this collection that records
    who did something determine it, on the controller, at the moment of the look-up.
  - Outside AWX the controller's OS user (the effective uid, not C($USER) and not a variable). Inside a proven AWX job
    AWX's user, or for a launch without a user what launched it (C(schedule:<name>), C(webhook:<template>)), with the
    job's AWX keys; the proof of an AWX job is in the description of M(fleetops.release.run_guard). Outside a proven
    AWX job every C(awx_*) variable is ignored, with a warning.
  - For reports only (the status role's job artifacts); a play never needs it to record who did something, the
    plugins that record it determine the operator themselves.
options: {}
"""

EXAMPLES = r"""
- name: Show who runs this
  ansible.builtin.debug:
    msg: "{{ lookup('fleetops.release.operator').name }}"
"""

RETURN = r"""
_raw:
  description: One dict, the operator (keys as RV(fleetops.release.run_guard#module:operator) of run_guard).
  type: list
  elements: dict
  sample: [{"name": "alice", "source": "os", "launched_by": "user", "awx_user_name": null, "awx_job_id": null}]
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

display = Display()


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError("fleetops.release.operator takes no terms (who runs this is never an input), got %r"
                                     % (terms,))
        operator, warnings = _identity.controller_operator(variables or {})
        for warning in warnings:
            display.warning(warning)
        return [operator]

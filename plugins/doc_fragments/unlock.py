# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The host's last call of a run may also close the host's part of it (UNLOCK_SPEC and unlock_host in
    # module_utils/_host_info.py): release_activate and release_mark.
    DOCUMENTATION = r"""
options:
  unlock:
    description:
      - Once this call's change succeeded, also release this run's host lock and leave the run's line in the host's
        history, as M(fleetops.release.release_lock) with O(fleetops.release.release_lock#module:state=absent) does, in
        the same call. The playbooks set it on a host's activation in the waves (and on a blue/green rollback's mark),
        so that the host pays no round trip for its unlock; a later step that changes the host's outcome (a failed
        enable, the revert of a failed deploy) writes a corrected line.
      - Before anything changes, the host lock must be this run's, or free (a lock this run released already, as
        when a deploy's revert puts back a host unlocked at its activation); a lock another run holds fails the call
        with nothing changed.
      - Nothing is released when the call fails; the host stays locked.
    type: dict
    suboptions:
      holder:
        description:
          - The lock's holder; set by the action plugin to C(<operator>@<controller> run <run_id>), as for
            M(fleetops.release.release_lock).
        type: str
      run_summary:
        description:
          - The run's line for the host (see O(fleetops.release.release_lock#module:run_summary)); its C(actor) and
            C(operation) are set by the action plugin.
        type: dict
"""

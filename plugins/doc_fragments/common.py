# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options every module that works on a host's release layout shares.
    DOCUMENTATION = r"""
options:
  app_root:
    description:
      - Root of the application's release layout on the host.
      - Holds C(releases/<id>/), C(shared/), C(snapshots/), the C(current) symlink and C(.fleet/)
        (C(state.json), C(history.jsonl), C(lock)).
      - In playbooks of this collection it comes from the inventory variable C(fleet_app_root).
    type: path
    default: /srv/app
notes:
  - Release ids may contain letters, digits and C(. _ + @ -), must start with a letter or digit,
    must not contain C(..) or C(/), and are at most 128 characters long.
  - Releases are ordered by the sequence number recorded in their manifest when they were created
    (the ledger), never by file times.
"""

    # Who and why: recorded in state.json and history.jsonl.
    ACTOR = r"""
options:
  run_id:
    description:
      - Identifier of the run (deploy or rollback) making the change; recorded in the host's history
        so that every host's record can be joined with the run's audit record.
    type: str
  actor:
    description:
      - Who makes the change (an operator name). Recorded in the history.
      - Defaults to the user the module runs as on the host.
    type: str
"""

    # The release a module makes current, and what kind of change that is (SWITCH_SPEC in _module_common).
    SWITCH = r"""
options:
  release:
    description:
      - Id of the release to make current. It must exist under C(<app_root>/releases/) and be complete.
    type: str
    required: true
    aliases: [id]
  operation:
    description:
      - What kind of change this is; recorded in the state and the history.
    type: str
    choices: [switch, deploy, rollback]
    default: switch
  reason:
    description:
      - Why the change is made (recorded in the history).
    type: str
"""

    # Attribute descriptions; each module states its own support where it differs.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check mode and predict C(changed) without modifying the host.
    support: full
  diff_mode:
    description: Returns details on what changed (or would change in check mode) when run with C(--diff).
    support: full
  idempotent:
    description:
      - When run twice with the same arguments, the second run changes nothing and reports C(changed=false).
    support: full
  platform:
    description: Target platforms.
    support: full
    platforms: posix
"""

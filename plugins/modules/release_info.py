#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: Report a host's releases, state, lock and rollback target
version_added: 0.1.0
description:
  - Reads the release layout under O(app_root) and reports the current and previous release, every complete release
    with its manifest (oldest first by ledger order), pinned releases, known-bad releases (who marked them, when and
    why), an unfinished operation, the lock holder and the last lines of the history.
  - Resolves the rollback target. By default it is the newest release that is older than the current one in the ledger
    (not a toggle, a second rollback goes one further back). An interrupted rollback resumes towards the target it had,
    and an unfinished deploy returns to the release the host had before it. With O(release), that release is the
    target if it exists.
  - A release marked bad (M(fleetops.release.release_mark)) is never chosen automatically; the target is then the
    newest older release that is not marked bad, and RV(rollback_target_reason) names the releases that were skipped.
    A named O(release) that is marked bad is the target only with O(allow_bad=true); otherwise there is no target and
    the reason says who marked it bad, when and why.
  - RV(runs) says what the newest runs did on the host and whether each finished, so that a rollback after an
    interrupted run can return each host to where that run found it.
  - When there is no rollback target, RV(rollback_target) is V(null) and RV(rollback_target_reason) says why; the module
    itself does not fail, so a playbook can collect every host's answer before deciding.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  release:
    description:
      - A named rollback target to check instead of the default one.
    type: str
    aliases: [id]
  history_lines:
    description:
      - How many of the newest history lines to return.
    type: int
    default: 10
  allow_bad:
    description:
      - Accept a named O(release) as the rollback target although it is marked bad. In the playbooks of this
        collection it comes from C(fleet_allow_bad_release).
      - Has no effect on the automatic target, which is never a release marked bad.
    type: bool
    default: false
seealso:
  - module: fleetops.release.release_switch
  - module: fleetops.release.release_mark
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read every host's state and rollback target
  fleetops.release.release_info:
  register: fleet_state

- name: Fail when a host has nothing to roll back to
  ansible.builtin.assert:
    that: fleet_state.rollback_target is not none
    fail_msg: "{{ inventory_hostname }}: {{ fleet_state.rollback_target_reason }}"

- name: Check that a named release exists everywhere
  fleetops.release.release_info:
    release: "2026.11.20-3"
  register: named

- name: Roll back to a release that was marked bad, because the operator said so
  fleetops.release.release_info:
    release: "2026.11.20-3"
    allow_bad: true
  register: named_bad
"""

RETURN = r"""
exists:
  description: Whether the release layout exists under O(app_root).
  returned: always
  type: bool
  sample: true
current:
  description: Release C(current) points at, or V(null).
  returned: always
  type: str
  sample: "2026.11.26-1"
previous:
  description: Release that was current before it, or V(null).
  returned: always
  type: str
  sample: "2026.11.20-3"
releases:
  description: Manifests of all complete releases, oldest first, each with C(current), C(pinned) and C(bad) flags added.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "2026.11.20-3", "sequence": 6, "current": false, "pinned": true, "bad": false,
            "artifact_sha256": "9f86d0...", "created_at": "2026-11-20T09:00:00Z", "created_by": "deploy",
            "shared_paths": []}]
release_ids:
  description: Ids of all complete releases, oldest first.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.20-3", "2026.11.26-1"]
pinned:
  description: Pinned release ids.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.20-3"]
bad:
  description:
    - Releases marked bad on this host, each with who marked it (C(by)), when (C(at), UTC), why (C(reason)) and in
      which run (C(run_id)). A mark outlives its release directory, so it may name a release that was pruned.
  returned: always
  type: dict
  sample: {"2026.11.26-1": {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "error rate 12% after deploy",
                            "run_id": "20261126T210405Z-4821"}}
pending:
  description: An operation that was started and not confirmed (interrupted, or awaiting verification), or V(null).
  returned: always
  type: dict
  sample: {"operation": "rollback", "from": "2026.11.26-1", "to": "2026.11.20-3", "run_id": "20261126T210405Z-4821"}
lock:
  description: The per-host lock (holder, reason, since, expires_at, run_id), or V(null) when free.
  returned: always
  type: dict
  sample: {"holder": "alice@ctl", "reason": "rollback", "since": "2026-11-26T21:04:05Z", "expires_at": "2026-11-26T22:04:05Z"}
lock_expired:
  description: Whether the lock has expired.
  returned: always
  type: bool
  sample: false
rollback_target:
  description: Release a rollback would switch to, or V(null) when there is none.
  returned: always
  type: str
  sample: "2026.11.20-3"
rollback_target_reason:
  description: Why this target was chosen, or why there is none.
  returned: always
  type: str
  sample: newest release older than 2026.11.26-1
runs:
  description:
    - What the newest runs (up to five) did on this host, oldest first, read from its history and its unfinished
      operation. C(from) is the release the run's first switch left (where the run found the host), C(to) the one its
      last switch reached, C(switched) whether it switched the host at all, C(finished) whether its run line (written when
      it released the host's lock) is there, C(time) its newest line.
    - A run that switched a host and did not finish was interrupted (C(kill -9), a lost controller or host);
      C(playbooks/rollback.yml) then returns each host to where that run found it.
  returned: always
  type: list
  elements: dict
  sample: [{"run_id": "20261126T210405Z-4821", "operation": "deploy", "time": "2026-11-26T21:05:10Z", "from": "2026.11.20-3",
            "to": "2026.11.26-1", "switched": true, "finished": false}]
history:
  description: The newest lines of C(.fleet/history.jsonl), oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"time": "2026-11-26T21:04:05Z", "from": "2026.11.20-3", "to": "2026.11.26-1", "operation": "deploy"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._host_info import host_info
from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            release={"type": "str", "aliases": ["id"]},
            history_lines={"type": "int", "default": 10},
            allow_bad={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = host_info(params["app_root"], params["release"], params["allow_bad"], params["history_lines"])
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

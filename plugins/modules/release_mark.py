#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_mark
short_description: Mark a release on a host as known bad, or clear the mark
version_added: 0.1.0
description:
  - With O(state=bad), records in C(<app_root>/.fleet/state.json) that O(release) is known bad, with who marked it
    (O(actor)), when (UTC), why (O(reason)) and in which run (O(run_id)), and appends a line with
    C(operation=mark_bad) to C(.fleet/history.jsonl).
  - With O(state=good), removes the mark and appends a line with C(operation=mark_good).
  - O(actor) is set on the controller by the action plugin (the controller's OS user, or AWX's user inside a proven AWX
    job); a differing value the task passes is ignored with a warning.
  - A release marked bad is never picked as the automatic rollback target (M(fleetops.release.release_info)), is the
    named rollback target only with O(fleetops.release.release_info#module:allow_bad=true), and is not deployed again
    by M(fleetops.release.release) unless O(fleetops.release.release#module:allow_bad=true).
  - Marking a release that is already marked bad changes nothing and keeps the first mark (the one to audit).
  - A release that is neither installed on the host nor marked is an error that names the installed releases; a mark
    of a release that has been removed since can still be cleared.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.actor
  - fleetops.release.unlock
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Nothing is written; C(changed), RV(mark) and the diff say what would happen.
  idempotent:
    details: Marking a marked release again, or clearing a release that is not marked, changes nothing.
options:
  release:
    description:
      - Id of the release to mark or clear.
    type: str
    required: true
    aliases: [id]
  state:
    description:
      - V(bad) marks the release as known bad, V(good) clears the mark.
    type: str
    choices: [bad, good]
    default: bad
  reason:
    description:
      - Why the release is marked bad (or cleared); shown in every refusal that the mark causes.
    type: str
seealso:
  - module: fleetops.release.release_info
  - module: fleetops.release.release
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Mark the release we rolled back away from as known bad
  fleetops.release.release_mark:
    release: "2026.11.26-1"
    reason: "rolled back: error rate 12% after deploy"
    actor: "{{ fleet_actor }}"
    run_id: "{{ fleet_run_id }}"

- name: After a blue/green rollback, mark the release the region left and close the host's part of the run
  fleetops.release.release_mark:
    release: "2026.11.26-1"
    reason: "blue/green rollback"
    run_id: "{{ fleet_run_id }}"
    unlock:
      run_summary: "{{ hostvars.localhost.fleet_run_report.hosts[inventory_hostname] | combine({'run_id': fleet_run_id}) }}"

- name: Clear the mark once the release is fixed
  fleetops.release.release_mark:
    release: "2026.11.26-1"
    state: good
    reason: "false alarm, the error rate came from the payment provider"
"""

RETURN = r"""
mark:
  description: The mark of O(release) after the call (C(by), C(at), C(reason), C(run_id)), or V(null) when it is not bad.
  returned: always
  type: dict
  sample: {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "rolled back: error rate 12% after deploy",
           "run_id": "20261126T210405Z-4821"}
previous:
  description: The mark of O(release) before the call, or V(null).
  returned: always
  type: dict
  sample: null
bad:
  description: Every release marked bad on the host after the call, with its mark.
  returned: always
  type: dict
  sample: {"2026.11.26-1": {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "rolled back: error rate 12% after deploy",
                            "run_id": "20261126T210405Z-4821"}}
unlocked:
  description: Whether this call released the host lock (O(unlock)).
  returned: always
  type: bool
history:
  description: The run's line this call appended to the host's history (O(unlock.run_summary)), or V(null).
  returned: always
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._host_info import UNLOCK_SPEC, check_unlock, unlock_after
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    ACTOR_SPEC,
    APP_ROOT_SPEC,
    actor_of,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            ACTOR_SPEC,
            UNLOCK_SPEC,
            release={"type": "str", "required": True, "aliases": ["id"]},
            state={"type": "str", "default": "bad", "choices": ["bad", "good"]},
            reason={"type": "str"},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        store = ReleaseStore(params["app_root"])
        release_id = params["release"]
        check_unlock(params["unlock"], "fleetops.release.release_mark", params["app_root"])
        before = store.status()["bad"]
        previous = before.get(release_id)
        kwargs = {"actor": actor_of(module), "reason": params["reason"], "run_id": params["run_id"],
                  "check_mode": module.check_mode}
        if params["state"] == "bad":
            changed, mark = store.mark_bad(release_id, **kwargs)
        else:
            changed, dummy = store.clear_bad(release_id, **kwargs)
            mark = None
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    # Computed rather than re-read, so check mode shows the same result a real run would have.
    after = {key: value for key, value in before.items() if key != release_id}
    if mark is not None:
        after[release_id] = mark
    result = {"changed": changed, "mark": mark, "previous": previous, "bad": after,
              "diff": {"before": json.dumps(before, indent=2, sort_keys=True) + "\n",
                       "after": json.dumps(after, indent=2, sort_keys=True) + "\n",
                       "before_header": "%s (bad)" % store.state_path, "after_header": "%s (bad)" % store.state_path}}
    # The mark is written: with unlock, the host's part of the run is over.
    module.exit_json(**unlock_after(module, "fleetops.release.release_mark", "%s is marked" % release_id, result))


if __name__ == "__main__":
    main()

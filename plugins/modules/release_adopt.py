#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_adopt
short_description: Take over a host deployed by ansistrano, Capistrano, Deployer or deploy_helper
version_added: 0.2.0
description:
  - Reads the release layout another tool left under O(app_root) (C(releases/<name>/), the C(current) symlink,
    C(shared/)) and writes this collection's bookkeeping beside it, so that M(fleetops.release.release_info),
    C(playbooks/rollback.yml) and C(playbooks/deploy.yml) work on the host. Nothing is moved, renamed or deleted.
  - The tool is detected (C(.dep/releases_log) is Deployer, C(revisions.log) is Capistrano, a C(REVISION) file in the
    releases is ansistrano, C(DEPLOY_UNFINISHED) or bare C(%Y%m%d%H%M%S) names are deploy_helper) or named with O(from).
  - Each complete release gets a manifest (C(releases/<name>/.fleet-release.json)) whose C(sequence) is its place in
    the tool's own record (Capistrano's C(revisions.log), Deployer's C(.dep/releases_log)) or, for ansistrano and
    deploy_helper, in the order of the timestamps in the release names (C(date -u +%Y%m%d%H%M%SZ),
    C(%Y%m%d%H%M%S)). File times are never used. When the order cannot be known the module fails and asks for O(order).
  - Unfinished releases are recognised and left out (no manifest, reported in RV(unfinished)) - ansistrano's without
    C(REVISION), deploy_helper's with C(DEPLOY_UNFINISHED), Capistrano's not in C(revisions.log), Deployer's behind its
    C(release) symlink or not in its log.
  - The paths inside each release that are symlinks into C(shared/) are recorded in its manifest (RV(shared_paths));
    a Deployer release marked C(BAD_RELEASE) is marked bad in C(.fleet/state.json) (never an automatic rollback target).
  - C(.fleet/state.json) gets the current release (from the symlink) and the previous one (the release before it in
    that order) unless a run of this collection already set them, and an C(adopted) record; C(.fleet/history.jsonl)
    a line with C(event=adopt).
  - Releases this collection deployed after an adoption are left as they are. A second run changes nothing.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.actor
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Nothing is written; the result says what would be written. Playbooks use it as a read-only preflight.
  idempotent:
    details: A second run with the same layout writes nothing and reports C(changed=false).
options:
  from:
    description:
      - The tool that made the layout. Detected when not given; needed when the layout carries traces of two tools or
        of none of them.
    type: str
    choices: [ansistrano, capistrano, deployer, deploy_helper]
    aliases: [tool]
  order:
    description:
      - Every complete release id, oldest first, when the order cannot be read from the tool's record or the names
        (release names chosen by hand, a C(current) missing from the record). Overrides the detected order.
    type: list
    elements: str
notes:
  - The names C(releases), C(current) and C(shared) under O(app_root) are fixed; a layout that renamed them
    (C(ansistrano_version_dir), deploy_helper's C(releases_path)) cannot be adopted in place.
  - The old tools' release names (C(20240101120000Z), C(20240101120000), C(7)) are valid release ids of this
    collection. A directory whose name is not (it starts with a dot, has a space) is left alone and listed in
    RV(skipped).
  - A host locked by a run of this collection (C(.fleet/lock)) is refused, unless the lock is that of O(run_id), the run
    that adopts (C(playbooks/adopt.yml) locks each host before it writes).
seealso:
  - module: fleetops.release.release_info
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: See what adoption would write (read-only)
  fleetops.release.release_adopt:
    app_root: /var/www/shop
  check_mode: true
  register: adoption

- name: Adopt a Capistrano host
  fleetops.release.release_adopt:
    app_root: /var/www/shop
    from: capistrano

- name: Adopt an ansistrano host whose release names were chosen by hand
  fleetops.release.release_adopt:
    app_root: /srv/app
    from: ansistrano
    order: [v1.2.0, v1.3.0, v1.3.1]
"""

RETURN = r"""
from:
  description: The tool whose layout was adopted.
  returned: success
  type: str
  sample: capistrano
detected:
  description: The tools whose traces were found (one when detection is clear).
  returned: success
  type: list
  elements: str
  sample: [capistrano]
order_source:
  description: Where the order of the releases came from.
  returned: success
  type: str
  sample: revisions.log (order of 'deployed as release' lines)
releases:
  description: The complete releases, oldest first, with the sequence, creation time (when the record or the name
    tells it), C(REVISION) content and shared paths written into their manifests, and whether the manifest was
    (or would be) written by this call.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "20240101120000", "sequence": 1, "created_at": "2024-01-01T12:00:00Z", "created_by": "adopt:capistrano",
            "revision": "3f2a9c1", "shared_paths": ["log"], "written": true}]
release_ids:
  description: Ids of the complete releases, oldest first.
  returned: success
  type: list
  elements: str
  sample: ["20240101120000", "20240102120000"]
unfinished:
  description: Release directories that are not complete, with the reason; they get no manifest.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "20240103120000", "reason": "not in revisions.log: ..."}]
skipped:
  description: Directories under C(releases/) whose names are not valid release ids; left alone.
  returned: success
  type: list
  elements: dict
  sample: []
ours:
  description: Releases this collection deployed (after an earlier adoption); left as they are.
  returned: success
  type: list
  elements: str
  sample: []
current:
  description: The release the C(current) symlink points at, or V(null).
  returned: success
  type: str
  sample: "20240102120000"
previous:
  description: The release before the current one in the adopted order, or V(null).
  returned: success
  type: str
  sample: "20240101120000"
shared_paths:
  description: Every path that a release links into C(shared/) (set C(fleet_shared_paths) to these).
  returned: success
  type: list
  elements: str
  sample: [log, public/uploads]
bad:
  description: Releases the old tool marked bad (Deployer's C(BAD_RELEASE)), as marked in C(.fleet/state.json).
  returned: success
  type: dict
  sample: {}
written:
  description: Releases whose manifest was (or would be, in check mode) written.
  returned: success
  type: list
  elements: str
  sample: ["20240101120000", "20240102120000"]
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._adopt import TOOLS, apply, plan
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    ACTOR_SPEC,
    APP_ROOT_SPEC,
    actor_of,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError


def _shown(state, written):
    """The diff's text: state.json (without its time stamp) and the manifests."""
    return json.dumps({"state.json": state, "manifests": sorted(written)}, indent=2, sort_keys=True) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            ACTOR_SPEC,
            **{"from": {"type": "str", "choices": list(TOOLS), "aliases": ["tool"]},
               "order": {"type": "list", "elements": "str"}}
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        adoption = plan(params["app_root"], params["from"], params["order"])
        changed, written, before, after = apply(adoption, actor=actor_of(module), check_mode=module.check_mode,
                                                run_id=params["run_id"])
    except FleetError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot adopt %s: %s (run as the user that owns the releases, or with become)" % (params["app_root"], exc))
    releases = [dict(release, written=release["id"] in written) for release in adoption["releases"]]
    module.exit_json(
        changed=changed, releases=releases, release_ids=[release["id"] for release in releases], written=written,
        detected=adoption["detected"], order_source=adoption["order_source"], unfinished=adoption["unfinished"],
        skipped=adoption["skipped"], ours=adoption["ours"], current=adoption["current"], previous=adoption["previous"],
        shared_paths=adoption["shared_paths"], bad=adoption["bad"],
        diff={"before": _shown(before, []), "after": _shown(after, written),
              "before_header": "%s (adoption)" % adoption["app_root"], "after_header": "%s (adoption)" % adoption["app_root"]},
        **{"from": adoption["from"]}
    )


if __name__ == "__main__":
    main()

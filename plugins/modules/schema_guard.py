#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: schema_guard
short_description: Judge whether a release's code can run against the database's schema, before any host is touched
version_added: 0.1.0
description:
  - Reads the schema history (as M(fleetops.release.schema_info) does, read-only) and judges the declaration of
    O(release) (the C(schema) of its manifest, from the deploy variable C(fleet_release_schema)) against it.
  - For O(operation=rollback) the target release can run when the database is at its version, or newer only by
    migrations that some release in O(declarations) declared expand-only. Otherwise the module fails with the
    migrations in the way and what to do, unless O(rollback=true) (verdict V(downgrade)) or an O(override_reason)
    is given (verdict V(override)).
  - For O(operation=deploy) it lists the migrations to run up to the release's version (verdict V(migrate)), and
    refuses migrations without a downgrade unless declared expand-only or O(require_reversible=false).
  - For O(operation=deploy) with O(running) (the releases live on the hosts before the deploy), RV(revert_to) says
    whether a revert of the deploy must take the schema back too - when one of them cannot run against the schema
    after the migrations (the rollback judgement, on the history the migrations will leave).
  - For O(operation=status) it fails on nothing (connection problems aside) and judges each of O(releases) as a
    rollback to it would be judged (RV(releases)), for C(status.yml).
  - Failed (half-applied) migrations and checksum problems always refuse; no override applies to them.
  - The playbooks run it once per run (C(run_once)) on the host of C(fleet_db.delegate_to).
extends_documentation_fragment:
  - fleetops.release.schema_fleet_db
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  operation:
    description: Whether the code of O(release) is rolled back to or deployed, or (V(status)) only which of O(releases) can run.
    type: str
    choices: [rollback, deploy, status]
    required: true
  release:
    description: The release whose code the run puts live. Required unless O(operation=status).
    type: str
  releases:
    description: With O(operation=status), the releases to judge (those on the hosts).
    type: list
    elements: str
    default: []
  running:
    description:
      - With O(operation=deploy), the releases live on the hosts before the deploy (the code a revert puts back).
    type: list
    elements: str
    default: []
  declarations:
    description:
      - The schema declarations known, by release id (each C(tool), C(version), optionally C(min_version) and
        C(expand_only)); the one of O(release) is judged, the C(expand_only) lists of all of them count.
      - A release missing from it declares no schema.
    type: dict
    default: {}
  rollback:
    description: With O(operation=rollback), take the schema back when migrations are in the way (C(fleet_schema_rollback)).
    type: bool
    default: false
  override_reason:
    description: Go ahead although migrations are in the way, for this reason (C(fleet_schema_override_reason); audited).
    type: str
  require_reversible:
    description:
      - With O(operation=deploy), refuse migrations that have no downgrade unless declared expand-only
        (C(fleet_schema_require_reversible)).
    type: bool
    default: true
  require_compatible:
    description:
      - With O(operation=deploy) and O(running), refuse migrations that the code of O(running) cannot run against
        (RV(revert_because)), since the hosts not yet switched keep serving on it during the waves
        (C(fleet_schema_require_compatible)).
      - V(false) lets the deploy go ahead (a maintenance window); a revert then takes the schema back to RV(revert_to)
        before the code.
    type: bool
    default: true
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Refuse a rollback whose target cannot run against the schema
  fleetops.release.schema_guard:
    db: "{{ fleet_db }}"
    operation: rollback
    release: v41
    declarations:
      v41: {tool: alembic, version: "0007"}
      v42: {tool: alembic, version: "0008", expand_only: []}
  delegate_to: localhost
  run_once: true
  register: fleet_schema_guard
"""

RETURN = r"""
verdict:
  description:
    - V(ok) the code runs against the schema as it is; V(downgrade) the schema must go back to RV(target_version)
      first; V(override) blocked but overridden; V(migrate) (deploy) RV(to_run) must run; V(current) (deploy)
      nothing to run.
  returned: success
  type: str
  sample: downgrade
current:
  description: The schema version the database is at.
  returned: always
  type: str
  sample: "0002"
target_version:
  description: The schema version O(release) declares.
  returned: always
  type: str
  sample: "0001"
in_the_way:
  description: Rollback, the migrations applied after the target's version (C(version), C(description), C(tags)).
  returned: always
  type: list
  elements: dict
  sample: [{"version": "0002", "description": "drop nickname", "tags": []}]
blocking:
  description: Rollback, those of RV(in_the_way) that no release declared expand-only.
  returned: always
  type: list
  elements: dict
  sample: [{"version": "0002", "description": "drop nickname", "tags": []}]
to_run:
  description: Deploy, the migrations to run, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"version": "0002", "description": "drop nickname"}]
irreversible:
  description: Migrations concerned that have no downgrade (as far as the tool's files tell).
  returned: always
  type: list
  elements: str
  sample: ["0003"]
message:
  description: The judgement in words (on refusal, also what to do).
  returned: always
  type: str
  sample: "the schema goes back from 0002 to 0001 (0002) before the code"
database:
  description: Where the database is (never the password).
  returned: success
  type: str
  sample: PostgreSQL at 127.0.0.1:5432, database shop, user shop
revert_to:
  description:
    - Deploy, the schema version a revert of this deploy must take the database back to (the version before its
      migrations), or V(null) when the code of O(running) runs against the schema after them.
  returned: always
  type: str
  sample: "0001"
revert_because:
  description: Deploy, the releases of O(running) that cannot run against the schema after the migrations, and why.
  returned: always
  type: list
  elements: dict
  sample: [{"release": "v41", "why": "cannot run against 0002: 0002 (drop nickname) in the way"}]
releases:
  description:
    - Status, by release of O(releases) - C(runs) (V(true), V(false), or V(null) when it declares no schema), C(version)
      (its declared schema version) and C(message).
  returned: always
  type: dict
  sample: {"v41": {"runs": false, "version": "0001", "message": "cannot run: 0002 (drop nickname) in the way"}}
tool:
  description: The migration tool.
  returned: success
  type: str
  sample: alembic
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.fleetops.release.plugins.module_utils._schema import DriverMissing, SchemaError
from ansible_collections.fleetops.release.plugins.module_utils._schema_guard import (
    judge_deploy,
    judge_rollback,
    judge_status,
    refuse_incompatible,
    revert_plan,
)
from ansible_collections.fleetops.release.plugins.module_utils._schema_ops import FLEET_DB_SPEC, read_schema


def expand_only_of(declarations):
    found = []
    for declaration in declarations.values():
        if isinstance(declaration, dict) and isinstance(declaration.get("expand_only"), list):
            found.extend(str(item) for item in declaration["expand_only"])
    return found


def main():
    module = AnsibleModule(
        argument_spec={
            "db": {"type": "dict", "required": True, "options": FLEET_DB_SPEC},
            "operation": {"type": "str", "required": True, "choices": ["rollback", "deploy", "status"]},
            "release": {"type": "str"},
            "releases": {"type": "list", "elements": "str", "default": []},
            "running": {"type": "list", "elements": "str", "default": []},
            "declarations": {"type": "dict", "default": {}},
            "rollback": {"type": "bool", "default": False},
            "override_reason": {"type": "str"},
            "require_reversible": {"type": "bool", "default": True},
            "require_compatible": {"type": "bool", "default": True},
        },
        required_if=[("operation", "rollback", ["release"]), ("operation", "deploy", ["release"])],
        supports_check_mode=True,
    )
    params = module.params
    declarations = params["declarations"] or {}
    try:
        info = read_schema(params["db"])
        declaration = declarations.get(params["release"])
        if params["operation"] == "status":
            result = {"verdict": "ok", "current": info["current_version"], "target_version": None, "in_the_way": [],
                      "blocking": [], "to_run": [], "irreversible": [], "message": "the schema is at %s" % info["current_version"],
                      "releases": judge_status(info, params["releases"], declarations, expand_only_of(declarations))}
        elif params["operation"] == "rollback":
            result = judge_rollback(params["release"], declaration, info, expand_only_of(declarations),
                                    rollback=params["rollback"], override_reason=params["override_reason"])
        else:
            result = judge_deploy(params["release"], declaration, info, params["require_reversible"],
                                  expand_only_of(declarations))
            if result["verdict"] == "migrate":
                blocked = revert_plan(info, result["to_run"], params["running"], declarations, expand_only_of(declarations))
                result.update(revert_to=info["current_version"] if blocked else None, revert_because=blocked)
                blocked_now = [entry["release"] for entry in revert_plan(info, [], params["running"], declarations,
                                                                         expand_only_of(declarations))]
                refuse_incompatible(result, blocked, params["require_compatible"], blocked_now)
    except DriverMissing as exc:
        module.fail_json(msg=missing_required_lib("psycopg (pip install 'psycopg[binary]')"), exception=str(exc.error))
    except SchemaError as exc:
        module.fail_json(msg=str(exc) if params["operation"] == "status" else
                         "%s refused before any host was touched; nothing was changed: %s" % (params["operation"].capitalize(), exc))
    result.setdefault("revert_to", None)
    result.setdefault("revert_because", [])
    result.setdefault("releases", {})
    result.update(tool=info["tool"], database=info["database"])
    if result["verdict"] == "refuse":
        module.fail_json(msg="%s refused before any host was touched; nothing was changed: %s" % (
            params["operation"].capitalize(), result["message"]), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

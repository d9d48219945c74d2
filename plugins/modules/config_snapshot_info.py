#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: config_snapshot_info
short_description: Verify a release's configuration snapshot and show how the live configuration differs from it
version_added: 0.1.0
description:
  - Reads C(<app_root>/snapshots/) and changes nothing.
  - Verifies the snapshot of O(release) against its manifest (the manifest's own digest, then the sha256 and size of
    every file) and returns RV(valid) and RV(problems), each naming a path. Use it in a preflight to refuse a
    rollback before any host is touched.
  - Compares the live files with the snapshot (RV(drift)), so that hand edits are visible before a restore
    overwrites them (a restore saves them first, see M(fleetops.release.config_snapshot)).
  - A broken snapshot is reported, not raised; the task fails only when the host cannot be read or the arguments are wrong.
  - A path is secret when others cannot read it where it lives (the file, or a directory above it up to C(/)), or
    when it matches O(secret_paths). The checksum and size of a secret are never returned.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.secrets
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: none
options:
  release:
    description:
      - Release whose snapshot is verified and compared with the live files.
      - Defaults to the release C(<app_root>/current) points at.
    type: str
    aliases: [id]
  compare_live:
    description:
      - Compare the live files with the snapshot and return RV(drift).
    type: bool
    default: true
seealso:
  - module: fleetops.release.config_snapshot
  - module: fleetops.release.release_info
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Verify the snapshot of the rollback target
  fleetops.release.config_snapshot_info:
    app_root: /srv/shop
    release: "{{ target }}"
  register: snapshot

- name: Refuse the rollback when the snapshot is broken
  ansible.builtin.assert:
    that: snapshot.valid
    fail_msg: "{{ snapshot.problems | join('; ') }}"

- name: Show hand edits of the live configuration against the current release
  fleetops.release.config_snapshot_info:
    app_root: /srv/shop
  register: drift
"""

RETURN = r"""
release:
  description: The release whose snapshot was looked at (V(null) when no release is current and none was named).
  returned: always
  type: str
  sample: "2026.11.26-1"
exists:
  description: Whether the release has a snapshot directory.
  returned: always
  type: bool
  sample: true
valid:
  description: Whether the snapshot is complete and every file matches the manifest.
  returned: always
  type: bool
  sample: true
problems:
  description: What is wrong with the snapshot, one item per path (empty when RV(valid)).
  returned: always
  type: list
  elements: str
  sample: ["/etc/shop/app.conf: the snapshot copy /srv/shop/snapshots/v1/files/etc/shop/app.conf does not match the manifest (sha256 differs)"]
snapshot_dir:
  description: Directory of the snapshot.
  returned: when a release is current or named
  type: str
  sample: /srv/shop/snapshots/2026.11.26-1
roots:
  description: The paths the snapshot is responsible for, with their type (V(file), V(directory), V(link), V(absent)).
  returned: when RV(valid)
  type: list
  elements: dict
  sample: [{"path": "/etc/shop/app.conf", "type": "file"}, {"path": "/etc/shop/conf.d", "type": "directory"}]
entries:
  description: Every path the snapshot holds; checksum and size only for files that are not secret.
  returned: when RV(valid)
  type: list
  elements: dict
  sample: [{"path": "/etc/shop/app.conf", "type": "file", "mode": "0644", "owner": "root", "group": "root", "secret": false,
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 120}]
created_at:
  description: When the snapshot was written (UTC).
  returned: when RV(valid)
  type: str
  sample: "2026-11-26T21:04:05Z"
source:
  description: V(live) when captured from live files, V(templates) when rendered.
  returned: when RV(valid)
  type: str
  sample: live
drift:
  description:
    - Live paths that differ from the snapshot, with what differs (V(content), V(mode), V(owner), V(group), V(type),
      V(target), V(missing) on the host, V(extra) on the host) and the metadata of both sides.
  returned: when RV(valid) and O(compare_live)
  type: list
  elements: dict
  sample: [{"path": "/etc/shop/app.conf", "action": "update", "changes": ["content"], "secret": false,
            "live": {"type": "file", "mode": "0644", "owner": "root", "group": "root", "sha256": "60303a...", "size": 130},
            "snapshot": {"type": "file", "mode": "0644", "owner": "root", "group": "root", "sha256": "9f86d0...", "size": 120}}]
snapshots:
  description: Releases that have a complete snapshot on the host.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.20-3", "2026.11.26-1"]
drift_folders:
  description: Folders of live files saved by restores because they differed from a snapshot.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.26-1.drift-20261127T101500Z"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import (
    SECRET_PATHS_SPEC,
    Secrecy,
    SnapshotCorrupt,
    SnapshotNotFound,
    SnapshotStore,
    plan,
    public_change,
)
from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore, validate_release_id


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC, SECRET_PATHS_SPEC,
            release={"type": "str", "aliases": ["id"]},
            compare_live={"type": "bool", "default": True},
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "release": None, "exists": False, "valid": False, "problems": []}
    try:
        store = SnapshotStore(params["app_root"])
        secrecy = Secrecy(params["secret_paths"])
        result["snapshots"], result["drift_folders"] = store.snapshots()
        release_id = params["release"]
        if release_id is None:
            release_id = ReleaseStore(params["app_root"]).current()
            if release_id is None:
                result["problems"] = ["no release is current under %s and none was named" % store.root]
                module.exit_json(**result)
        release_id = validate_release_id(release_id)
        result["release"] = release_id
        result["snapshot_dir"] = store.path(release_id)
        try:
            manifest = store.verify(release_id)
        except SnapshotNotFound as exc:
            result["problems"] = [str(exc)]
            module.exit_json(**result)
        except SnapshotCorrupt as exc:
            result["exists"] = True
            result["problems"] = exc.problems or [str(exc)]
            module.exit_json(**result)
        result.update(exists=True, valid=True, roots=manifest["roots"], created_at=manifest.get("created_at"),
                      source=manifest.get("source"))
        result["entries"] = []
        secrecy.add_entries(manifest["entries"])
        for entry in manifest["entries"]:
            shown = {key: entry[key] for key in ("path", "type", "mode", "owner", "group", "target") if key in entry}
            shown["secret"] = entry["type"] == "file" and secrecy.is_secret(entry["path"], entry)
            if entry["type"] == "file" and not shown["secret"]:
                shown.update(sha256=entry["sha256"], size=entry["size"])
            result["entries"].append(shown)
        if params["compare_live"]:
            result["drift"] = [public_change(action, secrecy=secrecy) for action in plan(manifest)]
    except (FleetError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

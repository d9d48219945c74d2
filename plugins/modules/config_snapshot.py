#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: config_snapshot
short_description: Keep the exact configuration of a release beside it, and restore it with the release
version_added: 0.1.0
description:
  - Configuration that lives outside the release (for example C(/etc/fleetapp/app.conf) and C(/etc/fleetapp/conf.d/))
    is kept per release in C(<app_root>/snapshots/<release>/), so that a rollback restores code and configuration together.
  - A snapshot holds copies of the files with their modes and owners, and a manifest C(.fleet-snapshot.json) listing
    every path with its type, sha256, size, mode, owner, group and symlink target, plus a digest of the manifest itself.
    The snapshot directory is mode C(0700); a C(0600) secret stays C(0600) inside it.
  - With O(state=present), the live O(paths) are captured into the snapshot of O(release) (files, symlinks and whole
    directories). With O(templates), the snapshot is made of the rendered templates instead; they are rendered on the
    controller by the action plugin with the host's variables, and the live files are not touched until a restore.
    A snapshot is written into a temporary directory that is renamed into place once complete.
  - A snapshot is never changed silently. An existing snapshot whose content differs from rendered O(templates) is an
    error unless O(force=true). When captured from live files, an existing snapshot is kept and the live files that
    differ from it are reported in RV(drift).
  - With O(state=restored), the snapshot of O(release) is first verified against its manifest (every sha256); a
    corrupt or incomplete snapshot is refused with the paths named, and nothing changes. Then every live file that
    the restore would overwrite or remove, and that the snapshot of the O(current) release does not hold as it is
    (a hand edit, a file added by hand), is saved into C(<app_root>/snapshots/<current>.drift-<UTC time>/) and
    reported with a warning. Then each file is written to a temporary file in its own directory and renamed into
    place; files inside a snapshotted directory that the snapshot does not hold are removed; every path is checked
    against the manifest again.
  - "A path is secret when others cannot read it where it lives (the file is not readable by others, or a directory
    above it up to C(/) is not readable and searchable by others, on the host or in the snapshot), or when it matches
    O(secret_paths). The content, size and checksum of a secret never appear in diffs, results or messages; a diff
    shows C(<secret: content not shown; sha256 changed>) (or C(unchanged)) instead."
  - Snapshots are removed together with their release by M(fleetops.release.release) (O(fleetops.release.release#module:state=absent)
    and O(fleetops.release.release#module:keep)). Drift folders are kept until removed by hand.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.actor
  - fleetops.release.secrets
  - fleetops.release.common.attributes
attributes:
  action:
    description: Has an action plugin that runs parts of the task on the controller.
    support: full
    details: The action plugin renders O(templates) on the controller and copies the rendered files to the host.
  check_mode:
    details: Nothing is written; C(changed), RV(changes), RV(drift_saved) and the diff say what would happen.
  diff_mode:
    details: One diff per path, with type, mode and owner in the headers. Secret content is never shown (see O(secret_paths)).
  idempotent:
    details: A second run with the same arguments changes nothing.
options:
  release:
    description:
      - Id of the release whose snapshot is written (O(state=present)) or restored (O(state=restored)).
    type: str
    required: true
    aliases: [id]
  state:
    description:
      - V(present) makes sure the snapshot of O(release) exists.
      - V(restored) makes the live configuration equal to the snapshot of O(release).
      - Use M(fleetops.release.config_snapshot_info) to verify a snapshot or look at drift without changing anything.
    type: str
    choices: [present, restored]
    default: present
  paths:
    description:
      - Absolute paths of the configuration (files, symlinks, directories) that the snapshot is responsible for.
        A directory stands for everything below it. A path that does not exist is recorded as absent, so that a
        restore removes it.
      - With O(state=present) and no O(templates), these live paths are captured.
      - With O(templates), these are the directories whose whole content comes from the templates (files in them
        that no template renders are removed on restore). A template dest outside them is a file of its own.
      - Paths must not overlap each other or C(<app_root>/snapshots).
    type: list
    elements: path
    default: []
  templates:
    description:
      - Jinja2 templates on the controller rendered into the snapshot (O(state=present) only), with the variables of
        the host (host and group variables, facts, extra variables).
    type: list
    elements: dict
    suboptions:
      src:
        description:
          - Template file on the controller, looked up like M(ansible.builtin.template) looks up its O(ansible.builtin.template#module:src)
            (the C(templates/) directories of the role and the playbook).
          - The action plugin renders it and hands the module the rendered file, in the task's temporary directory on the host.
        type: path
        required: true
      dest:
        description: Absolute path on the host where the file goes when the snapshot is restored.
        type: path
        required: true
      mode:
        description:
          - Octal mode of the file, quoted (V('0640')). A file that is not world-readable is treated as a secret.
        type: raw
        default: '0644'
      owner:
        description: Owner of the file. Defaults to the user the module runs as.
        type: str
      group:
        description: Group of the file. Defaults to the primary group of the user the module runs as.
        type: str
  force:
    description:
      - With O(state=present), replace an existing snapshot of O(release) whose content differs.
    type: bool
    default: false
  current:
    description:
      - With O(state=restored), the release whose snapshot the live files are compared with to find drift
        (hand edits that a restore would overwrite and therefore saves first).
      - Defaults to the release C(<app_root>/current) points at.
    type: str
  allow_missing:
    description:
      - With O(state=restored), when O(release) has no snapshot (it was created before snapshots were kept), do
        nothing and warn instead of failing.
    type: bool
    default: false
seealso:
  - module: fleetops.release.config_snapshot_info
  - module: fleetops.release.release
  - module: fleetops.release.release_switch
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Capture the live configuration for release 2026.11.26-1
  fleetops.release.config_snapshot:
    app_root: /srv/shop
    release: "2026.11.26-1"
    paths:
      - /etc/shop/app.conf
      - /etc/shop/conf.d

- name: Render the configuration of release 2026.11.26-1 into its snapshot
  fleetops.release.config_snapshot:
    app_root: /srv/shop
    release: "2026.11.26-1"
    paths: [/etc/shop/conf.d]
    templates:
      - src: app.conf.j2
        dest: /etc/shop/app.conf
      - src: secrets.conf.j2
        dest: /etc/shop/conf.d/secrets.conf
        mode: '0600'
        owner: shop
        group: shop

- name: Restore the configuration of the rollback target, right before switching to it
  fleetops.release.config_snapshot:
    app_root: /srv/shop
    release: "{{ target }}"
    state: restored
    run_id: "{{ fleet_run_id }}"
"""

RETURN = r"""
snapshot_dir:
  description: Directory of the snapshot on the host.
  returned: always
  type: str
  sample: /srv/shop/snapshots/2026.11.26-1
created:
  description: Whether the snapshot was written (or replaced) by this call.
  returned: always
  type: bool
  sample: true
restored:
  description: Whether live files were changed by this call (O(state=restored)).
  returned: always
  type: bool
  sample: false
entries:
  description:
    - What the snapshot holds, one item per path. The checksum and size of secret files are left out.
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/etc/shop/app.conf", "type": "file", "mode": "0644", "owner": "root", "group": "root",
       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 120, "secret": false}
    - {"path": "/etc/shop/conf.d/secrets.conf", "type": "file", "mode": "0600", "owner": "shop", "group": "shop", "secret": true}
changes:
  description:
    - With O(state=restored), the live paths that were changed (or would be, in check mode), parents first.
    - With O(state=present), the paths in which the new snapshot differs from the one it replaces.
    - C(changes) says what differed (V(content), V(mode), V(owner), V(group), V(type), V(target), V(missing) on the host, V(extra) on the host).
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/etc/shop/conf.d/new.conf", "action": "remove", "changes": ["extra"], "secret": false,
       "live": {"type": "file", "mode": "0644", "owner": "root", "group": "root", "sha256": "2c26b4...", "size": 4},
       "snapshot": null}
drift:
  description:
    - With O(state=present) from live files, when the snapshot already existed, the live paths that differ from it.
    - With O(state=restored), the live files that differed from the snapshot of the O(current) release and were
      saved before the restore overwrote or removed them (same items as RV(changes)).
  returned: always
  type: list
  elements: dict
  sample: []
drift_saved:
  description: Live files saved before the restore (or that would be, in check mode), with the reason for each.
  returned: always
  type: list
  elements: dict
  sample:
    - {"path": "/etc/shop/app.conf", "type": "file", "mode": "0644", "owner": "root", "group": "root",
       "reason": "differs from the snapshot of release 2026.11.26-1 (content)"}
drift_folder:
  description: Where the drifted live files were saved (V(null) when nothing needed saving).
  returned: always
  type: str
  sample: /srv/shop/snapshots/2026.11.26-1.drift-20261127T101500Z
current:
  description: The release the live files were compared with for drift (O(state=restored)).
  returned: always
  type: str
  sample: "2026.11.26-1"
"""

import os
import pwd
import grp

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import (
    SECRET_CHANGED,
    SECRET_HIDDEN,
    SECRET_PATHS_SPEC,
    SECRET_UNCHANGED,
    Secrecy,
    SnapshotCorrupt,
    SnapshotNotFound,
    SnapshotStore,
    diff_entry,
    plan,
    public_change,
)
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    ACTOR_SPEC,
    APP_ROOT_SPEC,
    actor_of,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseStore, validate_release_id

TEMPLATE_SPEC = {
    "src": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
    "mode": {"type": "raw", "default": "0644"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
}


def public_entry(entry, secrecy):
    shown = {key: entry[key] for key in ("path", "type", "mode", "owner", "group", "target") if key in entry}
    shown["secret"] = entry["type"] == "file" and secrecy.is_secret(entry["path"], entry)
    if entry["type"] == "file" and not shown["secret"]:
        shown.update(sha256=entry["sha256"], size=entry["size"])
    return shown


def present(module, store, release_id, result, secrecy):
    params = module.params
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    # The action plugin has rendered the templates: each src is now the rendered file in the task's temp dir on the host.
    rendered = params["templates"]
    if rendered:
        roots, entries = store.rendered_plan(params["paths"], rendered, user, group)
        source = "templates"
    else:
        if not params["paths"]:
            raise FleetError("state=present needs the configuration paths to capture (paths) or templates to render (templates)")
        roots, entries = store.capture_plan(params["paths"])
        source = "live"
    secrecy.add_entries(entries)
    previous = None
    if store.exists(release_id) or os.path.lexists(store.path(release_id)):
        try:
            previous = store.verify(release_id)
        except SnapshotCorrupt as exc:
            if not params["force"]:
                raise FleetError("%s. Remove %s after checking it, or replace it with force=true" % (exc, store.path(release_id)))
        except SnapshotNotFound:
            previous = None
    if previous is not None:
        secrecy.add_entries(previous["entries"])
        same = store.same_content(release_id, roots, entries)
        if same:
            result["entries"] = [public_entry(entry, secrecy) for entry in previous["entries"]]
            return
        if source == "live" and not params["force"]:
            # The snapshot is what the release ran with; live edits since then are drift, not a new snapshot.
            result["entries"] = [public_entry(entry, secrecy) for entry in previous["entries"]]
            result["drift"] = [public_change(action, release_id, secrecy) for action in plan(previous)]
            if result["drift"]:
                module.warn("the live configuration differs from the snapshot of release %s in %s; the snapshot was kept "
                            "(force=true replaces it)" % (release_id, ", ".join(item["path"] for item in result["drift"])))
            return
        if not params["force"]:
            old = {entry["path"]: entry for entry in previous["entries"]}
            new = {entry["path"]: entry for entry in entries}
            differing = sorted(path for path in set(old) | set(new) if _strip(old.get(path)) != _strip(new.get(path)))
            raise FleetError(
                "the snapshot of release %s already exists with other content (%s); a release keeps the configuration it was "
                "made with: deploy a new release id, or set force=true to replace the snapshot" % (release_id, ", ".join(differing) or "roots"))
    result["changed"] = result["created"] = True
    result["changes"] = _snapshot_changes(previous, entries, release_id, secrecy)
    result["entries"] = [public_entry(entry, secrecy) for entry in entries]
    if module._diff:
        result["diff"] = _snapshot_diff(store, previous, entries, release_id, secrecy)
    if not module.check_mode:
        store.create(release_id, roots, entries, source, created_by=actor_of(module), run_id=params["run_id"])


def _strip(entry):
    if entry is None:
        return None
    return {key: value for key, value in entry.items() if key not in ("src", "uid", "gid")}


def _snapshot_changes(previous, entries, release_id, secrecy):
    old = {entry["path"]: entry for entry in (previous or {}).get("entries", [])}
    rows = []
    for entry in entries:
        before = old.pop(entry["path"], None)
        if previous is None or _strip(before) != _strip(entry):
            action = {"path": entry["path"], "action": "create" if before is None else "update",
                      "changes": ["missing"] if before is None else ["content"], "want": entry, "have": before}
            rows.append(public_change(action, release_id, secrecy))
    for path in sorted(old):
        rows.append(public_change({"path": path, "action": "remove", "changes": ["extra"], "want": None, "have": old[path]}, release_id,
                                  secrecy))
    return rows


def _snapshot_diff(store, previous, entries, release_id, secrecy):
    """Diff of the snapshot being written against the one it replaces (or against nothing)."""
    old = {entry["path"]: entry for entry in (previous or {}).get("entries", [])}
    diffs = []
    for entry in entries:
        before = old.pop(entry["path"], None)
        if previous is not None and _strip(before) == _strip(entry):
            continue
        same_bytes = before is not None and (before["type"], before.get("sha256")) == (entry["type"], entry.get("sha256"))
        action = {"path": entry["path"], "action": "create" if before is None else "update",
                  "changes": ["missing"] if before is None else ["mode"] if same_bytes else ["content"], "want": entry, "have": None}
        item = diff_entry(action, entry.get("src") or entry["path"], "snapshot %s before" % release_id, "snapshot %s" % release_id,
                          secrecy)
        if before is not None:
            # The old side is the old snapshot's copy, not the live file; a secret's placeholder says whether it changed.
            old_side = diff_entry(dict(action, want=before), store.file_path(release_id, before["path"]), "", "", secrecy)
            item["before"] = old_side["after"].replace(SECRET_CHANGED, SECRET_HIDDEN).replace(SECRET_UNCHANGED, SECRET_HIDDEN)
        diffs.append(item)
    for path in sorted(old):
        diffs.append({"before_header": "%s (snapshot %s before)" % (path, release_id), "after_header": "%s (snapshot %s)" % (path, release_id),
                      "before": "# %s\n" % old[path]["type"], "after": "# absent\n"})
    return diffs


def restored(module, store, release_id, result, secrecy):
    params = module.params
    current = params["current"]
    if current is None:
        current = ReleaseStore(params["app_root"]).current()
    else:
        validate_release_id(current)
    result["current"] = current
    if not store.exists(release_id) and not os.path.lexists(store.path(release_id)) and params["allow_missing"]:
        module.warn("release %s has no configuration snapshot under %s; the live configuration was left as it is" % (release_id, store.dir))
        return
    diffs = None
    if module._diff:
        # Read the live side before the restore overwrites it (the restore verifies the snapshot before any change).
        manifest = store.load(release_id)
        secrecy.add_entries(manifest["entries"])
        diffs = [diff_entry(action, store.file_path(release_id, action["path"]) if action["want"] else None,
                            "live", "snapshot %s" % release_id, secrecy) for action in plan(manifest)]
    outcome = store.restore(release_id, current=current, check_mode=module.check_mode, run_id=params["run_id"])
    actions = outcome["actions"]
    secrecy.add_entries(outcome["manifest"]["entries"])
    result["entries"] = [public_entry(entry, secrecy) for entry in outcome["manifest"]["entries"]]
    result["changes"] = [public_change(action, release_id, secrecy) for action in actions]
    saved = {row["path"] for row in outcome["drift_saved"]}
    result["drift"] = [row for row in result["changes"] if row["live"] is not None and row["path"] in saved]
    result["drift_saved"] = [_public_saved(row, secrecy) for row in outcome["drift_saved"]]
    result["drift_folder"] = outcome["drift_folder"]
    result["changed"] = result["restored"] = bool(actions)
    if module._diff and actions:
        result["diff"] = diffs
    if result["drift_saved"]:
        where = outcome["drift_folder"] or "%s/%s.drift-<time>" % (store.dir, current or "unknown")
        module.warn("%s live configuration file(s) differed from the snapshot of release %s and %s saved to %s before the "
                    "restore: %s" % (len(result["drift_saved"]), current or "(none)",
                                     "would be" if module.check_mode else "were", where,
                                     ", ".join(row["path"] for row in result["drift_saved"])))


def _public_saved(row, secrecy):
    shown = {key: row[key] for key in ("path", "type", "mode", "owner", "group", "target", "reason") if key in row}
    if row["type"] == "file" and not secrecy.is_secret(row["path"], row):
        shown.update(sha256=row.get("sha256"), size=row.get("size"))
    return shown


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC, ACTOR_SPEC, SECRET_PATHS_SPEC,
            release={"type": "str", "required": True, "aliases": ["id"]},
            state={"type": "str", "default": "present", "choices": ["present", "restored"]},
            paths={"type": "list", "elements": "path", "default": []},
            templates={"type": "list", "elements": "dict", "options": TEMPLATE_SPEC},
            force={"type": "bool", "default": False},
            current={"type": "str"},
            allow_missing={"type": "bool", "default": False},
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "created": False, "restored": False, "entries": [], "changes": [], "drift": [],
              "drift_saved": [], "drift_folder": None, "current": None}
    try:
        release_id = validate_release_id(params["release"])
        store = SnapshotStore(params["app_root"])
        secrecy = Secrecy(params["secret_paths"])
        result["snapshot_dir"] = store.path(release_id)
        if params["state"] == "present":
            present(module, store, release_id, result, secrecy)
        else:
            if params["templates"]:
                raise FleetError("templates are rendered into a snapshot with state=present; state=restored takes no templates")
            restored(module, store, release_id, result, secrecy)
    except SnapshotCorrupt as exc:
        module.fail_json(msg=str(exc), problems=exc.problems, **result)
    except (FleetError, OSError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Create, remove, pin and prune release directories on a host
version_added: 0.1.0
description:
  - With O(state=present), creates C(<app_root>/releases/<release>/) from a C(.tar.gz) artifact. The artifact is a file
    on the controller (copied to the host), or with O(remote_src=true) a path or an http(s) URL on the host.
  - A given O(sha256) is verified before anything is unpacked. The archive is unpacked into a temporary directory that
    is renamed into place once complete, so a half-unpacked release never exists under its id. Members that would
    land outside the release (absolute paths, C(..), links pointing out, also through links the archive itself makes)
    and special files are refused, the same way on every Python of the host (with or without C(tarfile.data_filter)).
    Each member is checked against the member list first and against the disk as it is written, links are never
    followed while writing, the archive's owners are not applied (everything belongs to the user the module runs as)
    and setuid, setgid, sticky and group/other write bits are dropped.
  - Before anything is written, the members' total size is compared with O(max_unpacked) and with the free space of
    the filesystem; a disk that fills up while unpacking fails naming the free space. Nothing is left behind either way.
  - O(shared_paths) inside the release are replaced by symlinks to C(<app_root>/shared/<path>).
  - Each release gets a manifest C(.fleet-release.json) (id, artifact sha256, created at, created by, ledger sequence).
  - The same id with the same artifact changes nothing; the same id with a different artifact is an error, never a
    silent overwrite.
  - A release marked bad on the host (M(fleetops.release.release_mark)) is refused with O(state=present), whether it
    still exists or would be unpacked again, unless O(allow_bad=true); the error says who marked it bad, when and why,
    and nothing is created, pinned or pruned.
  - With O(state=absent), removes a release (and its configuration snapshot). The current release and pinned releases
    are refused.
  - O(keep) prunes the oldest releases by ledger order (never by file times), never the current release, the previous
    release, the rollback target, a release of an unfinished operation, or a pinned release.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.attributes
attributes:
  action:
    description: Has an action plugin that runs parts of the task on the controller.
    support: full
    details:
      - An action plugin brings a controller-side artifact to the host. One of up to 4 MiB travels inside the module
        call (one round trip per host; an existing release only has its checksum compared). A larger one is copied to
        a temporary directory first, and only when the release does not exist on the host yet.
  check_mode:
    details: Nothing is created, removed or pruned; C(changed), RV(pruned) and the diff say what would happen.
  diff_mode:
    details: Shows the list of releases before and after.
options:
  release:
    description:
      - Id of the release. Required for O(state=present) and O(state=absent).
    type: str
    aliases: [id]
  state:
    description:
      - V(present) creates the release (if needed), V(absent) removes it, V(pruned) only applies O(keep) and O(pinned).
    type: str
    choices: [present, absent, pruned]
    default: present
  artifact:
    description:
      - The C(.tar.gz) to create the release from. Needed only when the release does not exist yet.
      - A path on the controller, unless O(remote_src=true).
    type: str
  artifact_name:
    description:
      - How messages name the artifact. The action plugin sets it to O(artifact) as given, since the module may only
        see a temporary copy of it. Defaults to O(artifact).
    type: str
  max_unpacked:
    description:
      - Largest total size in bytes of the archive's members (unpacked). A larger archive is refused before anything
        is written (a guard against archives that unpack to far more than expected, such as gzip bombs).
      - Defaults to 10 times the artifact's size, but at least 4 GiB. Must be positive.
      - In the playbooks of this collection it comes from C(fleet_artifact_max_unpacked).
    type: int
  artifact_content:
    description:
      - The C(.tar.gz) itself, base64-encoded, instead of O(artifact). Used only when the release does not exist yet;
        otherwise only O(sha256) is compared.
      - The action plugin fills it in for a controller-side O(artifact) of up to 4 MiB, so that the artifact travels
        inside the module call. Set it by hand only for small generated artifacts.
    type: str
  remote_src:
    description:
      - O(artifact) is a path or an C(http://)/C(https://) URL on the managed host instead of a controller file.
    type: bool
    default: false
  sha256:
    description:
      - Expected sha256 of the artifact. A mismatch fails before anything is unpacked.
      - Also compared with the manifest of an existing release of the same id.
    type: str
  shared_paths:
    description:
      - Paths inside the release (relative) that are replaced by symlinks to C(<app_root>/shared/<path>).
    type: list
    elements: str
    default: []
  pinned:
    description:
      - Pin (V(true)) or unpin (V(false)) the release. Pinned releases are never pruned or removed.
      - Left as it is when not given.
    type: bool
  keep:
    description:
      - After creating, keep this many newest releases (by ledger order) and remove older ones that are not protected
        (current, previous, rollback target, pinned, part of an unfinished operation).
      - With O(state=present), O(release) itself is never removed, also when it is an older release deployed again.
    type: int
  created_by:
    description:
      - Recorded in the manifest as the creator. Defaults to the user the module runs as.
    type: str
  timeout:
    description:
      - Timeout in seconds for downloading an artifact URL.
    type: int
    default: 60
  validate_certs:
    description:
      - Verify TLS certificates when downloading an artifact URL.
    type: bool
    default: true
  schema:
    description:
      - The release's schema declaration (C(tool), C(version), C(min_version), C(expand_only)), kept in its manifest
        as C(schema) when the release is created; a rollback's schema guard judges it (M(fleetops.release.schema_guard)).
      - In the playbooks of this collection it comes from C(fleet_release_schema). An existing release keeps its manifest.
    type: dict
  allow_bad:
    description:
      - With O(state=present), accept a release that is marked bad on the host (deploy it again on purpose).
        In the playbooks of this collection it comes from C(fleet_allow_bad_release).
    type: bool
    default: false
seealso:
  - module: fleetops.release.release_switch
  - module: fleetops.release.release_info
  - module: fleetops.release.release_mark
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Unpack a release from a controller-side tarball and keep the five newest
  fleetops.release.release:
    release: "2026.11.26-1"
    artifact: dist/shop-2026.11.26-1.tar.gz
    sha256: "{{ lookup('ansible.builtin.file', 'dist/shop-2026.11.26-1.tar.gz.sha256') }}"
    shared_paths: [log, public/uploads]
    keep: 5

- name: Create a release from a URL fetched by the host itself
  fleetops.release.release:
    release: "2026.11.26-1"
    artifact: https://artifacts.example.com/shop/2026.11.26-1.tar.gz
    remote_src: true
    sha256: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0

- name: Pin the release we know is good
  fleetops.release.release:
    release: "2026.11.20-3"
    pinned: true

- name: Remove a release
  fleetops.release.release:
    release: "2026.11.01-1"
    state: absent
"""

RETURN = r"""
release:
  description: Manifest of the release.
  returned: when O(release) is given and the release exists (or would, in check mode)
  type: dict
  sample:
    id: "2026.11.26-1"
    artifact_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    created_at: "2026-11-26T21:04:05Z"
    created_by: deploy
    sequence: 7
    shared_paths: [log]
path:
  description: Directory of the release on the host.
  returned: when O(release) is given
  type: str
  sample: /srv/app/releases/2026.11.26-1
created:
  description: Whether the release was created by this call.
  returned: always
  type: bool
  sample: true
removed:
  description: Whether the release was removed by this call (O(state=absent)).
  returned: always
  type: bool
  sample: false
pruned:
  description: Releases removed by O(keep), oldest first.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.01-1", "2026.11.02-1"]
releases:
  description: Ids of all releases on the host after the call, oldest first.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.20-3", "2026.11.26-1"]
bad:
  description:
    - The bad mark of O(release) (C(by), C(at), C(reason), C(run_id)) when it is marked bad and O(allow_bad=true) let it
      through, so the override can be audited; V(null) otherwise.
  returned: when O(state=present)
  type: dict
  sample: {"by": "alice", "at": "2026-11-26T21:09:12Z", "reason": "error rate 12% after deploy", "run_id": "20261126T210405Z-4821"}
"""

import base64
import binascii
import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import fetch_url

from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, actor_of, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    ALLOW_BAD_HINT,
    ArtifactError,
    FleetError,
    ReleaseStore,
    describe_bad,
    validate_release_id,
)


def download(module, url):
    """Fetch an artifact URL into the module's temp dir; returns the local path."""
    response, info = fetch_url(module, url, timeout=module.params["timeout"])
    if info.get("status") != 200 or response is None:
        raise ArtifactError("cannot download artifact %s: HTTP %s %s" % (url, info.get("status"), info.get("msg")))
    path = os.path.join(module.tmpdir, "artifact.tar.gz")
    try:
        with open(path, "wb") as handle:
            shutil.copyfileobj(response, handle)
    except OSError as exc:
        raise ArtifactError("cannot download artifact %s into %s: %s" % (url, module.tmpdir, exc))
    return path


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            release={"type": "str", "aliases": ["id"]},
            state={"type": "str", "default": "present", "choices": ["present", "absent", "pruned"]},
            artifact={"type": "str"},
            remote_src={"type": "bool", "default": False},
            sha256={"type": "str"},
            shared_paths={"type": "list", "elements": "str", "default": []},
            pinned={"type": "bool"},
            keep={"type": "int"},
            created_by={"type": "str"},
            timeout={"type": "int", "default": 60},
            validate_certs={"type": "bool", "default": True},
            allow_bad={"type": "bool", "default": False},
            schema={"type": "dict"},
            max_unpacked={"type": "int"},
            artifact_name={"type": "str"},
            # The action plugin sets it for a small controller-side artifact (see INLINE_MAX_BYTES there).
            artifact_content={"type": "str", "no_log": True},
        ),
        mutually_exclusive=[("artifact", "artifact_content")],
        required_if=[("state", "present", ["release"]), ("state", "absent", ["release"]), ("state", "pruned", ["keep"])],
        supports_check_mode=True,
    )
    params = module.params
    # Out of the parameters at once, so that a megabyte of base64 is never echoed back in the result's invocation.
    inline_content = params.pop("artifact_content")
    result = {"changed": False, "created": False, "removed": False, "pruned": []}
    try:
        store = ReleaseStore(params["app_root"])
        release_id = validate_release_id(params["release"]) if params["release"] is not None else None
        if params["sha256"] is not None and len(params["sha256"]) != 64:
            raise ArtifactError("sha256 must be 64 hex digits, got %r" % params["sha256"])
        if params["keep"] is not None and params["keep"] < 1:
            raise FleetError("keep must be at least 1 (the current release always stays), got %d" % params["keep"])
        before = [item["id"] for item in store.releases()]

        if params["state"] == "present":
            result["bad"] = check_not_bad(store, release_id, params["allow_bad"])
            created, manifest = create(module, store, release_id, inline_content)
            result.update(created=created, release=manifest, path=store.release_path(release_id))
        elif params["state"] == "absent":
            result["removed"] = store.remove_release(release_id, check_mode=module.check_mode)
            result["path"] = store.release_path(release_id)
        if params["pinned"] is not None and params["state"] != "absent":
            if release_id is None:
                raise FleetError("pinned needs a release to pin or unpin")
            result["changed"] = store.set_pinned(release_id, params["pinned"], check_mode=module.check_mode)
        if params["keep"] is not None:
            # In check mode the new release does not exist yet, but it counts towards keep all the same.
            incoming = 1 if module.check_mode and result["created"] else 0
            spare = [release_id] if params["state"] == "present" else []
            result["pruned"] = store.prune(params["keep"], incoming=incoming, check_mode=module.check_mode, spare=spare)
    except FleetError as exc:
        module.fail_json(msg=str(exc), **result)

    result["changed"] = result["changed"] or result["created"] or result["removed"] or bool(result["pruned"])
    after = [r for r in before if r not in result["pruned"] and not (result["removed"] and r == release_id)]
    if result["created"]:
        after.append(release_id)
    result["releases"] = after
    result["diff"] = {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n",
                      "before_header": store.releases_dir, "after_header": store.releases_dir}
    module.exit_json(**result)


def check_not_bad(store, release_id, allow_bad):
    """Refuse a release marked bad unless allowed; returns its mark (or None) for the result."""
    mark = store.status()["bad"].get(release_id)
    if mark is not None and not allow_bad:
        raise FleetError("release %s is known bad on this host: %s. Nothing was changed. Deploy it again only on purpose, "
                         "with %s, or clear the mark first (fleetops.release.release_mark state=good)"
                         % (release_id, describe_bad(release_id, mark), ALLOW_BAD_HINT))
    return mark


def write_inline_artifact(module, content):
    """Write an artifact the action plugin sent inside the arguments (base64) to the module's temp dir; its path."""
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactError("artifact_content is not valid base64 (%s); nothing was created" % exc)
    path = os.path.join(module.tmpdir, "artifact.tar.gz")
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def create(module, store, release_id, inline_content=None):
    """Create the release unless it exists; an existing one is only compared with the artifact."""
    params = module.params
    artifact = params["artifact"]
    # The artifact as the operator gave it: ``artifact`` may become a temporary copy below (inline, download).
    name = params["artifact_name"] or artifact
    exists = store.manifest(release_id) is not None
    if inline_content is not None and not exists:
        artifact = write_inline_artifact(module, inline_content)
    is_url = bool(artifact) and params["remote_src"] and artifact.startswith(("http://", "https://"))
    if exists:
        # Existing release: compare checksums, never download or unpack again.
        local = artifact if artifact and not is_url and os.path.isfile(artifact) else None
        return store.create_release(release_id, artifact=local, sha256=params["sha256"], artifact_name=name)
    if not artifact:
        raise ArtifactError("release %s does not exist under %s and no artifact was given to create it" % (release_id, store.releases_dir))
    if name is None:
        name = "the artifact sent inline (artifact_content)"
    if is_url:
        if module.check_mode:
            return True, {"id": release_id, "artifact_sha256": params["sha256"], "created_by": params["created_by"] or actor_of(module)}
        artifact = download(module, artifact)
    return store.create_release(
        release_id, artifact=artifact, sha256=params["sha256"], shared_paths=params["shared_paths"],
        created_by=params["created_by"] or actor_of(module), check_mode=module.check_mode,
        artifact_name=name, max_unpacked=params["max_unpacked"], schema=params["schema"],
    )


if __name__ == "__main__":
    main()

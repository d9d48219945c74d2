# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Brings a controller-side artifact to the host: small ones inside the module call, large ones copied first, and
only when the release is not there yet."""

from __future__ import annotations

import base64
import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.plugin_utils._identity import with_operator

from ansible_collections.fleetops.release.plugins.module_utils._release_store import (
    MANIFEST_NAME,
    FleetError,
    sha256_file,
    validate_release_id,
)


# Artifacts up to this size travel base64-encoded inside the module's arguments: one round trip per host instead of
# a remote stat, a temp directory, the copy, the module and the clean-up. Larger ones would cost too much memory in
# every fork (the arguments are held several times over), so they take the copy path.
INLINE_MAX_BYTES = 4 * 1024 * 1024


class ActionModule(ActionBase):

    # False although it may copy files: with True, ActionBase makes a remote temp directory up front (and the
    # module call removes it), two extra SSH round trips per host on every call. run() makes one only to copy.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        # Who did it is the controller's operator, never a task argument (trust model, plugin_utils/_identity.py).
        args = with_operator(self._task.args, task_vars or {}, "created_by", self._display, "fleetops.release.release")
        module = "fleetops.release.release"
        try:
            # Templated arguments arrive as strings ("false" from a survey): judged as the module's bool would be.
            remote_src = boolean(args.get("remote_src", False))
        except TypeError:
            remote_src = True  # not a boolean: the module refuses it with its own message
        if args.get("state", "present") != "present" or not args.get("artifact") or remote_src:
            result.update(self._execute_module(module_name=module, module_args=args, task_vars=task_vars))
            return result

        try:
            validate_release_id(args.get("release", args.get("id")))
            source = self._find_needle("files", args["artifact"])
        except (FleetError, AnsibleError) as exc:
            raise AnsibleActionFail(to_text(exc))
        local_sha = sha256_file(source)
        wanted = (args.get("sha256") or "").lower()
        if wanted and wanted != local_sha:
            raise AnsibleActionFail("checksum mismatch for %s: expected sha256 %s, got %s; nothing was copied or created"
                                    % (args["artifact"], wanted, local_sha))
        args["sha256"] = local_sha
        # The module only sees the inline content or a temporary copy: its messages name the artifact as given.
        args.setdefault("artifact_name", args["artifact"])

        if os.path.getsize(source) <= INLINE_MAX_BYTES:
            # The module unpacks the content only when the release is missing, and compares the checksum otherwise.
            with open(source, "rb") as handle:
                args["artifact_content"] = to_text(base64.b64encode(handle.read()))
            args.pop("artifact")
            result.update(self._execute_module(module_name=module, module_args=args, task_vars=task_vars))
            return result

        app_root = args.get("app_root") or "/srv/app"
        manifest = os.path.join(app_root, "releases", args.get("release", args.get("id")), MANIFEST_NAME)
        stat = self._execute_remote_stat(manifest, all_vars=task_vars, follow=False)
        if stat["exists"]:
            # The release exists: the module only compares the checksum; nothing is copied.
            args.pop("artifact")
            result.update(self._execute_module(module_name=module, module_args=args, task_vars=task_vars))
            return result

        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        try:
            remote = self._connection._shell.join_path(self._connection._shell.tmpdir, "fleet-artifact.tar.gz")
            self._transfer_file(source, remote)
            self._fixup_perms2((self._connection._shell.tmpdir, remote))
            args["artifact"] = remote
            result.update(self._execute_module(module_name=module, module_args=args, task_vars=task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check a release artifact on the controller before anything is sent to a host (logic in module_utils/_safe_tar.py).

The artifact is found the way the ``release`` action plugin finds it (``_find_needle``), so the file checked here is
the file that would be sent; every message names it as the operator gave it.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._safe_tar import ArchiveError, inspect_artifact

ARGUMENT_SPEC = {
    "path": {"type": "str", "required": True, "aliases": ["artifact"]},
    "sha256": {"type": "str"},
    "max_unpacked": {"type": "int"},
}


class ActionModule(ActionBase):

    _requires_connection = False  # reads a controller file only
    _supports_check_mode = True  # changes nothing anywhere

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        given = args["path"]
        sha256 = args["sha256"]
        if sha256 is not None and (len(sha256) != 64 or any(char not in "0123456789abcdefABCDEF" for char in sha256)):
            raise AnsibleActionFail("artifact_check: sha256 must be 64 hex digits, got %r" % sha256)
        try:
            found = self._find_needle("files", given)
        except AnsibleError:
            raise AnsibleActionFail("artifact %s does not exist on the controller (or is not a file); nothing was sent "
                                    "to any host" % given)
        try:
            summary = inspect_artifact(found, name=given, max_unpacked=args["max_unpacked"], sha256=sha256)
        except ArchiveError as exc:
            raise AnsibleActionFail("%s; nothing was sent to any host" % to_text(exc))
        result.update(summary, changed=False, path=found, artifact=given)
        return result

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Renders the templates of a configuration snapshot on the controller and hands the results to the module.

The rendered content travels as files in the task's remote temp directory, never as module arguments, so it
does not show up in the invocation (-vvv), in logs or in the result.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from ansible import constants as C
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.plugin_utils._identity import with_operator

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19: template strings need no trust marker
    def trust_as_template(value):
        return value

MODULE = "fleetops.release.config_snapshot"


class ActionModule(ActionBase):

    # False although it may copy files: with True, ActionBase makes a remote temp directory up front (and the
    # module call removes it), two extra SSH round trips per host on every call. run() makes one only to copy.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        # Who did it is the controller's operator, never a task argument (trust model, plugin_utils/_identity.py).
        args = with_operator(self._task.args, task_vars or {}, "actor", self._display, "fleetops.release.config_snapshot")
        templates = args.get("templates")
        if not templates:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return result
        if args.get("state", "present") != "present":
            raise AnsibleActionFail("templates are rendered into a snapshot with state=present; state=%s takes no templates" % args.get("state"))
        if not isinstance(templates, list) or not all(isinstance(item, dict) for item in templates):
            raise AnsibleActionFail("templates must be a list of dicts with src and dest (and mode, owner, group)")

        local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)  # 0700: rendered secrets stay private here too
        try:
            rendered_local = [self._render(item, index, local_dir, task_vars) for index, item in enumerate(templates)]
            if self._connection._shell.tmpdir is None:
                self._make_tmp_path()
            remote_dir = self._connection._shell.tmpdir
            rendered = []
            remote_paths = []
            for local, item in rendered_local:
                remote = self._connection._shell.join_path(remote_dir, os.path.basename(local))
                self._transfer_file(local, remote)
                remote_paths.append(remote)
                rendered.append({"src": remote, "dest": item["dest"], "mode": item.get("mode", "0644"),
                                 "owner": item.get("owner"), "group": item.get("group")})
            self._fixup_perms2([remote_dir] + remote_paths)
            args["templates"] = rendered
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _render(self, item, index, local_dir, task_vars):
        """Render one template with the host's variables into a private local file; returns (path, item)."""
        unknown = sorted(set(item) - {"src", "dest", "mode", "owner", "group"})
        if unknown:
            raise AnsibleActionFail("templates[%d] has unknown keys %s; allowed are src, dest, mode, owner, group" % (index, ", ".join(unknown)))
        if not item.get("src") or not item.get("dest"):
            raise AnsibleActionFail("templates[%d] needs both src (a template on the controller) and dest (the path on the host)" % index)
        try:
            source = self._find_needle("templates", item["src"])
        except AnsibleError as exc:
            raise AnsibleActionFail("templates[%d]: %s" % (index, to_text(exc)))
        searchpath = list(task_vars.get("ansible_search_path", [])) + [self._loader._basedir, os.path.dirname(source)]
        searchpath = [path for base in searchpath for path in (os.path.join(base, "templates"), base)]
        try:
            data = trust_as_template(self._loader.get_text_file_contents(source))
            templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=task_vars)
            text = templar.template(data, escape_backslashes=False)
        except AnsibleError as exc:
            # The message names the template and the problem; the rendered text (maybe a secret) is not in it.
            raise AnsibleActionFail("cannot render template %s for %s: %s" % (source, item["dest"], to_text(exc)))
        local = os.path.join(local_dir, "rendered-%d" % index)
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes("" if text is None else text, errors="surrogate_or_strict"))
        return local, item

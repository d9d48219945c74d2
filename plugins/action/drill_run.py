# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run deploy.yml or rollback.yml of this collection for a drill, as their own ansible-playbook, on the drill's hosts.

Why a process of its own and not import_playbook: a deploy that its gates stop ends its ansible-playbook with a failure
(that is what production sees), and an ansible-playbook that failed runs no later play, so a drill that imported the
deploy could not check the end state nor write its report. The child is the very command an operator runs: same
playbook, same inventory, same command-line options and extra variables as the drill, limited to the drill's hosts.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

from ansible import constants as C
from ansible import context
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils import _command
from ansible_collections.fleetops.release.plugins.module_utils._drill import child_command, failures_in_output, run_id_in_output

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = ("deploy", "rollback")
STEPS = ("fault", "recover", "forward")
OUTPUT_LIMIT = 8 * 1024 * 1024
TAIL_LINES = 40

ARGUMENT_SPEC = {
    "playbook": {"type": "str", "required": True, "choices": list(PLAYBOOKS)},
    "step": {"type": "str", "required": True, "choices": list(STEPS)},
    "hosts": {"type": "list", "elements": "str", "required": True},
    "extra_vars": {"type": "dict", "default": {}},
    "allow_bad_release": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 1800},
    "log": {"type": "path"},
}

# Command-line options of the drill that its runs get too: (CLIARGS key, flag, what the parser gives when not set).
_PASSED_OPTIONS = (
    ("private_key_file", "--private-key", None),
    ("remote_user", "--user", None),
    ("connection", "--connection", C.DEFAULT_TRANSPORT),
    ("timeout", "--timeout", C.DEFAULT_TIMEOUT),
    ("ssh_common_args", "--ssh-common-args", ""),
    ("ssh_extra_args", "--ssh-extra-args", ""),
    ("sftp_extra_args", "--sftp-extra-args", ""),
    ("scp_extra_args", "--scp-extra-args", ""),
    ("become_method", "--become-method", C.DEFAULT_BECOME_METHOD),
    ("become_user", "--become-user", C.DEFAULT_BECOME_USER),
    ("forks", "--forks", C.DEFAULT_FORKS),
)


def passed_options(cliargs):
    """``[(flag, value)]`` of the drill's own command-line options that its runs must get too."""
    options = []
    for key, flag, unset in _PASSED_OPTIONS:
        value = cliargs.get(key)
        if value not in (None, unset, ()):
            options.append((flag, value))
    if cliargs.get("become"):
        options.append(("--become", True))
    for vault_id in cliargs.get("vault_ids") or ():
        options.append(("--vault-id", vault_id))
    for password_file in cliargs.get("vault_password_files") or ():
        options.append(("--vault-password-file", password_file))
    if cliargs.get("diff"):
        options.append(("--diff", True))
    if cliargs.get("verbosity"):
        options.append(("-" + "v" * int(cliargs["verbosity"]), True))
    return options


def ansible_playbook_binary():
    """The ansible-playbook beside the running Python (a virtualenv's), else the one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return beside if os.access(beside, os.X_OK) else shutil.which("ansible-playbook")


class ActionModule(ActionBase):

    _requires_connection = False  # starts ansible-playbook on the controller
    _supports_check_mode = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        cliargs = context.CLIARGS
        if self._task.check_mode or cliargs.get("check"):
            result.update(failed=True, changed=False, msg="drill_run: a drill cannot run in check mode")
            return result
        if cliargs.get("ask_pass") or cliargs.get("become_ask_pass") or cliargs.get("ask_vault_pass"):
            result.update(failed=True, changed=False, msg=(
                "drill_run: the drill was started with a password prompt (-k, -K or --ask-vault-pass), which the runs it "
                "starts cannot answer; use SSH keys, become without a password, or --vault-password-file"))
            return result
        if not args["hosts"]:
            result.update(failed=True, changed=False, msg="drill_run: hosts is empty; a run of the drill needs the drill's hosts")
            return result
        if args["timeout"] <= 0:
            result.update(failed=True, changed=False, msg="drill_run: timeout must be a number of seconds above 0, got %d" % args["timeout"])
            return result
        binary = ansible_playbook_binary()
        if not binary:
            result.update(failed=True, changed=False, msg="drill_run: no ansible-playbook beside %s nor on PATH" % sys.executable)
            return result
        playbook = os.path.join(COLLECTION_ROOT, "playbooks", "%s.yml" % args["playbook"])
        own_vars = dict(args["extra_vars"])
        if args["allow_bad_release"]:
            own_vars["fleet_allow_bad_release"] = True
        argv = child_command(binary, playbook, cliargs.get("inventory"), args["hosts"], cliargs.get("extra_vars"),
                             own_vars, passed_options(cliargs))
        # The default callback with one JSON result per line, without colours: the drill reads the failures from it.
        env = _command.child_environment({"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                                          "ANSIBLE_CALLBACK_RESULT_FORMAT": "json", "ANSIBLE_CALLBACK_FORMAT_PRETTY": "0"})
        started = time.time()
        ran = _command.run(argv, args["timeout"], shell=False, env=env, output_limit=OUTPUT_LIMIT)
        finished = time.time()
        output = ran["stdout"] + ("\n" + ran["stderr"] if ran["stderr"] else "")
        if args["log"]:
            with open(args["log"], "w", encoding="utf-8") as handle:
                handle.write(output)
        result.update(
            # The run may have switched hosts (that is the drill); whether it did is in its own audit record. Its exit
            # status is not called rc: ansible-core would fail this task on a non-zero rc, and the drill judges it.
            changed=True, exit_status=ran["rc"], timed_out=ran["timed_out"], started=started, finished=finished,
            elapsed=round(finished - started, 3), playbook=args["playbook"], step=args["step"], log=args["log"],
            command=[part if not part.startswith("{") else "<variables of the drill>" for part in argv],
            failures=failures_in_output(output), run_id=run_id_in_output(output),
            output_tail=to_text("\n".join(output.splitlines()[-TAIL_LINES:])),
            msg="%s.yml (%s) %s" % (args["playbook"], args["step"], "did not finish within %d s and was stopped" % args["timeout"]
                                    if ran["timed_out"] else "exited with %s" % ran["rc"]))
        return result

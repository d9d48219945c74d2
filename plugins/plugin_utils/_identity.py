# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who runs this, determined on the controller by every plugin that records it; and the run record of run_guard.

Identity is never a variable: extra variables beat every other variable in Ansible, so a ``-e fleet_actor=...`` (or
a ``-e`` of a registered result) could name anybody. Every action plugin that writes who did something (the audit
record, history lines, lock holders, known-bad marks, release manifests, configuration snapshots) calls
:func:`controller_operator` at the moment it writes, and ignores (with a warning) any name its task passes.

AWX's user counts only when the job really runs under AWX: ``JOB_ID`` equals the variable ``awx_job_id``,
``AWX_PRIVATE_DATA_DIR`` is AWX's folder of that job and ansible-runner's artifact directory of that job
(``AWX_ISOLATED_DATA_DIR``) exists beside it or in an execution environment (module_utils/_awx.py, the proof in
detail). Outside AWX every ``awx_*`` variable is ignored, with a warning, and the controller's OS user (of the
effective uid) is the operator.

The run record: ``run_guard`` issues the run id itself and writes ``<home>/.ansible/fleetops/runs/<run_id>.json``
(directory 0700, file 0600, in the home directory of the effective uid): the run id, the operation (the literal of the
playbook's guard task), the operator, the controller, the pid of the ansible-playbook process and, later, the fleet
policy read with the fleet-wide lock and the guard's decision. Plugins read it by run id and accept it only when it
was written by the same ansible-playbook process (its pid is the parent of every worker that runs a task), so a
``-e fleet_run_id=<another run>`` is refused, and another OS user cannot read or write it.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import socket
import tempfile
import time

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.fleetops.release.plugins.module_utils._awx import ENV_VARS
from ansible_collections.fleetops.release.plugins.module_utils._guard import AWX_VARS, GuardError, resolve_operator

RUN_ID_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9]{1,12}")
RUN_DIR_MODE = 0o700
# Run records older than this are removed when a new run starts (they only matter while their run lasts).
RUN_RECORD_MAX_AGE = 14 * 86400


def os_user():
    """The controller's OS user: the account of the effective uid (never $USER/$LOGNAME, which a caller can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container uid without a passwd entry
        return "uid %d" % uid


def controller_name():
    """The controller's host name (what ``hostname`` prints), never a variable."""
    return socket.gethostname() or "unknown"


def awx_environment(environ=None):
    """The environment variables of the proof of an AWX job (module_utils/_awx.py) and whether ansible-runner's
    artifact directory (``AWX_ISOLATED_DATA_DIR``) exists: ``(variables, exists)``."""
    environ = os.environ if environ is None else environ
    variables = dict((name, environ.get(name)) for name in ENV_VARS if environ.get(name) is not None)
    artifacts = variables.get("AWX_ISOLATED_DATA_DIR") or ""
    return variables, bool(artifacts) and os.path.isdir(artifacts)


def controller_operator(task_vars, environ=None):
    """``(operator, warnings)``: the operator of this run, as run_guard and every identity-recording plugin see it."""
    task_vars = task_vars or {}
    awx_vars = dict((name, task_vars.get(name)) for name in AWX_VARS)
    variables, exists = awx_environment(environ)
    return resolve_operator(os_user(), variables, awx_vars, exists)


def holder_of(operator_name, run_id=None):
    """A lock holder: ``<operator>@<controller> run <run_id>`` (the run part only with a run id)."""
    holder = "%s@%s" % (operator_name, controller_name())
    return "%s run %s" % (holder, run_id) if run_id else holder


def override(args, name, value, display=None, what=None):
    """Set ``args[name]`` to the truth; warn when the task passed something else. Returns the new args."""
    args = dict(args)
    given = args.get(name)
    if given not in (None, "") and given != value and display is not None:
        display.warning("%s: %s %r given by the task is ignored; the controller records %r (the operator is never a "
                        "variable, see the trust model in the README)" % (what or "fleetops.release", name, given, value))
    args[name] = value
    return args


# -- the run record ----------------------------------------------------------------------------------------------


def runs_dir():
    home = pwd.getpwuid(os.geteuid()).pw_dir
    return os.path.join(home, ".ansible", "fleetops", "runs")


def _ensure_runs_dir():
    directory = runs_dir()
    os.makedirs(directory, RUN_DIR_MODE, exist_ok=True)
    info = os.lstat(directory)
    if info.st_uid != os.geteuid():
        raise GuardError("%s is not owned by the controller's user (uid %d): remove it, run_guard keeps its run records "
                         "there" % (directory, os.geteuid()))
    if info.st_mode & 0o077:
        os.chmod(directory, RUN_DIR_MODE)
    return directory


def playbook_pid():
    """The ansible-playbook process: every task runs in a worker forked from it."""
    return os.getppid()


def new_run_id(now=None):
    now = time.time() if now is None else now
    return "%s-%d" % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)), int.from_bytes(os.urandom(4), "big") % 10 ** 9)


def _record_path(run_id):
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise GuardError("run id %r was not issued by fleetops.release.run_guard (expected <UTC time>-<number>); do not "
                         "set fleet_run_id, the guard names the run" % (run_id,))
    return os.path.join(runs_dir(), run_id + ".json")


def write_run_record(record):
    """Write (create or replace) the run record atomically; 0600 in the 0700 runs directory."""
    directory = _ensure_runs_dir()
    path = _record_path(record["run_id"])
    fd, tmp = tempfile.mkstemp(prefix=".tmp-run-", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def prune_run_records(now=None):
    """Remove run records older than RUN_RECORD_MAX_AGE (best effort)."""
    now = time.time() if now is None else now
    directory = runs_dir()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            if name.endswith(".json") and now - os.lstat(path).st_mtime > RUN_RECORD_MAX_AGE:
                os.unlink(path)
        except OSError:
            pass


def read_run_record(run_id):
    """The run record of ``run_id`` written by run_guard in this very ansible-playbook process; GuardError otherwise."""
    path = _record_path(run_id)
    try:
        info = os.lstat(path)
        with open(path) as handle:
            record = json.load(handle)
    except FileNotFoundError:
        raise GuardError("run %s was not started by fleetops.release.run_guard on this controller (no run record %s); "
                         "do not set fleet_run_id, the guard names the run" % (run_id, path))
    except (OSError, ValueError) as exc:
        raise GuardError("cannot read the run record %s: %s" % (path, exc))
    if info.st_uid != os.geteuid() or not isinstance(record, dict) or record.get("run_id") != run_id:
        raise GuardError("the run record %s is not a record of run %s written by this user" % (path, run_id))
    if record.get("pid") != playbook_pid():
        raise GuardError("run %s was started by another ansible-playbook process (pid %s, this one is %d): a run id "
                         "cannot be reused; do not set fleet_run_id, the guard names the run"
                         % (run_id, record.get("pid"), playbook_pid()))
    return record


def update_run_record(run_id, **changes):
    record = read_run_record(run_id)
    record.update(changes)
    write_run_record(record)
    return record


def lock_args(args, operator, run_record, display=None, run_id=None, what="fleetops.release.release_lock"):
    """The module's arguments with the identity filled in on the controller: the holder, and the actor (and, for a
    run started by run_guard, the operation) of the run summary."""
    holder = holder_of(operator["name"], run_id or args.get("run_id"))
    if args.get("state", "present") == "absent" and args.get("holder"):
        # Releasing records no holder: a holder given only says which lock to release (by hand, a lock another run
        # left; force=true releases any). What a release records, the run summary's actor, is still the operator.
        holder = args["holder"]
    args = override(args, "holder", holder, display, what)
    summary = args.get("run_summary")
    if isinstance(summary, dict):
        summary = override(summary, "actor", operator["name"], display, what + " run_summary")
        if run_record is not None:
            summary = override(summary, "operation", run_record["operation"], display, what + " run_summary")
        args["run_summary"] = summary
    return args


def run_record_of(run_id):
    """The run record of ``run_id`` when run_guard started it in this process, else None (a host lock taken by hand)."""
    if not run_id:
        return None
    try:
        return read_run_record(run_id)
    except GuardError:
        return None


def with_operator(args, task_vars, name, display=None, what=None):
    """``args`` with ``args[name]`` set to the controller's operator (for action plugins that record who did it)."""
    operator, _warnings = controller_operator(task_vars)
    return override(args, name, operator["name"], display, what)


# -- the process that holds a lock -------------------------------------------------------------------------------
# A lock records the ansible-playbook process of its run, so that the next run on the same controller can prove that
# the holder is gone (killed, crashed) and break the lock itself: the check needs the controller's process table,
# so it is made here, on the controller, never on the fleet host that keeps the lock.


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def start_ticks_from_stat(text):
    """The process's start time (clock ticks after boot, field 22 of ``/proc/<pid>/stat``) from that file's text.
    The command name (field 2) is in parentheses and may hold spaces and ')': count the fields after its last ')'."""
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[19])


def probe_process(pid):
    """``(alive, start)``: whether process ``pid`` exists on this controller, and its start time in clock ticks after
    boot (None when it cannot be read, for example without /proc). A pid and its start time name one process: a pid
    reused by another process has another start time."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        # os.kill(0, ...) and negative pids mean process groups: never probe those.
        raise ValueError("a process id is a positive whole number, got %r" % (pid,))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, None
    except PermissionError:
        pass  # another user's process: it exists
    except OverflowError:
        return False, None
    text = _read("/proc/%d/stat" % pid)
    if text is None:
        # It existed a moment ago; with /proc present and its stat gone, it has ended since.
        return (False, None) if os.path.isdir("/proc/self") else (True, None)
    try:
        return True, start_ticks_from_stat(text)
    except (ValueError, IndexError):
        return True, None


def boot_id():
    """This boot of the controller (random per boot): a pid and start time mean something only within one boot."""
    return _read("/proc/sys/kernel/random/boot_id")


def pid_namespace():
    """The pid namespace of this process (``pid:[<inode>]``): a container sees only the pids of its own namespace."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def process_identity(pid=None):
    """What a lock records of the process that holds it: the controller, the ansible-playbook process (its pid and
    start time), the boot and the pid namespace in which that pid means something."""
    pid = playbook_pid() if pid is None else pid
    return {"controller": controller_name(), "pid": pid, "start": probe_process(pid)[1], "boot_id": boot_id(),
            "pid_ns": pid_namespace()}


class IdentityAction(ActionBase):
    """Runs ``MODULE`` with its ``actor`` set to the controller's operator (community.docker's
    docker_container_copy_into pattern); a different value the task passes is ignored with a warning. The action
    plugins of release_mark, release_activate and release_switch are this class with their module's name."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True  # as the normal action: a long activation may run with async
    MODULE = None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = self.identity_args(with_operator(self._task.args, task_vars or {}, "actor", self._display, self.MODULE),
                                  task_vars or {})
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(module_name=self.MODULE, module_args=args, task_vars=task_vars,
                                                         wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)  # pylint: disable=protected-access
        return result

    def identity_args(self, args, task_vars):
        """Further identity the module records: with ``unlock`` (release_activate, release_mark), the lock's holder and
        the run line's actor and operation, as release_lock state=absent would record them for this run."""
        unlock = args.get("unlock")
        if not isinstance(unlock, dict):
            return args
        operator, _warnings = controller_operator(task_vars)
        run_id = args.get("run_id")
        unlock = lock_args(dict(unlock, state="absent"), operator, run_record_of(run_id), self._display, run_id,
                           self.MODULE + " unlock")
        unlock.pop("state")
        return dict(args, unlock=unlock)

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run one command with a deadline, and on expiry kill it together with everything it started.

Every command the collection runs on a host goes through :func:`run`: the restart command (release_activate,
release_switch), nginx's ``-t`` (lb_pool), and the command checks of health_check (which runs this file's source on the
host as ``python3 -c <source> <spec as JSON>``, like _health_probe). Keep it self-contained: standard library only,
nothing newer than Python 3.6.

The command runs in a session (and so a process group) of its own. When ``timeout`` expires the whole group gets
SIGTERM, then, after a short grace, SIGKILL, and the command is reaped: a ``sleep 1000 &`` the command left behind goes
too. A command that exits in time is left alone, and so is whatever it started (a restart command may start a daemon
in the background). A process that moved to a session of its own (a daemon that called setsid) is out of reach.

Output is read as it comes and capped (``output_limit`` bytes per stream: its first and last halves are kept), so a
chatty command cannot fill the memory, and a background process that keeps the pipes open does not make a command
that exited look hung.

The result is a dict: ``command``, ``rc`` (None when killed), ``stdout``, ``stderr``, ``timeout``, ``timed_out``,
``killed_with`` (``SIGTERM``/``SIGKILL``/None), ``elapsed``, ``stdout_truncated``, ``stderr_truncated``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time

DEFAULT_OUTPUT_LIMIT = 64 * 1024
KILL_GRACE = 2.0
# After the command exited: how long to wait for more output from processes that inherited its pipes.
DRAIN_AFTER_EXIT = 0.2


class _Capped:
    """The first and last ``limit // 2`` bytes of a stream, and how many bytes were cut between them."""

    def __init__(self, limit):
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0

    def add(self, data):
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                self.cut += len(self.tail) - self.half
                del self.tail[:len(self.tail) - self.half]

    def text(self):
        middle = "\n[... %d bytes not kept ...]\n" % self.cut if self.cut else ""
        return bytes(self.head).decode("utf-8", "replace") + middle + bytes(self.tail).decode("utf-8", "replace")


def display(command):
    """The command as a message names it."""
    if isinstance(command, (list, tuple)):
        return " ".join(str(part) for part in command)
    return str(command)


def child_environment(update=None, base=None):
    """The environment for a command started from a module: the module's own, without the module's import path
    that AnsiballZ put into PYTHONPATH (as AnsibleModule.run_command does), plus ``update``."""
    env = dict(os.environ if base is None else base)
    if "PYTHONPATH" in env:
        kept = [part for part in env["PYTHONPATH"].split(":")
                if part and not part.endswith("/ansible_modlib.zip") and not part.endswith("/debug_dir")]
        if kept:
            env["PYTHONPATH"] = ":".join(kept)
        else:
            del env["PYTHONPATH"]
    env.update(dict((str(key), str(value)) for key, value in (update or {}).items()))
    return env


def _exited(pid):
    """Whether the child ``pid`` has exited, without reaping it: while it is not reaped its PID (and so its process
    group id) cannot be given to another process, so signalling the group stays safe."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None and info.si_pid != 0


def group_members(pgid):
    """PIDs of live (not zombie) processes in process group ``pgid``; None when /proc cannot tell."""
    if not os.path.isdir("/proc/self"):
        return None
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[-1].split()
        except OSError:
            continue
        # fields after the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] not in (b"Z", b"X") and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def _signal_group(pgid, signum):
    try:
        os.killpg(pgid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def kill_group(proc, grace=KILL_GRACE, clock=time.monotonic, sleep=time.sleep):
    """SIGTERM to the process group of ``proc`` (its own session), SIGKILL after ``grace`` seconds to whatever is
    left, then reap ``proc``. Returns the last signal sent (``SIGTERM`` or ``SIGKILL``)."""
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    used = "SIGTERM"
    deadline = clock() + grace
    while clock() < deadline:
        members = group_members(pgid)
        if _exited(proc.pid) and members is not None and not members:
            break
        sleep(0.05)
    else:
        used = "SIGKILL"
    # Always: a member may have ignored SIGTERM; nothing in the group may outlive the command.
    _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    return used


def run(command, timeout, shell=None, env=None, cwd=None, output_limit=DEFAULT_OUTPUT_LIMIT, grace=KILL_GRACE):
    """Run ``command`` (a shell string, or an argv list) for at most ``timeout`` seconds; see the module docstring."""
    if timeout is None or float(timeout) <= 0:
        raise ValueError("timeout must be a number of seconds above 0, not %r" % (timeout,))
    timeout = float(timeout)
    if shell is None:
        shell = isinstance(command, str)
    argv = ["/bin/sh", "-c", command] if shell else [str(part) for part in command]
    started = time.monotonic()
    deadline = started + timeout
    result = {"command": display(command), "rc": None, "stdout": "", "stderr": "", "timeout": timeout, "timed_out": False,
              "killed_with": None, "elapsed": 0.0, "stdout_truncated": False, "stderr_truncated": False}
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                            close_fds=True, start_new_session=True)
    streams = {proc.stdout.fileno(): _Capped(output_limit), proc.stderr.fileno(): _Capped(output_limit)}
    selector = selectors.DefaultSelector()
    for pipe in (proc.stdout, proc.stderr):
        selector.register(pipe, selectors.EVENT_READ)
    exited_at = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and _exited(proc.pid):
                exited_at = now
            if exited_at is not None and now - exited_at >= DRAIN_AFTER_EXIT:
                break  # the command is done; whatever still holds its pipes is not waited for
            if now >= deadline:
                result["timed_out"] = True
                break
            wait = min(deadline - now, 0.1 if exited_at is None else DRAIN_AFTER_EXIT)
            for key, _events in selector.select(wait):
                data = os.read(key.fd, 65536)
                if data:
                    streams[key.fd].add(data)
                else:
                    selector.unregister(key.fileobj)
        if not result["timed_out"] and exited_at is None:
            # Both pipes closed before the command exited: wait for it, still within the deadline.
            while not _exited(proc.pid):
                if time.monotonic() >= deadline:
                    result["timed_out"] = True
                    break
                time.sleep(0.02)
        if result["timed_out"]:
            result["killed_with"] = kill_group(proc, grace)
        else:
            result["rc"] = proc.wait()
    finally:
        selector.close()
        if proc.poll() is None:  # an exception above (KeyboardInterrupt...): never leave the group behind
            kill_group(proc, grace)
        proc.stdout.close()
        proc.stderr.close()
    result["elapsed"] = round(time.monotonic() - started, 3)
    out, err = list(streams.values())  # stdout was registered first
    result.update(stdout=out.text(), stderr=err.text(), stdout_truncated=bool(out.cut), stderr_truncated=bool(err.cut))
    return result


def bounded_run_command(timeout, env=None):
    """A callable like AnsibleModule.run_command(argv) -> (rc, stdout, stderr), but bounded: a command that runs out of
    ``timeout`` is killed with its process group and reported as exit code 124 (as timeout(1) does) with the reason in
    stderr, so that callers that handle a failed command (nginx -t: restore the old file) handle a hung one too."""
    def run_command(argv):
        ran = run(argv, timeout, shell=False, env=child_environment(env))
        if ran["timed_out"]:
            return 124, ran["stdout"], describe(ran)
        return ran["rc"], ran["stdout"], ran["stderr"]
    return run_command


def describe(result):
    """One sentence on how the command ended, for messages."""
    if result["timed_out"]:
        return ("%r did not finish within %g s and was killed with its whole process group (%s)"
                % (result["command"], result["timeout"], result["killed_with"]))
    return "%r exited with %d" % (result["command"], result["rc"])


def main():
    """``python3 -c <this source> '{"command": ..., "timeout": ..., "shell": ..., "output_limit": ...}'``: one JSON result."""
    spec = json.loads(sys.argv[1])
    try:
        result = run(spec["command"], spec["timeout"], shell=spec.get("shell"), output_limit=int(spec.get("output_limit") or DEFAULT_OUTPUT_LIMIT))
    except (OSError, ValueError) as exc:
        result = {"command": display(spec.get("command")), "rc": None, "error": "%s: %s" % (type(exc).__name__, exc)}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

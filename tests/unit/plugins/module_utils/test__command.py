# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _command
from ansible_collections.fleetops.release.plugins.module_utils._command import child_environment, describe, run


def alive(pid):
    """A running process; a zombie counts as gone (nothing may reap orphans in a container)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def test_exit_code_and_output():
    result = run("echo out; echo err >&2; exit 3", timeout=10)
    assert result["rc"] == 3 and not result["timed_out"] and result["killed_with"] is None
    assert result["stdout"] == "out\n" and result["stderr"] == "err\n"
    assert describe(result) == "'echo out; echo err >&2; exit 3' exited with 3"


def test_argv_is_not_a_shell():
    result = run(["echo", "$HOME", ";", "x"], timeout=10)
    assert result["rc"] == 0 and result["stdout"] == "$HOME ; x\n" and result["command"] == "echo $HOME ; x"


def test_a_command_past_its_timeout_is_killed_with_its_children(tmp_path):
    pids = tmp_path / "pids"
    # The shell starts two sleeps in the background and one in the foreground, and writes down their PIDs.
    command = "sleep 1000 & echo $! > %s; sleep 1000 & echo $! >> %s; echo $$ >> %s; sleep 1000" % (pids, pids, pids)
    started = time.monotonic()
    result = run(command, timeout=1, grace=1)
    assert time.monotonic() - started < 5
    assert result["timed_out"] and result["rc"] is None and result["killed_with"] in ("SIGTERM", "SIGKILL")
    found = [int(line) for line in pids.read_text().split()]
    assert len(found) == 3
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in found if alive(pid)]
    message = describe(result)
    assert command in message and "within 1 s" in message and "process group" in message


def test_a_child_that_ignores_sigterm_gets_sigkill(tmp_path):
    pid_file = tmp_path / "pid"
    command = "trap '' TERM; sh -c \"trap '' TERM; echo \\$\\$ > %s; while :; do sleep 0.1; done\" & wait" % pid_file
    result = run(command, timeout=1, grace=0.5)
    assert result["timed_out"] and result["killed_with"] == "SIGKILL"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def test_a_background_process_holding_the_pipes_does_not_count_as_hanging(tmp_path):
    pid_file = tmp_path / "pid"
    # Like a restart command that starts a daemon without redirecting its output: the command itself is done.
    started = time.monotonic()
    result = run("sleep 30 & echo $! > %s; echo started" % pid_file, timeout=10)
    try:
        assert time.monotonic() - started < 3
        assert result["rc"] == 0 and not result["timed_out"] and result["stdout"] == "started\n"
        assert alive(int(pid_file.read_text()))  # left alone: a command that exits in time keeps what it started
    finally:
        os.kill(int(pid_file.read_text()), 9)


def test_output_is_capped_head_and_tail():
    result = run([sys.executable, "-c", "import sys; sys.stdout.write('a' * 5000 + 'b' * 5000 + 'c' * 5000)"], timeout=20,
                 output_limit=2000)
    assert result["rc"] == 0 and result["stdout_truncated"] and not result["stderr_truncated"]
    assert result["stdout"].startswith("a" * 1000 + "\n[... 13000 bytes not kept ...]\n") and result["stdout"].endswith("c" * 1000)


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        run("true", timeout=0)


def test_environment_drops_ansiballz_paths_and_adds_the_update():
    env = child_environment({"FLEET_RELEASE": "r1"}, base={"PYTHONPATH": "/tmp/x/ansible_modlib.zip", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "FLEET_RELEASE": "r1"}
    env = child_environment(base={"PYTHONPATH": "/opt/lib:/tmp/x/ansible_modlib.zip"})
    assert env == {"PYTHONPATH": "/opt/lib"}


def test_runs_as_a_script_with_a_json_spec():
    """How health_check runs command checks on a host: python3 -c <source> <spec>; one JSON line back."""
    with open(_command.__file__, encoding="utf-8") as handle:
        source = handle.read()
    spec = json.dumps({"command": "echo hi; sleep 5", "timeout": 0.5})
    proc = subprocess.run([sys.executable, "-c", source, spec], capture_output=True, text=True, timeout=20, check=False)
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["timed_out"] and answer["stdout"] == "hi\n" and answer["rc"] is None

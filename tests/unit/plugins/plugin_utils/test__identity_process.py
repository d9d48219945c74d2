# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The process a lock records, and whether a pid still runs the process that was recorded (issue 14, section 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

LINUX = os.path.exists("/proc/self/stat")


@pytest.mark.skipif(not LINUX, reason="needs /proc")
def test_process_identity_names_the_playbook_process_its_start_boot_and_namespace():
    identity = _identity.process_identity()
    assert identity["controller"] == _identity.controller_name()
    assert identity["pid"] == _identity.playbook_pid()
    assert isinstance(identity["start"], int) and identity["start"] == _identity.probe_process(identity["pid"])[1]
    assert identity["boot_id"] and identity["pid_ns"].startswith("pid:[")


@pytest.mark.skipif(not LINUX, reason="needs /proc")
def test_probe_process_tells_a_live_pid_from_an_ended_one():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # pylint: disable=consider-using-with
    try:
        alive, start = _identity.probe_process(child.pid)
        assert alive and isinstance(start, int) and start > 0
    finally:
        child.kill()
        child.wait()
    assert _identity.probe_process(child.pid) == (False, None)


def test_probe_process_of_a_command_name_in_parentheses_with_spaces(tmp_path):
    # /proc/<pid>/stat's second field is the command name in parentheses, which may itself hold spaces and ')'.
    stat = "4242 (ansible-play) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 777 0 0" + " 0" * 30
    assert _identity.start_ticks_from_stat(stat) == 777

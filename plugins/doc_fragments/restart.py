# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The bound of the restart command (RESTART_TIMEOUT_SPEC in module_utils/_activate.py, run by module_utils/_command.py).
    DOCUMENTATION = r"""
options:
  restart_timeout:
    description:
      - Seconds the restart command may run. When it runs longer it is killed together with every process it started
        (it runs in a process group of its own, which gets SIGTERM, then SIGKILL after 2 seconds), and the task fails naming the
        command and the timeout; the operation stays pending, as after a failed restart.
      - A restart command must return once the app has started; a daemon it starts in the background is left alone
        when the command itself returns in time.
      - In the playbooks of this collection it comes from the variable C(fleet_restart_timeout).
    type: float
    default: 120
"""

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Attributes of the drill's controller-side steps (action plugins with a documentation-only module file:
    # drill_plan, drill_run, drill_report); each module states whether it is idempotent.
    ACTIONS = r"""
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  bypass_host_loop:
    description: Runs once per host of the play; use C(run_once).
    support: none
  check_mode:
    description:
      - A drill deploys and rolls back for real and has no dry run. M(fleetops.release.drill_plan), its first step, fails
        in check mode saying so; the other steps are skipped in check mode.
    support: none
  diff_mode:
    description: The runs a drill starts show their own diffs with C(--diff); the step itself has none.
    support: none
  platform:
    description: Target platforms (of the controller).
    support: full
    platforms: posix
"""

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options every health check and gate shares.
    DOCUMENTATION = r"""
options:
  mode:
    description:
      - V(enforce) fails the task when the check or gate fails.
      - V(shadow) runs exactly the same evaluation and reports it (RV(passed), RV(would_fail), RV(msg) and a warning) but
        never fails the task. Use it to trial a new gate on real releases before it may stop a deploy.
    type: str
    choices: [enforce, shadow]
    default: enforce
notes:
  - Probes are sent from the controller (except where a check runs on the host), straight to the URL given, without
    any proxy from the environment. Redirects are not followed; a redirect is an answer with its own status.
  - Every failure message names the host (the inventory host the task runs for), the check, what was expected, what was
    seen and for how long.
"""

    # Attributes of these controller-side plugins (action plugins with a documentation-only module file).
    ATTRIBUTES = r"""
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  bypass_host_loop:
    description: Runs once per host of the play (use C(run_once) for a gate on a load balancer).
    support: none
  check_mode:
    description:
      - Probes only read, so they run in check mode too and the verdict is the same.
      - Skip the task in check mode (C(when) with C(not ansible_check_mode)) when it verifies a change that check mode did
        not make.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  idempotent:
    description: Never changes anything; always reports C(changed=false).
    support: full
  platform:
    description: Target platforms (of the host, where a check runs there).
    support: full
    platforms: posix
"""

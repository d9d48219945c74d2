# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The audit trail's directory and layout, shared by audit_record and audit_info.
    DOCUMENTATION = r"""
options:
  directory:
    description:
      - Directory of the audit trail on the audit host (the host the task runs on or is delegated to).
      - Holds one file per UTC day, C(<YYYY-MM-DD>.jsonl), with one JSON document (record) per line.
      - The playbooks of this collection keep it on the host C(fleet_audit_host) (default the controller).
    type: path
    default: /var/lib/fleetops/audit
notes:
  - Every record has at least C(run_id) and C(operation). C(event) (default C(run)) tells several records of one run apart.
  - A record's time is its C(started) field, else C(recorded_at) (set by M(fleetops.release.audit_record) when the
    record has none), else C(time); all are ISO-8601 times such as C(2026-11-26T21:04:05Z).
  - AWX runs jobs in throwaway containers, so a fleet host (not the controller) is the durable place for the trail there.
"""

    # Attributes of run_guard (an action plugin with a documentation-only module file).
    GUARD = r"""
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Cannot run asynchronously.
    support: none
  bypass_host_loop:
    description: Runs once per host of the play; use C(run_once) so that the run is judged once.
    support: none
  check_mode:
    description: Only decides, so it runs in check mode too and the verdict is the same.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  idempotent:
    description: Never changes anything; always reports C(changed=false).
    support: full
  platform:
    description: Target platforms (of the controller).
    support: full
    platforms: posix
"""

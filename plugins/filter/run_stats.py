# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: run_stats
short_description: A run's summary as the data of ansible.builtin.set_stats (AWX's job artifacts)
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Turns a deploy's or rollback's audit record (or its run report, C(fleet_run_report)) or, with O(operation=status),
    the release matrix of the status role (filter P(fleetops.release.release_matrix#filter)) into the C(data) of
    M(ansible.builtin.set_stats), under the keys C(fleetops_last_run) and C(fleetops_last_<operation>)
    (C(deploy), C(rollback), C(status); an automatic rollback is a rollback).
  - The summary has the run id, the operation, the operator (as the controller determined it), the outcome (C(ok),
    C(failed) or C(running); a status is C(ok) or C(degraded)), per region the hosts and the releases they came from
    and went to (a status, the region's current release), and the time to recover.
  - Under AWX these are the job's artifacts, passed to the later nodes of a workflow as extra variables; no role reads
    a C(fleetops_*) variable, so they never change what a later node does (docs/awx.md).
positional: _input
options:
  _input:
    description: The audit record or run report of a deploy or rollback; with O(operation=status) the release matrix.
    type: dict
    required: true
  operation:
    description: V(status) for a release matrix; else the operation is the record's own.
    type: str
  operator:
    description: With O(operation=status), the operator to put in the summary.
    type: dict
"""

EXAMPLES = r"""
- name: Publish the run's summary (AWX job artifacts)
  ansible.builtin.set_stats:
    data: "{{ fleet_audit_written.record | fleetops.release.run_stats }}"
    per_host: false
    aggregate: false
  run_once: true
"""

RETURN = r"""
_value:
  description: The C(data) of M(ansible.builtin.set_stats), the same summary under both keys.
  type: dict
  sample: {"fleetops_last_run": {"run_id": "20261126T210405Z-4821", "operation": "rollback",
           "operator": {"name": "bob", "source": "awx"}, "outcome": "ok", "time_to_recover_seconds": 8.8,
           "regions": {"eu": {"hosts": 2, "from": ["v2"], "to": ["v1"], "outcomes": {"switched": 2}}},
           "from_release": "v2", "to_release": "v1"},
           "fleetops_last_rollback": {}}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._run_stats import run_summary, stats_data, status_summary


def run_stats(data, operation=None, operator=None):
    if not isinstance(data, Mapping):
        raise AnsibleFilterError("run_stats: the input must be an audit record, a run report or (operation=status) a "
                                 "release matrix, got %r" % (data,))
    if operation not in (None, "", "status"):
        raise AnsibleFilterError("run_stats: operation may only be 'status' (a deploy's or rollback's operation is its "
                                 "record's own), got %r" % (operation,))
    if operation == "status":
        return stats_data(status_summary(dict(data), dict(operator) if isinstance(operator, Mapping) else None))
    return stats_data(run_summary(dict(data)))


class FilterModule:

    def filters(self):
        return {"run_stats": run_stats}

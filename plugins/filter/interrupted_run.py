# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: interrupted_run
short_description: Each host's rollback target after an interrupted run
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Takes every host's read (M(fleetops.release.release_info), or C(info) of M(fleetops.release.release_lock) with
    C(read)), keyed by host, and finds the run that last touched those hosts. When that run did not finish (a host has
    its switch or its pending operation but not its run line), returns what a rollback without a named release does
    about it; otherwise V(null).
  - An interrupted deploy is undone, each host back where that run found it (hosts it did not switch stay where they
    are). An interrupted rollback is finished, each host on the release it brought the others to.
positional: _input
options:
  _input:
    description: Host name to its read (with C(runs), C(current), C(bad), C(release_ids), C(rollback_target)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the targets once
  ansible.builtin.set_fact:
    interrupted: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, ['fleet_lock_taken', 'info'])))
                     | fleetops.release.interrupted_run }}"
  run_once: true
"""

RETURN = r"""
_value:
  description:
    - V(null) when the last run finished; else the run (C(run_id), C(operation)), the release an interrupted rollback
      is finished on (C(to), V(null) for a deploy) and each host's C(target) and C(reason) (C(target) V(null) when there
      is none).
  type: dict
  sample: {"run_id": "20261126T210405Z-4821", "operation": "deploy", "to": null,
           "targets": {"us-1": {"target": "r1", "reason": "where the interrupted deploy run 20261126T210405Z-4821 found this host"}}}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._release_store import interrupted_run_targets


def interrupted_run(reads):
    if not isinstance(reads, Mapping):
        raise AnsibleFilterError("interrupted_run: the input must map each host to its read, got %r" % (reads,))
    return interrupted_run_targets(dict(reads))


class FilterModule:

    def filters(self):
        return {"interrupted_run": interrupted_run}

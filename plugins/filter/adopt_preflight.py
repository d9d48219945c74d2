# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: adopt_preflight
short_description: Judge the read-only adoption results of a fleet's hosts together
version_added: 0.2.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - Takes each host's result of M(fleetops.release.release_adopt) in check mode and returns the hosts that must not be
    adopted, each with its problem - the host's own refusal (unknown layout, unknown order, a lock), or a disagreement
    with most hosts (another tool, another current release, releases missing that most hosts have). A host without a
    result (unreachable) is listed too.
  - An empty result means every host can be adopted.
positional: _input
options:
  _input:
    description: The hosts to judge.
    type: list
    elements: str
    required: true
  hostvars:
    description: The variables of each host (C(hostvars)); the result is read from O(result_var).
    type: dict
    required: true
  result_var:
    description: The variable each host registered the check-mode result of M(fleetops.release.release_adopt) in.
    type: str
    default: fleet_adopt_read
"""

EXAMPLES = r"""
- name: Refuse before anything is written when hosts disagree
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems }}"
  vars:
    problems: "{{ ansible_play_hosts_all | fleetops.release.adopt_preflight(hostvars) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Host -> problem, only for hosts with a problem.
  type: dict
  sample: {"eu-2": "current is 20240102120000, on most hosts 20240103120000"}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._adopt import judge


def adopt_preflight(hosts, hostvars, result_var="fleet_adopt_read"):
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("adopt_preflight: the input must be a list of host names, got %r" % (hosts,))
    reads = {}
    for host in hosts:
        try:
            variables = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("adopt_preflight: %r is not a host of the inventory" % (host,))
        read = variables.get(result_var)
        reads[str(host)] = dict(read) if isinstance(read, Mapping) else None
    return judge(reads)


class FilterModule:

    def filters(self):
        return {"adopt_preflight": adopt_preflight}

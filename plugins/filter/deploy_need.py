# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_need
short_description: What one host needs from a deploy, judged from its locked read
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - From what the host's preflight read under its lock (M(fleetops.release.release_lock) with
    O(fleetops.release.release_lock#module:read), its RV(fleetops.release.release_lock#module:info)), says which release
    the host comes from and whether a deploy of O(release) must put it live there.
  - A host needs the deploy when O(release) is not its current release, when an operation is unfinished there (a
    crashed run; it then started from the release the host had before it), or when its configuration changed
    (O(config_changed)).
  - The same rule as the run ledger's plan of C(playbooks/deploy.yml) (M(fleetops.release.run_ledger)), for one host;
    the C(main) entry point of role M(fleetops.release.deploy) uses it.
positional: _input, release
options:
  _input:
    description: The host's read (C(current), C(pending)).
    type: dict
    required: true
  release:
    description: The release being deployed.
    type: str
    required: true
  config_changed:
    description: Whether the host's unpack changed the release's configuration snapshot.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Say what the host needs
  ansible.builtin.set_fact:
    fleet_need: "{{ fleet_lock_taken.info | fleetops.release.deploy_need(fleet_release, fleet_deploy_snapshot is changed) }}"
"""

RETURN = r"""
_value:
  description: The release the host comes from (C(from), empty before its first release), the target (C(to)) and
    whether the deploy must put it live (C(needed)).
  type: dict
  sample: {"from": "v1", "to": "v2", "needed": true}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.module_utils._run_ledger import deploy_need as _deploy_need


def deploy_need(read, release, config_changed=False):
    if not isinstance(read, Mapping):
        raise AnsibleFilterError("deploy_need: the input must be the host's read (release_lock read: info), got %r" % (read,))
    if not isinstance(release, str) or not release:
        raise AnsibleFilterError("deploy_need: release must be the release id being deployed, got %r" % (release,))
    return _deploy_need(read, release, config_changed)


class FilterModule:

    def filters(self):
        return {"deploy_need": deploy_need}

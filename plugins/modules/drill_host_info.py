#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_host_info
short_description: Read what a drill compares on a host, its release and the digests of its configuration
version_added: 0.1.0
description:
  - Reads a host's release layout like M(fleetops.release.release_info) (current and previous release, the complete
    releases, an unfinished operation, the lock) and adds a digest of each configuration path in O(config_paths) (a
    directory with everything below it, each with its type, mode, owner, group, content or link target).
  - The digests are keyed (HMAC-SHA256) with O(digest_key), a key of one drill, so two reads of one drill compare and a
    digest never helps to guess the content of a secret file. No content or checksum of a file is returned.
  - Changes nothing and takes no lock.
extends_documentation_fragment:
  - fleetops.release.common
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
options:
  config_paths:
    description: Configuration paths to digest (files or directories; a missing path has a digest too).
    type: list
    elements: path
    default: []
  digest_key:
    description: The drill's key for the digests.
    type: str
    required: true
seealso:
  - module: fleetops.release.release_info
  - module: fleetops.release.drill_report
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the starting point of the drill on each host
  fleetops.release.drill_host_info:
    app_root: /srv/app
    config_paths: [/etc/shop/app.conf, /etc/shop/conf.d]
    digest_key: "{{ lookup('ansible.builtin.file', fleet_drill_plan.plan.digest_key_file) }}"
  register: fleet_drill_read
"""

RETURN = r"""
current:
  description: The release C(current) points at, or V(null).
  returned: always
  type: str
  sample: "2026.11.26-1"
previous:
  description: The release before it, or V(null).
  returned: always
  type: str
  sample: "2026.11.20-3"
release_ids:
  description: Ids of the complete releases, oldest first.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.20-3", "2026.11.26-1"]
pending:
  description: An unfinished operation, or V(null).
  returned: always
  type: dict
  sample: null
lock:
  description: The per-host lock, or V(null) when free.
  returned: always
  type: dict
  sample: null
bad:
  description: The releases marked bad on this host.
  returned: always
  type: list
  elements: str
  sample: ["2026.11.26-drill"]
config:
  description: Configuration path -> its keyed digest.
  returned: always
  type: dict
  sample: {"/etc/shop/app.conf": "5f1c0a..."}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import SnapshotError, walk_live
from ansible_collections.fleetops.release.plugins.module_utils._drill import config_digests
from ansible_collections.fleetops.release.plugins.module_utils._host_info import host_info
from ansible_collections.fleetops.release.plugins.module_utils._module_common import APP_ROOT_SPEC, argument_spec
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            APP_ROOT_SPEC,
            config_paths={"type": "list", "elements": "path", "default": []},
            digest_key={"type": "str", "required": True, "no_log": True},
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        info = host_info(params["app_root"])
        entries = dict((path, walk_live(path)[1]) for path in params["config_paths"])
    except (FleetError, SnapshotError, OSError) as exc:
        module.fail_json(msg="drill_host_info: %s" % exc)
    module.exit_json(changed=False, current=info["current"], previous=info["previous"], release_ids=info["release_ids"],
                     pending=info["pending"], lock=info["lock"], bad=sorted(info["bad"]), config=config_digests(entries, params["digest_key"]))


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/artifact_check.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact_check
short_description: Check a release artifact on the controller before anything is sent to a host
version_added: 0.1.0
description:
  - Runs on the controller only. Checks that the release artifact is a readable, non-empty regular file, that it is a
    tar archive (plain, gzip, bzip2 or xz), that its members would unpack safely, that their total size stays within
    O(max_unpacked), and that its sha256 equals O(sha256) when given. Fails with one message that names the artifact
    as given and what is wrong; nothing is sent to any host.
  - "The members are checked on the tree the archive would make, in archive order, with the rules
    M(fleetops.release.release) applies on the host: no absolute names or C(..) components, no devices, fifos or other
    special files, no symlink that leaves the release (also through symlinks the archive itself makes, such as
    C(a -> .) followed by C(esc -> a/a/../../..)), nothing written through a symlink, and hard links only to regular
    files unpacked before them."
  - The artifact is found the way M(fleetops.release.release) finds a controller-side artifact (a path, relative ones
    also in the C(files) directories of the role and the playbook), so the file checked is the file that is sent.
  - C(playbooks/deploy.yml) (role C(fleetops.release.deploy), entry point C(preflight)) runs it once, before any host
    is locked or changed.
extends_documentation_fragment:
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: full
    details: Reads a file on the controller only; check mode changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Has an action plugin that runs the task on the controller.
    support: full
    details: Runs on the controller only; it needs no connection to the host.
options:
  path:
    description:
      - The release artifact on the controller, as the operator gave it (C(fleet_artifact)).
    type: str
    required: true
    aliases: [artifact]
  sha256:
    description:
      - Expected sha256 of the artifact (64 hex digits, any case). A mismatch fails.
    type: str
  max_unpacked:
    description:
      - Largest total size in bytes of the archive's members. Defaults to 10 times the artifact's size, but at least
        4 GiB, as in M(fleetops.release.release). Must be positive.
    type: int
seealso:
  - module: fleetops.release.release
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the artifact before any host is touched
  fleetops.release.artifact_check:
    path: "{{ fleet_artifact }}"
    sha256: "{{ fleet_artifact_sha256 | default(omit, true) }}"
    max_unpacked: "{{ fleet_artifact_max_unpacked | default(omit) }}"
  run_once: true
  register: fleet_artifact_checked
"""

RETURN = r"""
artifact:
  description: The artifact as given (O(path)).
  returned: success
  type: str
  sample: dist/shop-2026.11.26-1.tar.gz
path:
  description: The file that was checked (the artifact as found on the controller).
  returned: success
  type: str
  sample: /home/alice/shop/dist/shop-2026.11.26-1.tar.gz
sha256:
  description: The artifact's sha256.
  returned: success
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
size:
  description: The artifact's size in bytes.
  returned: success
  type: int
  sample: 1048576
members:
  description: How many members the archive has.
  returned: success
  type: int
  sample: 412
unpacked_size:
  description: Total size in bytes of the archive's regular files, unpacked.
  returned: success
  type: int
  sample: 7340032
max_unpacked:
  description: The limit that was applied (O(max_unpacked), or the default).
  returned: success
  type: int
  sample: 4294967296
files:
  description: How many regular files the archive has.
  returned: success
  type: int
  sample: 380
directories:
  description: How many directory members the archive has.
  returned: success
  type: int
  sample: 30
symlinks:
  description: How many symlinks the archive has.
  returned: success
  type: int
  sample: 2
hardlinks:
  description: How many hard links the archive has.
  returned: success
  type: int
  sample: 0
"""

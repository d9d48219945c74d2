# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Which configuration is secret (SECRET_PATHS_SPEC and the Secrecy class in module_utils/_config_snapshot.py).
    DOCUMENTATION = r"""
options:
  secret_paths:
    description:
      - Configuration paths whose content is secret although others could read them, as absolute paths or glob
        patterns (C(*), C(?), C([...]); C(*) also matches C(/)). A directory listed here makes everything below it secret.
      - Whatever this list says, a path is secret when the file is not readable by others, or when a directory above it,
        up to C(/), is not readable and searchable by others (on the host, or as the snapshot records it). So a
        C(0644) file inside a C(0700) directory is secret.
      - "The content, size and checksum of a secret never appear in diffs, results or messages. A diff shows
        C(<secret: content not shown; sha256 changed>) or C(<secret: content not shown; sha256 unchanged>) instead."
      - In the playbooks of this collection it comes from the variable C(fleet_config_secret_paths).
    type: list
    elements: str
    default: []
"""

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Make the checkout importable as ``ansible_collections.fleetops.release`` for plain pytest runs."""

from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, "build", "collections")

if not os.path.basename(os.path.dirname(os.path.dirname(REPO))) == "ansible_collections":
    subprocess.run(["bash", os.path.join(REPO, "scripts", "link-collection.sh")], check=True)
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)

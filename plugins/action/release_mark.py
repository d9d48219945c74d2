# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_mark with the actor (who marked) determined on the controller, and, when the call also releases the host
lock (``unlock``), the lock's holder and the run line's actor and operation too (trust model:
plugin_utils/_identity.py)."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.plugin_utils._identity import IdentityAction


class ActionModule(IdentityAction):

    MODULE = "fleetops.release.release_mark"

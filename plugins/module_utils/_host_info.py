# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a host's release layout says about itself: the result of release_info, also returned by release_lock's read."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock, is_expired
from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseStore, utc_now


def host_info(app_root, release=None, allow_bad=False, history_lines=0):
    """Releases, state, lock, rollback target (``release`` names one to check) and the newest history lines."""
    store = ReleaseStore(app_root)
    status = store.status()
    releases = store.releases()
    for item in releases:
        item["current"] = item["id"] == status["current"]
        item["pinned"] = item["id"] in status["pinned"]
        item["bad"] = item["id"] in status["bad"]
    target, reason = store.rollback_target(release, allow_bad=allow_bad)
    lock = FileLock(store.lock_path).read()
    return {
        "exists": store.current() is not None or bool(releases),
        "current": status["current"],
        "previous": status["previous"],
        "releases": releases,
        "release_ids": [item["id"] for item in releases],
        "pinned": status["pinned"],
        "bad": status["bad"],
        "pending": status["pending"],
        "lock": lock,
        "lock_expired": bool(lock) and is_expired(lock, utc_now()),
        "rollback_target": target,
        "rollback_target_reason": reason,
        "history": store.history(limit=history_lines) if history_lines > 0 else [],
    }

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""release_lock (module): the process is kept in the lock, and break_gone breaks only the lock found gone."""

from __future__ import annotations

import json
import os

PROCESS = {"controller": "ops-1", "pid": 4242, "start": 9000, "boot_id": "boot-a", "pid_ns": "pid:[1]"}
DEAD = dict(PROCESS, pid=3131, start=1234)


def test_the_lock_keeps_the_process_and_break_gone_breaks_exactly_that_lock(run_module, tmp_path):
    path = str(tmp_path / "fleet.lock")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    held = {"holder": "bob@ops-1 run r1", "run_id": "r1", "since": "2026-11-26T18:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z", "process": DEAD}
    with open(path, "w") as handle:
        json.dump(held, handle)
    args = {"path": path, "holder": "alice@ops-1 run r2", "run_id": "r2", "ttl": 600, "process": PROCESS}
    refused = run_module("release_lock", args)
    assert refused["failed"] and refused["held"] == held
    other = run_module("release_lock", dict(args, break_gone={"run_id": "r1", "process": dict(DEAD, start=1)}))
    assert other["failed"] and json.load(open(path)) == held
    taken = run_module("release_lock", dict(args, break_gone={"run_id": "r1", "process": DEAD}))
    assert not taken.get("failed") and taken["broken"] == held
    assert json.load(open(path))["process"] == PROCESS and taken["lock"]["process"] == PROCESS

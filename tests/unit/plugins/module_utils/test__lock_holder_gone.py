# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When the holder of a lock is provably gone, and breaking exactly that lock (issue 14, section 5)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock, LockHeld, holder_gone

HERE = {"controller": "ops-1", "pid": 500, "start": 9000, "boot_id": "boot-a", "pid_ns": "pid:[1]"}


def lock_of(pid=4242, start=1234, controller="ops-1", boot_id="boot-a", pid_ns="pid:[1]", run_id="20261126T180000Z-1"):
    return {"holder": "bob@%s run %s" % (controller, run_id), "run_id": run_id, "since": "2026-11-26T18:00:00Z",
            "expires_at": "2099-01-01T00:00:00Z",
            "process": {"controller": controller, "pid": pid, "start": start, "boot_id": boot_id, "pid_ns": pid_ns}}


def probe(table):
    """A process table: {pid: start}; a pid that is not in it does not exist."""
    return lambda pid: (pid in table, table.get(pid))


def test_same_controller_and_a_dead_pid_is_gone():
    gone, why = holder_gone(lock_of(), HERE, probe({}))
    assert gone and "pid 4242" in why and "ops-1" in why and "gone" in why


def test_another_controller_is_never_gone():
    gone, why = holder_gone(lock_of(controller="ops-2"), HERE, probe({}))
    assert not gone and "ops-2" in why


def test_a_live_pid_with_the_recorded_start_is_not_gone():
    gone, why = holder_gone(lock_of(), HERE, probe({4242: 1234}))
    assert not gone and "running" in why


def test_a_reused_pid_with_another_start_time_is_gone():
    gone, why = holder_gone(lock_of(), HERE, probe({4242: 99999}))
    assert gone and "another process" in why


def test_a_live_pid_whose_start_cannot_be_read_is_not_gone():
    # Without /proc (a controller that is not Linux) a live pid cannot be told from a reused one: not proven.
    assert not holder_gone(lock_of(), HERE, probe({4242: None}))[0]


@pytest.mark.parametrize("changes", [{"boot_id": "boot-b"}, {"pid_ns": "pid:[2]"}])
def test_another_boot_or_pid_namespace_is_not_proof(changes):
    # Another boot (or a machine of the same name), or a container of the same name: its processes are not ours to see.
    assert not holder_gone(lock_of(**changes), HERE, probe({}))[0]


@pytest.mark.parametrize("lock", [
    {"holder": "bob run 1", "run_id": "1"},  # a lock from before the process was recorded
    dict(lock_of(), process={"controller": "ops-1"}),
    dict(lock_of(), process="ops-1:4242"),
])
def test_a_lock_without_a_usable_process_is_not_gone(lock):
    assert not holder_gone(lock, HERE, probe({}))[0]


def test_acquire_records_the_process_and_breaks_exactly_the_gone_lock(tmp_path):
    path = str(tmp_path / "lock")
    dead = lock_of()
    with open(path, "w") as handle:
        json.dump(dead, handle)
    lock = FileLock(path)
    with pytest.raises(LockHeld):
        lock.acquire("alice@ops-1 run r2", run_id="r2", process=HERE)
    # A gone lock of another run (or the same run id with another process) is not the one found gone: refused.
    with pytest.raises(LockHeld):
        lock.acquire("alice@ops-1 run r2", run_id="r2", process=HERE,
                     break_gone={"run_id": dead["run_id"], "process": dict(dead["process"], pid=1)})
    changed, record, broken = lock.acquire("alice@ops-1 run r2", run_id="r2", process=HERE,
                                           break_gone={"run_id": dead["run_id"], "process": dead["process"]})
    assert changed and broken == dead and record["broke"] == dead and record["process"] == HERE
    assert json.load(open(path))["holder"] == "alice@ops-1 run r2"

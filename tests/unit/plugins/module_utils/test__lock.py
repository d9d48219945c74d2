# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import os
import stat
import threading

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._lock import FileLock, LockHeld, describe, how_to_break
from ansible_collections.fleetops.release.plugins.module_utils._release_store import utc_now

LATER = datetime.timedelta(hours=2)


@pytest.fixture(name="lock")
def fixture_lock(tmp_path):
    return FileLock(str(tmp_path / ".fleet" / "lock"))


def test_take_and_release(lock):
    changed, record, broken = lock.acquire("alice", reason="deploy", ttl=60)
    assert changed and broken is None and record["holder"] == "alice" and record["expires_at"]
    assert lock.read()["reason"] == "deploy"
    assert lock.acquire("alice")[0] is False  # same holder: no change
    assert lock.release("alice")[0] is True
    assert lock.read() is None
    assert lock.release("alice")[0] is False


def test_second_holder_is_refused_with_first_holders_name(lock):
    record = lock.acquire("alice", reason="deploy v2", ttl=600)[1]
    with pytest.raises(LockHeld, match="alice.*deploy v2") as refused:
        lock.acquire("bob")
    assert refused.value.held == record  # the record the message describes, for a table of holders
    with pytest.raises(LockHeld, match="not by bob") as refused:
        lock.release("bob")
    assert refused.value.held == record
    assert lock.release("bob", force=True)[1]["holder"] == "alice"


def test_expired_lock_is_broken_only_when_told(lock):
    now = utc_now()
    lock.acquire("alice", ttl=60, now=now)
    with pytest.raises(LockHeld, match="expired"):
        lock.acquire("bob", now=now + LATER)
    changed, record, broken = lock.acquire("bob", break_expired=True, now=now + LATER)
    assert changed and broken["holder"] == "alice" and record["broke"]["holder"] == "alice"
    assert lock.read()["holder"] == "bob"


def test_unexpired_lock_is_never_broken(lock):
    lock.acquire("alice", ttl=0)
    with pytest.raises(LockHeld):
        lock.acquire("bob", break_expired=True, now=utc_now() + LATER * 100)


def test_check_mode_takes_nothing(lock):
    assert lock.acquire("alice", check_mode=True)[0]
    assert lock.read() is None


def test_exactly_one_of_many_concurrent_takers_wins(lock):
    winners = []
    errors = []
    barrier = threading.Barrier(8)

    def take(name):
        barrier.wait()
        try:
            lock.acquire(name)
            winners.append(name)
        except LockHeld:
            pass
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(repr(exc))

    threads = [threading.Thread(target=take, args=("holder%d" % i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(winners) == 1 and lock.read()["holder"] == winners[0]


def test_unreadable_lock_counts_as_held(lock):
    lock.acquire("alice")
    with open(lock.path, "w") as handle:
        handle.write("garbage")
    with pytest.raises(LockHeld, match="unreadable"):
        lock.acquire("bob")


def test_the_lock_of_a_named_run_is_broken_even_before_it_expires(lock):
    lock.acquire("alice run r1", ttl=3600, run_id="r1")
    with pytest.raises(LockHeld, match="locked by alice run r1"):
        lock.acquire("alice run r2", ttl=3600, run_id="r2", break_run="r0")
    changed, record, broken = lock.acquire("alice run r2", ttl=3600, run_id="r2", break_run="r1")
    assert changed and broken["run_id"] == "r1" and record["broke"]["holder"] == "alice run r1"
    assert lock.read()["holder"] == "alice run r2"


def test_a_held_lock_names_holder_run_reason_times_and_how_to_break_it(lock):
    now = utc_now()
    lock.acquire("alice run r1", reason="deploy v2", ttl=600, run_id="r1", now=now)
    with pytest.raises(LockHeld) as refused:
        lock.acquire("bob run r2", run_id="r2", now=now)
    message = str(refused.value)
    record = lock.read()
    assert "locked by alice run r1 (run r1, reason: deploy v2) since %s, expires %s" % (record["since"], record["expires_at"]) in message
    assert "break_run=r1 (fleet_break_lock_of_run=r1)" in message
    assert "once it has expired (%s), break it with break_expired=true (fleet_break_stale_lock=true)" % record["expires_at"] in message
    assert "state=absent force=true" in message


def test_a_lock_that_never_expires_and_has_no_run_can_only_be_released(lock):
    lock.acquire("alice", ttl=None)
    with pytest.raises(LockHeld) as refused:
        lock.acquire("bob")
    message = str(refused.value)
    assert "alice (reason: none given)" in message and "expires never" in message
    assert "break_run" not in message and "break_expired" not in message and "force=true" in message


def test_describe_and_how_to_break():
    assert describe({"holder": "a", "since": "S"}) == "a (reason: none given) since S, expires never"
    assert how_to_break({}) == "or release it with state=absent force=true once you are sure that run is gone"


def test_the_lock_directory_gets_the_given_mode(tmp_path):
    fleet = FileLock(str(tmp_path / "var" / "lib" / "fleetops" / "fleet.lock"), dir_mode=0o750)
    fleet.acquire("alice")
    assert stat.S_IMODE(os.stat(os.path.dirname(fleet.path)).st_mode) == 0o750
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    os.chmod(str(existing), 0o755)
    FileLock(str(existing / "fleet.lock"), dir_mode=0o750).acquire("alice")
    assert stat.S_IMODE(os.stat(str(existing)).st_mode) == 0o755  # an existing directory is left as it is


def test_check_mode_creates_no_directory(tmp_path):
    fleet = FileLock(str(tmp_path / "fleetops" / "fleet.lock"), dir_mode=0o750)
    assert fleet.acquire("alice", check_mode=True)[0]
    assert not os.path.exists(str(tmp_path / "fleetops"))


@pytest.mark.parametrize("how", ["expired", "run"])
def test_a_broken_lock_is_returned_and_kept_for_the_audit(lock, how):
    now = utc_now()
    lock.acquire("alice run r1", reason="deploy", ttl=60, run_id="r1", now=now)
    old = lock.read()
    kwargs = {"break_expired": True, "now": now + LATER} if how == "expired" else {"break_run": "r1", "now": now}
    changed, record, broken = lock.acquire("bob run r2", run_id="r2", **kwargs)
    assert changed and broken == old and lock.read()["broke"] == old and record["holder"] == "bob run r2"
    # Breaking is idempotent for the new holder: taking it again changes nothing and breaks nothing.
    assert lock.acquire("bob run r2", run_id="r2", **kwargs) == (False, lock.read(), None)

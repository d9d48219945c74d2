# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""rollout_control on real files (as root, the owner the control record must have): a run pauses, an operator
promotes, the run's poll takes it up; refusals change nothing; check mode writes nothing. And the wave_pause filter."""

from __future__ import annotations

import datetime
import json
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.wave_pause import FilterModule, wave_pause
from ansible_collections.fleetops.release.plugins.module_utils._rollout_control import ControlError
from ansible_collections.fleetops.release.plugins.modules import rollout_control

RUN_ID = "20270115T080000Z-1"
BOB = {"name": "bob", "source": "os"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the control record must be root's: run as root")


class FakeModule:
    def __init__(self, check_mode=False, **params):
        defaults = {"app_root": "/srv/app", "path": None, "lock_path": None, "run_id": None, "reason": None,
                    "operator": None, "controller": "ctl", "operation": None, "release": None, "wave": None,
                    "waves": None, "timeout": 3600, "on_timeout": "abort", "ttl": 0, "poll": 1, "interval": 0.1}
        self.params = dict(defaults, **params)
        self.check_mode = check_mode


@pytest.fixture(name="paths")
def fixture_paths(tmp_path):
    directory = tmp_path / "fleetops"
    directory.mkdir(mode=0o750)
    lock = directory / "fleet.lock"
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)
    lock.write_text(json.dumps({"holder": "alice@ctl run %s" % RUN_ID, "run_id": RUN_ID, "since": "2027-01-15T08:00:00Z",
                                "expires_at": soon.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    return {"path": str(directory / "fleet.control"), "lock_path": str(lock)}


def act(paths, action, check_mode=False, **params):
    return rollout_control.run(FakeModule(check_mode=check_mode, action=action, **dict(paths, **params)))


def test_pause_promote_and_the_poll_takes_it_up(paths):
    with pytest.raises(ControlError, match="no run is paused"):
        act(paths, "promote", operator=BOB)
    paused = act(paths, "pause", run_id=RUN_ID, wave=1, waves=3, operator={"name": "alice"}, ttl=7200, timeout=600)
    assert paused["record"]["state"] == "paused" and paused["status"]["paused"] and paused["lock_extended"]
    # The fleet-wide lock now lasts the 7200 s asked (it had 10 minutes left).
    assert paused["lock"]["expires_at"] > (datetime.datetime.now(datetime.timezone.utc)
                                           + datetime.timedelta(seconds=7000)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert act(paths, "wait", run_id=RUN_ID)["decision"] == "wait"
    # Check mode reports and writes nothing.
    assert act(paths, "promote", check_mode=True, operator=BOB)["record"]["state"] == "promote"
    assert act(paths, "read")["record"]["state"] == "paused"
    promoted = act(paths, "promote", operator=BOB, reason="fine")
    assert promoted["record"]["request"]["by"]["name"] == "bob"
    waited = act(paths, "wait", run_id=RUN_ID)
    assert waited["decision"] == "promote" and waited["decided"]["by_name"] == "bob" and waited["record"]["state"] == "promoted"
    with pytest.raises(ControlError, match="no run is paused"):
        act(paths, "abort", operator=BOB, reason="late")
    assert act(paths, "read")["record"]["state"] == "promoted"


def test_a_run_that_does_not_hold_the_fleet_lock_cannot_pause(paths):
    with pytest.raises(ControlError, match="not held by run 20270115T090000Z-2"):
        act(paths, "pause", run_id="20270115T090000Z-2", wave=1, waves=3)
    assert not os.path.exists(paths["path"])


def test_a_record_others_can_write_is_refused(paths):
    act(paths, "pause", run_id=RUN_ID, wave=1, waves=3)
    os.chmod(paths["path"], 0o666)
    with pytest.raises(ControlError, match="group- or other-writable"):
        act(paths, "promote", operator=BOB)


@pytest.mark.parametrize("value, wave, waves, expected", [
    (0, 0, 0, {"kind": "none", "seconds": 0, "any": False}),
    ("manual", 0, 0, {"kind": "none", "seconds": 0, "any": True}),
    ({"1": "manual"}, 1, 2, {"kind": "manual", "seconds": 0, "any": True}),
    (15, 1, 2, {"kind": "bake", "seconds": 15, "any": True}),
    (15, 2, 2, {"kind": "none", "seconds": 0, "any": True}),
])
def test_wave_pause_filter(value, wave, waves, expected):
    assert wave_pause(value, wave, waves) == expected
    assert FilterModule().filters()["wave_pause"] is wave_pause


def test_wave_pause_filter_says_what_is_wrong():
    with pytest.raises(AnsibleFilterError, match="wave_pause: fleet_wave_pause is 'often'"):
        wave_pause("often", 1, 2)

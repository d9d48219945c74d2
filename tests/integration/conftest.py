# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pytest fixtures of the integration tests: the local test fleet (tests/fleet/).

Environment:
  FLEET_SIZE       number of hosts of the session fleet (default 12)
  FLEET_STATE_DIR  its state directory (default /var/tmp/fleetops-fleet)
  FLEET_REUSE=1    use the fleet already running there when it has FLEET_SIZE hosts, instead of a fresh one
  FLEET_KEEP=1     leave the fleet running after the session (python3 tests/fleet/fleetctl.py down stops it)
  FLEET_ADDRESS_BASE, FLEET_LB_ADDRESS_BASE
                   first three octets of the hosts' and the LBs' loopback addresses (default 127.0.1 and
                   127.0.2), so that two fleets (with two state directories) can run side by side
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position


def pytest_configure(config):
    config.addinivalue_line("markers", "fleet: needs the local test fleet (root, sshd, haproxy; see tests/fleet/)")


@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    """The session's fleet, a fleetlib.Fleet: brought up once, taken down at the end."""
    size = int(os.environ.get("FLEET_SIZE", "12"))
    state_dir = fleetlib.state_dir_from_env()
    reused = os.environ.get("FLEET_REUSE") == "1" and fleetlib.fleet_is_up(state_dir, size)
    if not reused:
        bases = []
        for option, variable in (("--address-base", "FLEET_ADDRESS_BASE"), ("--lb-address-base", "FLEET_LB_ADDRESS_BASE")):
            if os.environ.get(variable):
                bases += [option, os.environ[variable]]
        result = fleetlib.run_fleetctl("up", str(size), *bases, state_dir=state_dir)
        sys.stderr.write(result.stdout)
    handle = fleetlib.Fleet(state_dir, release_dir=tmp_path_factory.mktemp("releases"))
    yield handle
    if os.environ.get("FLEET_KEEP") != "1":
        fleetlib.run_fleetctl("down", state_dir=state_dir)

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

Under pytest-xdist (`make test-fleet` runs FLEET_WORKERS workers, each module on one worker: --dist loadfile), each
worker has its own fleet: worker gwN (N > 0) uses FLEET_STATE_DIR-gwN and address bases whose third octet is N * 100
higher (127.0.101 and 127.0.102 for gw1 by default), so that no two workers share a host, a load balancer or a lock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position


def _shifted_base(base: str, offset: int) -> str:
    first, second, third = base.split(".")
    if int(third) + offset > 255:
        raise pytest.UsageError("address base %s leaves no room for pytest-xdist worker fleets (+%d): use a lower one" % (base, offset))
    return "%s.%s.%d" % (first, second, int(third) + offset)


def pytest_configure(config):
    config.addinivalue_line("markers", "fleet: needs the local test fleet (root, sshd, haproxy; see tests/fleet/)")
    # Set in the environment before any test module is imported: some read the address bases at import time, and the
    # playbooks and fleetctl they start inherit it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    if index > 0:
        os.environ["FLEET_STATE_DIR"] = "%s-%s" % (fleetlib.state_dir_from_env(), worker)
        for variable, default in (("FLEET_ADDRESS_BASE", fleetlib.DEFAULT_ADDRESS_BASE),
                                  ("FLEET_LB_ADDRESS_BASE", fleetlib.DEFAULT_LB_ADDRESS_BASE)):
            os.environ[variable] = _shifted_base(os.environ.get(variable) or default, 100 * index)


def _state_group(items) -> int:
    """0: the module starts from the base state (on_base); 2: from empty apps (empty_apps); 1: neither."""
    names = set().union(*(getattr(item, "fixturenames", ()) for item in items))
    return 0 if "on_base" in names else 2 if "empty_apps" in names else 1


def pytest_collection_modifyitems(session, config, items):  # pylint: disable=unused-argument
    """Run the modules that start from the base state one after the other first, then those that need no particular
    state, then those that start from empty apps (each group in file order): a module's base state is then put back
    from the one before it, which changed only some hosts (often one region), and restore_checkpoint puts back only
    the hosts that differ; after an empty-apps module it would have to restore every host."""
    modules = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    order = {path: (_state_group(group), index) for index, (path, group) in enumerate(modules.items())}
    items.sort(key=lambda item: order[item.nodeid.split("::")[0]])


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


# The base state most test modules start from: every host on base-2 with base-1 before it (so that a rollback has a
# target), in rotation, unlocked. deploy.yml puts it there once per session, from an empty /srv/app (the product's own
# deploy, end to end, first release included); the harness saves it as a checkpoint and each module that needs it gets
# it back in a few seconds (a copy of each host's /srv/app and /etc/fleetapp, a restart by fleetapp-ctl, then every
# host verified on base-2 and UP in its HAProxy) instead of one or two full 12-host deploys of its own.
BASE_RELEASES = ("base-1", "base-2")
BASE = BASE_RELEASES[-1]


@pytest.fixture(scope="session")
def base_artifacts(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in BASE_RELEASES}


@pytest.fixture(scope="session")
def base_checkpoint(fleet, base_artifacts):
    """Deploy base-1 then base-2 with deploy.yml on the whole fleet (once) and save the result as checkpoint 'base'."""
    fleet.wipe_apps()
    for release_id in BASE_RELEASES:
        path, sha = base_artifacts[release_id]
        proc = fleet.ansible_playbook(fleetlib.REPO_ROOT / "playbooks" / "deploy.yml",
                                      extra_vars={"fleet_release": release_id, "fleet_artifact": str(path), "fleet_artifact_sha256": sha})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    fleet.save_checkpoint("base")
    return "base"


@pytest.fixture(scope="module")
def on_base(fleet, base_checkpoint):
    """The module starts with every host on base-2 (base-1 before it), in rotation, unlocked: see BASE_RELEASES."""
    fleet.restore_checkpoint(base_checkpoint, BASE)
    return BASE


@pytest.fixture(scope="module")
def empty_apps(fleet):
    """The module starts with no /srv/app (and no fleet lock) on any host, whatever the modules before it left."""
    fleet.wipe_apps()


@pytest.fixture(scope="module")
def one_region(fleet):
    """The session fleet seen through an inventory of its first region only (4 of its 12 hosts; fleetlib Fleet.view):
    for modules whose point does not depend on the number of regions, so that each of their many runs costs what 4
    hosts cost. The waves tests and the tests of regions keep the whole fleet."""
    return fleet.view([fleet.regions[0]])

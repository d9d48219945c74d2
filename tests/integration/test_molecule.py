# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The molecule scenarios of extensions/molecule/ (roles deploy and rollback) against the session's test fleet.

One full cycle, ``molecule test -s rollback``, from the repository root with FLEET_STATE_DIR pointing at the session
fleet (extensions/molecule/config.yml reads the fleet's inventory from there): its prepare step converges role
deploy on every host twice (mol-1, then mol-2), its converge rolls back with role rollback, then idempotence and
verify (the shared verify tasks of both scenarios).  The test checks that molecule reported those steps as
successful, and looks at the fleet itself: every app answers the expected release and every server is UP in its
region's HAProxy.  In make test-fleet the cycle runs against one region of the session fleet (fleetlib's
Fleet.view: an inventory of that region's 4 hosts, FLEET_STATE_DIR pointing at it): the point is the scenarios and
the roles' entry points, whose work across 3 regions the playbook tests prove; its five runs then cost what 4 hosts
cost instead of 12.  ``make molecule`` runs against the whole fleet.

The deploy scenario gets the lighter ``molecule syntax`` (its playbooks parse against the fleet's inventory): a
second full cycle would deploy mol-1 again with the role its prepare step runs, and a second run of a deploy
changing nothing is tested on the playbooks (test_waves.py::test_second_run_of_a_deploy_changes_nothing).  ``make molecule`` (FLEET_MOLECULE_ALL=1) runs both
scenarios in full.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fleetlib

# Every host starts without /srv/app, whatever the modules before left (conftest.py empty_apps).
pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("empty_apps")]

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Below the --timeout of make test-fleet (600 s), so that a hung run still shows molecule's output.
MOLECULE_TIMEOUT = 540
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STEPS_THAT_MUST_PASS = ("create", "prepare", "converge", "idempotence", "verify")


def run_molecule(fleet, scenario: str, ephemeral_dir: Path, action: str = "test") -> str:
    """Run ``molecule <action> -s <scenario>`` against the fleet; return its output without colours (fails the test on rc != 0).

    A fresh ephemeral directory per run: molecule keeps its state (created, prepared, ...) there, and a run killed
    half-way would otherwise make the next one skip its prepare step.
    """
    # The directory of the (whole or view) inventory: molecule reads only $FLEET_STATE_DIR/inventory.yml.
    env = dict(os.environ, FLEET_STATE_DIR=str(fleet.inventory.parent), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
               MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral_dir), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [str(VENV_BIN / "molecule"), action, "-s", scenario]
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=MOLECULE_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode("utf-8", "replace") + (exc.stderr or b"").decode("utf-8", "replace")
        pytest.fail(f"molecule {action} -s {scenario} ran longer than {MOLECULE_TIMEOUT} s:\n{output[-6000:]}")
    output = ANSI_ESCAPE.sub("", proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"molecule {action} -s {scenario} failed (exit {proc.returncode}):\n{output[-8000:]}"
    return output


def assert_steps_passed(output: str, scenario: str) -> None:
    """Each step is listed as successful in molecule's closing summary ("deploy > verify: Executed: Successful";
    another arrow with colours)."""
    for step in STEPS_THAT_MUST_PASS:
        assert re.search(rf"^{scenario} \S+ {step}: Executed: Successful$", output, re.M), \
            f"molecule did not report step {step} of scenario {scenario} as successful:\n{output[-8000:]}"


def assert_fleet_on(fleet, release: str) -> None:
    """Every app answers `release` and every server is UP in its region's load balancer."""
    for host in fleet.hosts:
        status, body = fleetlib.http_get(fleet.app_url(host.name, "/health"))
        assert status == 200 and json.loads(body)["release"] == release, f"{host.name}: /health answers {status} {body}"
    for region in fleet.regions:
        servers = fleet.lb_servers(region)
        assert set(servers.values()) == {"UP"}, f"region {region}: servers {servers}"


def test_molecule_deploy_scenario_syntax(fleet, tmp_path):
    output = run_molecule(fleet, "deploy", tmp_path, action="syntax")
    assert re.search(r"^deploy \S+ syntax: Executed: Successful$", output, re.M), output[-8000:]
    # molecule syntax reads converge.yml only: the scenario's other playbooks too.
    scenario = REPO_ROOT / "extensions" / "molecule" / "deploy"
    for playbook in ("prepare.yml", "verify.yml"):
        proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "--syntax-check", "-i", str(fleet.inventory), str(scenario / playbook)],
                              cwd=REPO_ROOT, env=dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg")),
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{playbook}: {proc.stdout}{proc.stderr}"
    # A syntax check changes nothing on the fleet.
    for host in fleet.hosts:
        assert not fleet.host_path(host.name, "/srv/app/releases/mol-1").exists(), f"{host.name} got mol-1 from a syntax check"


@pytest.mark.skipif(os.environ.get("FLEET_MOLECULE_ALL") != "1", reason="the full deploy cycle runs with make molecule")
def test_molecule_deploy_scenario(fleet, tmp_path):
    output = run_molecule(fleet, "deploy", tmp_path)
    assert_steps_passed(output, "deploy")
    assert_fleet_on(fleet, "mol-1")


def test_molecule_rollback_scenario(fleet, tmp_path):
    scope = fleet if os.environ.get("FLEET_MOLECULE_ALL") == "1" else fleet.view([fleet.regions[0]])
    output = run_molecule(scope, "rollback", tmp_path)
    assert_steps_passed(output, "rollback")
    assert_fleet_on(scope, "mol-1")
    # The prepare step really deployed mol-2 before the rollback, on every host of the scenario's inventory and on no other.
    for host in fleet.hosts:
        assert fleet.host_path(host.name, "/srv/app/releases/mol-2").is_dir() == (host in scope.hosts), f"{host.name}: mol-2"

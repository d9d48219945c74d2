# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/status.yml on the test fleet: the release matrix by region marks the host that runs another release
than its region, as a table and as JSON, and changes nothing."""

from __future__ import annotations

import json

import pytest

import fleetlib

pytestmark = pytest.mark.fleet

STATUS = fleetlib.REPO_ROOT / "playbooks" / "status.yml"


def put_on(fleet, pattern, release_id):
    """Create the release and point current at it (no restart: the status reads the release store, not the app)."""
    path, sha = fleet.build_release(release_id)
    for module, args in (("fleetops.release.release", {"release": release_id, "artifact": str(path), "sha256": sha}),
                         ("fleetops.release.release_switch", {"release": release_id})):
        results, proc = fleet.ansible_module(pattern, module, args)
        assert all(not result.get("failed") for result in results.values()), proc.stdout + proc.stderr


def test_status_marks_the_host_that_disagrees_with_its_region(fleet, tmp_path):
    region = next((name for name in fleet.regions if len(fleet.hosts_in(name)) >= 3), None)
    if region is None:
        pytest.skip("needs a region of 3 hosts or more (a 2-host region with two releases is split, not one odd host)")
    put_on(fleet, "fleet", "st-1")
    odd = fleet.hosts_in(region)[1].name
    put_on(fleet, odd, "st-2")

    proc = fleet.ansible_playbook(STATUS)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    marked = [line.split()[1] for line in out.splitlines() if line.strip().startswith("! ") and not line.strip().startswith("! =")]
    assert marked == [odd], out
    assert "region %s: st-1 x%d, st-2 x1" % (region, len(fleet.hosts_in(region)) - 1) in out, out
    # Read-only: the recap shows no change on any host.
    assert "changed=0" in out and "changed=1" not in out, out

    document = tmp_path / "status.json"
    proc = fleet.ansible_playbook(STATUS, extra_vars={"fleet_status_format": "json", "fleet_status_file": str(document)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    matrix = json.loads(document.read_text())
    assert matrix["disagreeing"] == [odd]
    rows = {row["host"]: row for row in matrix["hosts"]}
    assert set(rows) == {host.name for host in fleet.hosts}
    assert rows[odd]["current"] == "st-2" and rows[odd]["previous"] == "st-1" and rows[odd]["reachable"]
    assert {row["lb"] for row in rows.values()} <= {"ready", "drain", "maint"}

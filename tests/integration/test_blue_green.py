# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""fleet_strategy=blue_green with the real playbooks on a second, blue/green test fleet (each region's HAProxy picks
app_blue or app_green through a map): deploy prepares the idle pool and flips, rollback flips back, both under
continuous requests through every region's load balancer with no failed request.  Then lb_pool_flip itself (what
the playbooks flip with) on one region's HAProxy of that fleet: the suite's one blue/green flip fleet, which used to
be tested three times (here, in test_lb_pool.py on an extra LB, and in the harness test test_fleet.py)."""

from __future__ import annotations

import json
import os
import time

import pytest

import fleetlib
from load import RequestLoad
from test_lb_pool import all_up, run_module, wait_for

pytestmark = pytest.mark.fleet

REPO = fleetlib.REPO_ROOT
ADDRESS_BASE = os.environ.get("FLEET_ADDRESS_BASE") or fleetlib.DEFAULT_ADDRESS_BASE
LB_ADDRESS_BASE = os.environ.get("FLEET_LB_ADDRESS_BASE") or fleetlib.DEFAULT_LB_ADDRESS_BASE
# The session fleet's two address ranges swapped and another ssh port, like the other second fleets of the suite.
SECOND_FLEET = ("--ssh-port", "2222", "--address-base", LB_ADDRESS_BASE, "--lb-address-base", ADDRESS_BASE)


@pytest.fixture(scope="module", name="bg")
def fixture_blue_green_fleet(fleet, tmp_path_factory):  # pylint: disable=unused-argument
    """A 6-host blue/green fleet (us-1/eu-1/ap-1 blue, us-2/eu-2/ap-2 green), after the session fleet is up."""
    tmp = tmp_path_factory.mktemp("blue-green")
    state = tmp / "state"
    fleetlib.run_fleetctl("up", "6", "--blue-green", *SECOND_FLEET, state_dir=state)
    try:
        yield fleetlib.Fleet(state, release_dir=tmp / "releases")
    finally:
        fleetlib.run_fleetctl("down", state_dir=state)


def run(bg, playbook, **extra_vars):
    proc = bg.ansible_playbook(REPO / "playbooks" / playbook, extra_vars=extra_vars or None, timeout=600)
    return proc, proc.stdout + proc.stderr


def deploy(bg, release_id):
    path, sha = bg.build_release(release_id)
    return run(bg, "deploy.yml", fleet_release=release_id, fleet_artifact=str(path), fleet_artifact_sha256=sha)


def served(bg):
    """{region: set of 'release on host'} answered through each region's LB."""
    seen = {}
    for region in bg.regions:
        answers = set()
        for dummy in range(6):
            status, body = fleetlib.http_get(bg.lb_url(region), timeout=10)
            assert status == 200, body
            answers.add(body.strip())
        seen[region] = answers
    return seen


def test_deploy_flips_to_the_prepared_pool_and_rollback_flips_back_without_failed_requests(bg):
    urls = [bg.lb_url(region) for region in bg.regions]
    proc, out = deploy(bg, "g1")  # the green pool gets g1 and starts serving; blue stays empty
    assert proc.returncode == 0, out
    assert {region: bg.lb_active_pool(region) for region in bg.regions} == dict.fromkeys(bg.regions, "app_green")

    with RequestLoad(urls, threads=3) as load:
        proc, out = deploy(bg, "g2")
    assert proc.returncode == 0, out
    assert not load.failures, (load.summary(), load.failures[:5])
    assert load.ok > 20 and {"g1", "g2"} >= load.releases_seen() >= {"g2"}
    assert {region: bg.lb_active_pool(region) for region in bg.regions} == dict.fromkeys(bg.regions, "app_blue")
    assert served(bg) == {region: {f"release g2 on {region}-1"} for region in bg.regions}
    assert "serving now" in out and "idle now" in out

    with RequestLoad(urls, threads=3) as load:
        proc, out = run(bg, "rollback.yml", fleet_reason="g2 is bad")
    assert proc.returncode == 0, out
    assert not load.failures, (load.summary(), load.failures[:5])
    assert served(bg) == {region: {f"release g1 on {region}-2"} for region in bg.regions}
    # The flip back touched no host: the blue pool still runs g2, idle, for a roll forward.
    for region in bg.regions:
        assert fleetlib.http_get(bg.app_url(f"{region}-1", "/health"))[1].count('"release": "g2"') == 1
    # Like a rolling rollback, it marks the release it left known-bad, on the hosts that have it (the blue pool).
    for host in [host for host in bg.hosts if host.name.endswith("-1")]:
        mark = json.loads(bg.host_path(host.name, "/srv/app/.fleet/state.json").read_text())["bad"].get("g2")
        assert mark and mark["reason"] == "g2 is bad" and mark["run_id"], (host.name, mark)
    # Every host's part of the run is closed: lock released, run line with its outcome, in its mark call (release_mark
    # unlock; every host has g2 installed), so the run's unlock play has no host left.
    for host in bg.hosts:
        assert not bg.host_path(host.name, "/srv/app/.fleet/lock").exists(), host.name
        lines = bg.host_path(host.name, "/srv/app/.fleet/history.jsonl").read_text().splitlines()
        last = json.loads(lines[-1])
        assert (last["event"], last["run_id"], last["outcome"]) == (
            "run", mark["run_id"], "idle now" if host.name.endswith("-1") else "serving now"), (host.name, last)
    unlock_play = out[out.index("PLAY [Roll back - unlock the hosts still locked]"):out.index("PLAY [Roll back - audit")]
    assert "no hosts matched" in unlock_play, unlock_play
    # The report says how long the rollback took to recover, and counts the regions it flipped.
    assert "time to recover:" in out, out


def test_a_flip_back_that_would_not_restore_one_release_is_refused(bg):
    before = {region: bg.lb_active_pool(region) for region in bg.regions}
    # Green serves g1, whose previous release is none; blue (idle) runs g2: no flip back can restore anything.
    proc, out = run(bg, "rollback.yml")
    assert proc.returncode != 0
    assert "Blue/green rollback refused; nothing was changed" in out, out
    assert {region: bg.lb_active_pool(region) for region in bg.regions} == before


def test_lb_pool_flip_of_a_region_under_requests_and_its_refusals(bg):
    """lb_pool_flip on a region's HAProxy, after the deploys above (both pools run an app): check mode, a flip and back
    under requests with no failure, idempotence, a reload that saves nothing keeps the flip (the map file), a pool that
    cannot take the traffic and an unknown pool are refused and change nothing."""
    region = bg.regions[0]
    socket, map_file = bg.lb_socket(region), bg.lb_map(region)
    pools = {pool: set(hosts) for pool, hosts in bg.lb_backends(region).items()}
    assert set(pools) == {"app_blue", "app_green"} and all(pools.values()), pools
    for pool in pools:
        wait_for(lambda p=pool: all_up(socket, p), what=f"{pool} UP in the {region} LB")
    active = bg.lb_active_pool(region)
    idle = next(pool for pool in pools if pool != active)
    url = bg.lb_url(region)
    args = {"socket": socket, "map": map_file, "key": "active", "pools": ["app_blue", "app_green"]}

    def serving():
        hosts = set()
        for dummy in range(6):
            status, body = fleetlib.http_get(url, timeout=5)
            assert status == 200, body
            hosts.add(body.split(" on ")[-1].strip())
        return hosts

    def map_says():
        with open(map_file, encoding="utf-8") as handle:
            return handle.read()

    assert serving() <= pools[active]
    result, failed, out = run_module("lb_pool_flip", dict(args, pool=idle), check=True)
    assert not failed and result["changed"] and result["previous"] == active, out
    assert serving() <= pools[active] and map_says() == f"active {active}\n"

    with RequestLoad([url], threads=4) as load:
        time.sleep(0.3)
        result, failed, out = run_module("lb_pool_flip", dict(args, pool=idle), diff=True)
        assert not failed and result["changed"] and (result["previous"], result["active"]) == (active, idle), out
        time.sleep(0.5)
        assert serving() <= pools[idle]
        back, failed, out = run_module("lb_pool_flip", dict(args, pool=result["previous"]))
        assert not failed and back["previous"] == idle, out
        time.sleep(0.5)
        assert serving() <= pools[active]
        result, failed, out = run_module("lb_pool_flip", dict(args, pool=idle))
        assert not failed and result["changed"], out
        time.sleep(0.3)
    assert load.ok > 30 and not load.failures, (load.summary(), load.failures[:5])
    assert load.hosts_seen() == pools[active] | pools[idle]

    again, failed, out = run_module("lb_pool_flip", dict(args, pool=idle))
    assert not failed and not again["changed"] and again["previous"] == idle, out
    assert map_says() == f"active {idle}\n"
    # A reload that saves nothing itself: only the map file lb_pool_flip wrote can keep the flip.
    bg.lb_reload_node(region, save_state=False)
    assert f"active {idle}" in fleetlib.haproxy_command(socket, f"show map {map_file}")
    assert serving() <= pools[idle]

    # A pool that cannot take the traffic (here every server in maintenance) is refused, and nothing changes.
    for name in pools[active]:
        fleetlib.haproxy_command(socket, f"set server {active}/{name} state maint")
    try:
        result, failed, out = run_module("lb_pool_flip", dict(args, pool=active, ready_timeout=0.5))
        assert failed and f"pool {active} cannot take the traffic" in result["msg"] and "no server in rotation" in result["msg"], out
        assert map_says() == f"active {idle}\n" and serving() <= pools[idle]
    finally:
        for name in pools[active]:
            fleetlib.haproxy_command(socket, f"set server {active}/{name} state ready")

    result, failed, out = run_module("lb_pool_flip", dict(args, pool="app_red"))
    assert failed and "app_red" in result["msg"]
    result, failed, out = run_module("lb_pool_flip", {"socket": socket, "map": map_file, "key": "active", "pool": "app_red"})
    assert failed and "unknown backend 'app_red'" in result["msg"]
    assert map_says() == f"active {idle}\n" and serving() <= pools[idle]

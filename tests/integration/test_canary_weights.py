# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Traffic-weighted canaries (issue 19, fleet_canary_weights): with [10, 100] the canary of one region holds at 10% of
its configured weight (a manual step pause), and the share of the test's own requests through the region's HAProxy
that the canary answers is near its expected share; a reload of that HAProxy keeps the weight (the server-state file
lb_pool wrote); promote.yml steps it up to full weight. No request fails throughout. A canary that fails its gate
goes back at full weight with the revert; a host an interrupted run left at a reduced weight is put back by the next
run; bad weights are refused before anything changes.

One region (conftest.py one_region: each run costs what its hosts cost), from the session's base state.
"""

from __future__ import annotations

import pytest

import fleetlib
from load import RequestLoad, release_and_host
from test_release_lifecycle import DEPLOY, currents, names, play
from test_rollout_control import PROMOTE, audit_records, finish, wait_paused
from test_waves import assert_load_clean, plan, start_deploy, summary

pytestmark = pytest.mark.fleet

WEIGHTS = [10, 100]
# One canary per region, held at its first weight until the test promotes it (the control record read every 2 s).
WEIGHTED = {"fleet_waves": [1, "100%"], "fleet_canary_weights": WEIGHTS, "fleet_canary_step_pause": "manual",
            "fleet_wave_pause_poll": 2}
# Requests the test sends through the load balancer per measurement (sequential, ~1 s).
REQUESTS = 400
# Tolerance: 4 binomial standard deviations of the share over REQUESTS requests (p = 0.0909: +-0.058). HAProxy's
# weighted round-robin is deterministic, so the share seen is within a request or two of the expected one; the bound
# only has to tell 10% from the 50% an unweighted canary would get, and never flake.
SIGMAS = 4.0


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet, base_artifacts):
    built = dict(base_artifacts)
    built["wc-1"] = fleet.build_release("wc-1")
    built["wc-bad"] = fleet.build_release("wc-bad", error_rate=1.0)  # /health stays ok; every other request 500s
    return built


def server_weights(fleet, region):
    """{server: weight} as the region's HAProxy serves it (srv_uweight of its runtime API's show servers state)."""
    rows = [line.split() for line in fleet.lb_command(region, "show servers state %s" % fleetlib.LB_BACKEND).splitlines()[2:]]
    return {fields[3]: int(fields[7]) for fields in rows if len(fields) > 8}


def expected_share(canary_weight, peer_weights):
    """HAProxy roundrobin: each server's share of requests is its weight over the sum of the backend's weights."""
    return canary_weight / (canary_weight + sum(peer_weights))


def share_bounds(share, requests=REQUESTS):
    spread = SIGMAS * (share * (1.0 - share) / requests) ** 0.5
    return share - spread, share + spread


def canary_share(fleet, region, canary):
    """The share of REQUESTS sequential GETs of / through the region's load balancer that the canary answered (the app
    names its host in each answer); every request must be answered 200."""
    answered_by = []
    while len(answered_by) < REQUESTS:
        status, body = fleetlib.http_get(fleet.lb_url(region), timeout=10)
        assert status == 200, body
        answered_by.append(release_and_host(body)[1])
    return answered_by.count(canary) / len(answered_by)


def assert_share(fleet, region, canary, weights):
    expected = expected_share(weights[canary], [weight for server, weight in weights.items() if server != canary])
    low, high = share_bounds(expected)
    seen = canary_share(fleet, region, canary)
    assert low <= seen <= high, "canary %s answered %.3f of %d requests, expected %.3f (%.3f..%.3f) with weights %s" % (
        canary, seen, REQUESTS, expected, low, high, weights)


def promote(fleet, proc, log, reason):
    """promote.yml from another process; then the held deploy's exit code and output once it ended."""
    promoted, out = play(fleet, PROMOTE, extra_vars={"fleet_reason": reason})
    assert promoted.returncode == 0, out
    return finish(proc, log)


def deploy_vars(releases, release_id, extra):
    path, sha = releases[release_id]
    return dict({"fleet_release": release_id, "fleet_artifact": str(path), "fleet_artifact_sha256": sha}, **extra)


def test_weighted_canary_holds_its_share_over_a_reload_then_steps_up(fleet, releases, on_base, one_region):  # pylint: disable=unused-argument
    view = one_region
    region = view.regions[0]
    canary = plan(view, waves=[1, "100%"])[0]["hosts"][0]
    full = server_weights(view, region)
    assert set(full.values()) == {fleetlib.REGION_SERVER_WEIGHT}, full
    with RequestLoad([view.lb_url(region)], path="/health") as load:
        proc, log = start_deploy(view, releases, "wc-1", WEIGHTED)
        try:
            record = wait_paused(view, proc, log.name)
            # Held at the first step: the canary at 10% of its configured weight, its peers untouched.
            held = server_weights(view, region)
            assert held == dict(full, **{canary: full[canary] * WEIGHTS[0] // 100}), held
            assert currents(view)[canary] == "wc-1"
            assert_share(view, region, canary, held)
            # A reload that saves nothing itself: only the server-state file lb_pool wrote keeps the weight.
            view.lb_reload_node(region, save_state=False)
            assert server_weights(view, region) == held
            assert_share(view, region, canary, held)

            code, out = promote(view, proc, log, "canary at 10% looks fine")
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, out
    assert_load_clean(load)
    assert "weighted canaries: wave 1 enters rotation at 10%, then 100%" in out, out
    assert set(currents(view).values()) == {"wc-1"}
    after = server_weights(view, region)
    assert after == full, after
    assert_share(view, region, canary, after)
    run = [line for line in audit_records(view, record["run_id"]) if line.get("event", "run") == "run"][-1]
    steps = [(step["percent"], step["region"], step["hosts"], step.get("passed")) for step in run["canary_steps"]]
    assert steps == [(10, region, [canary], None), (100, region, [canary], True)], run["canary_steps"]
    assert run["canary"]["weights"] == {"1": WEIGHTS} and run["pauses"][0]["decision"] == "promote", run


def test_failing_canary_goes_back_at_full_weight_and_leftover_weights_converge(fleet, releases, one_region):
    view = one_region
    region = view.regions[0]
    before = currents(view)
    assert set(before.values()) == {"wc-1"}, before
    full = server_weights(view, region)
    canary = plan(view, waves=[1, "100%"])[0]["hosts"][0]
    gate = {"rate": 20, "duration": 6, "window": 2, "max_error_rate": 0.02, "sustained_for": 1, "min_samples": 10}
    with RequestLoad([view.lb_url(region)], path="/health") as load:
        proc, out = play(view, DEPLOY, extra_vars=deploy_vars(releases, "wc-bad", {
            "fleet_waves": [1, "100%"], "fleet_canary_weights": WEIGHTS, "fleet_traffic_gate": gate,
            "fleet_allow_bad_release": True}))  # marked known-bad by its revert: a re-run on a kept fleet deploys it again
    assert proc.returncode != 0, out
    assert_load_clean(load)
    rows = summary(out)
    assert {name for name, row in rows.items() if row["outcome"] == "reverted"} == {canary}, rows
    assert currents(view) == before and server_weights(view, region) == full

    # A run killed at a reduced step leaves its canary there: the next run finds it, plans it (on its target
    # already: only to put it back) and puts it back at full weight.
    reduced = names(view)[-1]
    view.lb_command(region, "set weight %s/%s 10" % (fleetlib.LB_BACKEND, reduced))
    proc, out = play(view, DEPLOY, extra_vars=deploy_vars(releases, "wc-1", {"fleet_waves": ["100%"]}))
    assert proc.returncode == 0, out
    assert summary(out)[reduced]["outcome"] == "back in rotation", out
    assert server_weights(view, region) == full


def test_bad_weights_are_refused_before_anything_changes(fleet, releases, one_region):  # pylint: disable=unused-argument
    view = one_region
    before = currents(view)
    proc, out = play(view, DEPLOY, extra_vars=deploy_vars(releases, "wc-bad", {
        "fleet_canary_weights": {"1": [10, 5, 100], "2": [0, 100], "3": [25, 50]}}))
    assert proc.returncode != 0, out
    assert "deploy refused before any change; nothing was changed" in out, out
    for problem in ("the steps must be strictly increasing (10 is followed by 5)", "fleet_canary_weights[2][0] is 0",
                    "fleet_canary_weights[3] is [25, 50]: the last step must be 100"):
        assert problem in out, out
    assert currents(view) == before
    assert not view.host_path(names(view)[0], "/srv/fleetops/fleet.lock").exists()

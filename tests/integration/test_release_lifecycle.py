# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release lifecycle over real SSH against the test fleet: deploy.yml, rollback.yml and the modules.

The tests run on one region of the fleet (conftest.py one_region: 4 hosts, waves of 1, 1 and 2): a release's
lifecycle on a host (first deploy, rollback, marks, check mode, locks, become, paramiko, the modules) is the same in
one region as in three, and each of the module's two dozen runs then costs a third of the hosts. The first deploy of
the whole fleet from an empty /srv/app, over three regions, is the session's base state (conftest.py base_checkpoint);
waves over several regions are test_waves.py's.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import json
import os
import re
import shutil
import threading
import urllib.request

import pytest

# Every host starts without /srv/app, whatever the modules before left (conftest.py empty_apps).
pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("empty_apps")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "playbooks", "deploy.yml")
ROLLBACK = os.path.join(REPO, "playbooks", "rollback.yml")


# -- helpers ------------------------------------------------------------------------------------------

def adhoc(fleet, pattern, module, args=None, check=False, extra=(), env=None):
    """Run one module on ``pattern`` over SSH; returns ({host: result}, CompletedProcess)."""
    return fleet.ansible_module(pattern, module, args, *extra, check=check, env=env)


def play(fleet, playbook, **kwargs):
    proc = fleet.ansible_playbook(playbook, **kwargs)
    return proc, proc.stdout + proc.stderr


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    rows = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        rows[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return rows


def health(fleet, host):
    with urllib.request.urlopen("http://%s:8000/health" % host_by_name(fleet, host)["address"], timeout=5) as answer:
        return json.loads(answer.read().decode())


def host_by_name(fleet, name):
    return next(host for host in fleet_hosts(fleet) if host["name"] == name)


def fleet_hosts(fleet):
    return [host if isinstance(host, dict) else host.as_dict() for host in fleet.hosts]


def names(fleet):
    return [host["name"] for host in fleet_hosts(fleet)]


def currents(fleet, app_root="/srv/app"):
    result = {}
    for name in names(fleet):
        link = fleet.host_path(name, os.path.join(app_root, "current"))
        result[name] = os.path.basename(os.readlink(link)) if os.path.islink(link) else None
    return result


def history_changes(fleet, name, app_root="/srv/app"):
    """The host's history lines of changes: switches and marks, without the runs' summary lines (event "run")."""
    path = fleet.host_path(name, os.path.join(app_root, ".fleet", "history.jsonl"))
    lines = [json.loads(line) for line in open(path)] if os.path.exists(path) else []
    return [entry for entry in lines if entry.get("event") != "run"]


def history_lengths(fleet, app_root="/srv/app"):
    return {name: len(history_changes(fleet, name, app_root)) for name in names(fleet)}


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    return {release_id: fleet.build_release(release_id) for release_id in ("v1", "v2", "v3")}


def deploy(fleet, releases, release_id, **kwargs):
    path, sha = releases[release_id]
    extra_vars = {"fleet_release": release_id, "fleet_artifact": str(path), "fleet_artifact_sha256": sha}
    extra_vars.update(kwargs.pop("extra_vars", {}))
    return play(fleet, DEPLOY, extra_vars=extra_vars, **kwargs)


# -- deploy and rollback ---------------------------------------------------------------------------------

def test_deploy_rollback_cycle(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    proc, out = deploy(fleet, releases, "v1")
    assert proc.returncode == 0, out
    proc, out = deploy(fleet, releases, "v2", extra_vars={"fleet_reason": "ship v2"})
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"v2"}
    assert {health(fleet, name)["release"] for name in names(fleet)} == {"v2"}
    # The same deploy again changes nothing on any host: test_waves.py::test_second_run_of_a_deploy_changes_nothing
    # (recap, summary, histories and load balancer states).

    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_reason": "checkout errors"})
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"v1"}
    assert {health(fleet, name)["release"] for name in names(fleet)} == {"v1"}
    first = names(fleet)[0]
    lines = history_changes(fleet, first)
    last = [entry for entry in lines if "to" in entry][-1]
    assert (last["from"], last["to"], last["operation"], last["reason"]) == ("v2", "v1", "rollback", "checkout errors")
    assert last["run_id"] and last["actor"]
    # The rollback left v2, which is now known-bad on every host, with who, when and why.
    assert (lines[-1]["operation"], lines[-1]["release"], lines[-1]["reason"]) == ("mark_bad", "v2", "checkout errors")
    for name in names(fleet):
        mark = json.load(open(fleet.host_path(name, "/srv/app/.fleet/state.json")))["bad"]["v2"]
        assert mark["run_id"] == last["run_id"] and mark["by"] == last["actor"]

    # Not a toggle: v1 is the oldest, so a second rollback has no target and changes nothing.
    before = history_lengths(fleet)
    proc, out = play(fleet, ROLLBACK)
    assert proc.returncode != 0
    assert "oldest release" in out and first in out
    assert history_lengths(fleet) == before and set(currents(fleet).values()) == {"v1"}

    # Named rollback ("roll forward") to v2: refused while v2 is marked bad, unless told. The same named rollback again
    # changes nothing: test_config_playbooks.py (changed=0 in the recap) and the idempotence step of
    # test_molecule.py::test_molecule_rollback_scenario.
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "v2"})
    assert proc.returncode != 0 and "marked bad" in out and "fleet_allow_bad_release" in out, out
    assert set(currents(fleet).values()) == {"v1"}
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "v2", "fleet_allow_bad_release": True})
    assert proc.returncode == 0, out
    assert {health(fleet, name)["release"] for name in names(fleet)} == {"v2"}


def test_check_mode_changes_nothing(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    before_current, before_history = currents(fleet), history_lengths(fleet)
    proc, out = deploy(fleet, releases, "v3", check=True)
    assert proc.returncode == 0, out
    assert currents(fleet) == before_current and history_lengths(fleet) == before_history
    for name in names(fleet):
        assert not os.path.exists(fleet.host_path(name, "/srv/app/releases/v3"))
    proc, out = play(fleet, ROLLBACK, check=True, extra_vars={"fleet_release": "v1"})
    assert proc.returncode == 0, out
    assert currents(fleet) == before_current and history_lengths(fleet) == before_history


# A rollback refused because one host lacks the named target ("nothing was changed", the host and "release X does not
# exist" named, no host changed): test_waves.py::test_rollback_preflight_failure_changes_nothing, which also checks the
# load balancers.


def test_rollback_refuses_mixed_targets(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    """Hosts whose previous releases differ would end up inconsistent: refused unless a target is named."""
    odd = names(fleet)[0]
    # Every host runs v2 with v1 before it. v2 is known-bad since the first test's rollback, so the automatic target
    # would skip it everywhere: clear the mark (release_mark state=good, as an operator would). v3 on every host, and
    # the odd host switched to it, gives hosts whose previous releases differ (v1 on most, v2 on the odd one).
    cleared, proc = adhoc(fleet, "fleet", "fleetops.release.release_mark", {"release": "v2", "state": "good", "reason": "test"})
    assert all("v2" not in cleared[name]["bad"] for name in names(fleet)), proc.stdout
    path, sha = releases["v3"]
    unpacked, proc = adhoc(fleet, "fleet", "fleetops.release.release", {"release": "v3", "artifact": str(path), "sha256": sha})
    assert not any(result["failed"] for result in unpacked.values()), proc.stdout
    result, proc = adhoc(fleet, odd, "fleetops.release.release_switch", {"release": "v3", "restart_command": "%s restart" % fleet.fleetapp_ctl})
    assert result[odd]["changed"], proc.stdout
    before = currents(fleet)
    proc, out = play(fleet, ROLLBACK)
    assert proc.returncode != 0 and "different releases" in out and odd in out
    assert currents(fleet) == before
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "v2", "fleet_allow_bad_release": True})
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"v2"}


# A bad release id (../etc, .hidden, 200 characters) is refused by the inputs check before any change: unit-tested in
# tests/unit/plugins/module_utils/test__release_store.py (validate_release_id) and test__run_inputs.py, end to end in
# test_refusals.py::test_bad_inputs_are_refused_at_once_before_any_change (fleet_release 'n-3\n').


def test_missing_artifact_is_refused(one_region):
    fleet = one_region  # one region: see the module docstring
    proc, out = play(fleet, DEPLOY, extra_vars={"fleet_release": "v9", "fleet_artifact": "/nonexistent/v9.tar.gz"})
    assert proc.returncode != 0 and "/nonexistent/v9.tar.gz does not exist" in out


# A checksum mismatch: test_hostile_artifacts.py::test_checksum_of_the_artifact_is_checked_on_the_controller.


def test_same_id_other_artifact_is_an_error(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    path, dummy = releases["v3"]
    proc, out = play(fleet, DEPLOY, extra_vars={"fleet_release": "v1", "fleet_artifact": str(path)})
    assert proc.returncode != 0 and "never reused" in out


def test_switch_to_missing_release_changes_nothing(one_region):
    fleet = one_region  # one region: see the module docstring
    target = names(fleet)[1]
    before = currents(fleet)
    result, proc = adhoc(fleet, target, "fleetops.release.release_switch", {"release": "v404"})
    assert result[target]["failed"] and "v404 does not exist" in result[target]["msg"], proc.stdout
    assert currents(fleet) == before


# -- modules over SSH -----------------------------------------------------------------------------------

def test_retention_never_removes_current_previous_or_pinned(one_region, tmp_path):
    fleet = one_region  # one region: see the module docstring
    host = names(fleet)[2]
    root = "/srv/retention"
    fleet.ssh(host, "rm -rf %s" % root, check=True)  # what an earlier session left on a reused fleet (FLEET_REUSE=1)
    for index in range(1, 7):
        path, dummy = fleet.build_release("r%d" % index)
        result, proc = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "release": "r%d" % index, "artifact": str(path)})
        assert result[host]["changed"], proc.stdout
    for release_id in ("r5", "r3"):  # current r3, previous r5, rollback target r2
        adhoc(fleet, host, "fleetops.release.release_switch", {"app_root": root, "release": release_id})
    adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "release": "r1", "pinned": True})

    check, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "state": "pruned", "keep": 1}, check=True)
    assert check[host]["pruned"] == ["r4"] and os.path.isdir(fleet.host_path(host, root + "/releases/r4"))
    result, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "state": "pruned", "keep": 1})
    assert result[host]["pruned"] == ["r4"]
    assert sorted(os.listdir(fleet.host_path(host, root + "/releases"))) == ["r1", "r2", "r3", "r5", "r6"]
    again, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "state": "pruned", "keep": 1})
    assert not again[host]["changed"]
    refused, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "release": "r3", "state": "absent"})
    assert refused[host]["failed"] and "current release" in refused[host]["msg"]
    # Unpinned, r1 is the oldest; a deploy of r1 again prunes with it (keep, as deploy.yml's unpack) but spares r1.
    adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "release": "r1", "pinned": False})
    spared, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "release": "r1", "keep": 1})
    assert spared[host]["pruned"] == [] and os.path.isdir(fleet.host_path(host, root + "/releases/r1")), spared
    pruned, dummy = adhoc(fleet, host, "fleetops.release.release", {"app_root": root, "state": "pruned", "keep": 1})
    assert pruned[host]["pruned"] == ["r1"], pruned


def test_lock_contention(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    host = names(fleet)[3]
    # Another operator's lock: written on the host, because release_lock names its holder itself (the operator here).
    taken = datetime.datetime.now(datetime.timezone.utc)
    fleet.host_path(host, "/srv/app/.fleet").mkdir(parents=True, exist_ok=True)
    fleet.host_path(host, "/srv/app/.fleet/lock").write_text(json.dumps({
        "holder": "alice@elsewhere run 1", "reason": "hotfix", "run_id": "1", "since": taken.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expires_at": (taken + datetime.timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ")}))
    try:
        again, dummy = adhoc(fleet, host, "fleetops.release.release_lock", {"holder": "bob"})
        assert again[host]["failed"] and "alice@elsewhere run 1" in again[host]["msg"] and "hotfix" in again[host]["msg"]
        before = currents(fleet)
        proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "v1"})
        assert proc.returncode != 0 and "Rollback refused" in out and "locked by another run" in out and "alice@elsewhere run 1" in out
        assert currents(fleet) == before
        # v3 is known-bad on one host since the rollback of an earlier test: the override keeps this test about the lock.
        proc, out = deploy(fleet, releases, "v3", extra_vars={"fleet_allow_bad_release": True})
        assert proc.returncode != 0 and "Deploy refused" in out and "locked by another run" in out and "alice@elsewhere run 1" in out
        assert currents(fleet) == before
    finally:
        adhoc(fleet, host, "fleetops.release.release_lock", {"holder": "alice@elsewhere run 1", "state": "absent"})
    # Our own runs leave no lock behind.
    for name in names(fleet):
        assert not os.path.exists(fleet.host_path(name, "/srv/app/.fleet/lock"))


def test_become_with_a_non_root_user(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    host = names(fleet)[1]  # not the odd host of test_rollback_refuses_mixed_targets
    extra = {"ansible_user": "fleetop", "ansible_become": True, "fleet_allow_bad_release": True}  # v3: see test_lock_contention
    proc, out = deploy(fleet, releases, "v3", limit=host, extra_vars=extra)
    assert proc.returncode == 0, out
    assert currents(fleet)[host] == "v3" and health(fleet, host)["release"] == "v3"
    proc, out = play(fleet, ROLLBACK, limit=host, extra_vars=dict(extra, fleet_release="v2", fleet_allow_bad_release=True))
    assert proc.returncode == 0, out
    assert currents(fleet)[host] == "v2"
    manifest = json.load(open(fleet.host_path(host, "/srv/app/releases/v3/.fleet-release.json")))
    assert manifest["id"] == "v3"


def test_paramiko_connection(one_region, releases):
    fleet = one_region  # one region: see the module docstring
    hosts = names(fleet)[2:4]  # two hosts: one connection per host, several at once
    # The default transport, not an extra var: that would also apply to the tasks delegated to localhost.
    paramiko = {"ANSIBLE_TRANSPORT": "paramiko"}
    proc, out = deploy(fleet, releases, "v3", limit=",".join(hosts), env=paramiko, extra_vars={"fleet_allow_bad_release": True})
    assert proc.returncode == 0, out
    assert "paramiko" in proc.stderr  # its deprecation warning: the connection really was paramiko
    assert {currents(fleet)[name] for name in hosts} == {"v3"}
    proc, out = play(fleet, ROLLBACK, limit=",".join(hosts), extra_vars={"fleet_release": "v2", "fleet_allow_bad_release": True},
                     env=paramiko)
    assert proc.returncode == 0, out
    assert {health(fleet, name)["release"] for name in hosts} == {"v2"}


def test_artifact_from_a_path_and_a_url_on_the_host(one_region, tmp_path):
    fleet = one_region  # one region: see the module docstring
    """remote_src: the host itself reads the artifact from a path or fetches it from a URL (served on loopback)."""
    host = names(fleet)[-1]
    root = "/srv/remote-src"
    fleet.ssh(host, "rm -rf %s /srv/staging" % root, check=True)  # what an earlier session left on a reused fleet
    path, sha = fleet.build_release("p1")
    staged = fleet.host_path(host, "/srv/staging/p1.tar.gz")
    os.makedirs(os.path.dirname(staged), exist_ok=True)
    shutil.copy(path, staged)
    result, proc = adhoc(fleet, host, "fleetops.release.release",
                         {"app_root": root, "release": "p1", "artifact": "/srv/staging/p1.tar.gz", "remote_src": True, "sha256": sha})
    assert result[host]["changed"] and result[host]["release"]["artifact_sha256"] == sha, proc.stdout

    url_path, url_sha = fleet.build_release("u1")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.path.dirname(url_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/%s" % (server.server_address[1], os.path.basename(url_path))
        args = {"app_root": root, "release": "u1", "artifact": url, "remote_src": True, "sha256": url_sha}
        check, dummy = adhoc(fleet, host, "fleetops.release.release", args, check=True)
        assert check[host]["changed"] and not os.path.exists(fleet.host_path(host, root + "/releases/u1"))
        result, proc = adhoc(fleet, host, "fleetops.release.release", args)
        assert result[host]["changed"], proc.stdout
        assert open(fleet.host_path(host, root + "/releases/u1/VERSION")).read().strip() == "u1"
        again, dummy = adhoc(fleet, host, "fleetops.release.release", args)
        assert not again[host]["changed"]
        missing, dummy = adhoc(fleet, host, "fleetops.release.release", dict(args, release="u2", artifact=url + ".missing"))
        assert missing[host]["failed"] and "HTTP 404" in missing[host]["msg"]
        assert not os.path.exists(fleet.host_path(host, root + "/releases/u2"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Configuration snapshots over real SSH against the test fleet: capture, restore with the release, drift, corruption,
templates, secrets. The demo app reports its /etc/fleetapp configuration in /health, which shows that a restored
configuration is the one in effect after the restart.

The tests use /srv/app (the only root the demo app runs from) on two hosts; a module fixture moves the hosts'
/srv/app and /etc/fleetapp aside first and puts them back afterwards, app process included.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import stat
import urllib.request

import pytest

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = "/srv/app"
ETC = "/etc/fleetapp"
PATHS = [ETC + "/app.conf", ETC + "/conf.d"]
SECRET_A = "token=alpha-secret-4711"
SECRET_B = "token=bravo-secret-0815"
SECRET_T = "token=templated-secret-9001"
SAVED = ".saved-by-test-config-snapshot"
OUTPUTS = []  # every ansible output of this module: secrets must never appear in any of it


def adhoc(fleet, hosts, module, args, check=False, diff=False, extra=()):
    """Run one module on ``hosts`` over SSH; returns {host: result}."""
    results, proc = fleet.ansible_module(",".join(hosts), module, args, *extra, check=check, diff=diff)
    OUTPUTS.append(proc.stdout + proc.stderr)
    for result in results.values():
        result["stderr_of_run"] = proc.stderr
    assert set(results) == set(hosts), "no result from ansible:\n%s\n%s" % (proc.stdout, proc.stderr)
    return results


def playbook(fleet, tmp_path, hosts, tasks, check=False, diff=True, extra_vars=None):
    """Run a small play of ``tasks`` (a list of dicts) on ``hosts`` with the default callback; returns the output."""
    path = tmp_path / "play.yml"
    path.write_text(json.dumps([{"hosts": ",".join(hosts), "gather_facts": False, "tasks": tasks}]))
    extra = ["--diff"] if diff else []
    proc = fleet.ansible_playbook(path, *extra, check=check, extra_vars=extra_vars, env={"ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg")})
    out = proc.stdout + proc.stderr
    OUTPUTS.append(out)
    return proc.returncode, out


def hosts_of(fleet):
    return [host["name"] for host in fleet.hosts][:2]


def health(fleet, host):
    with urllib.request.urlopen(fleet.app_url(host, "/health"), timeout=5) as answer:
        return json.loads(answer.read().decode())


def live_tree(fleet, host):
    """{path: (kind, mode, owner, group, content or link target)} of the host's /etc/fleetapp."""
    base = str(fleet.host_path(host, ETC))
    found = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            key = ETC + path[len(base):]
            owner = (pwd.getpwuid(info.st_uid).pw_name, info.st_gid)
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", None, None, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", stat.S_IMODE(info.st_mode), owner, None)
            else:
                found[key] = ("file", stat.S_IMODE(info.st_mode), owner, open(path, "rb").read())
    return found


def put(fleet, host, path, text, mode=0o644, owner="root"):
    backing = str(fleet.host_path(host, path))
    os.makedirs(os.path.dirname(backing), exist_ok=True)
    with open(backing, "w") as handle:
        handle.write(text)
    entry = pwd.getpwnam(owner)
    os.chown(backing, entry.pw_uid, entry.pw_gid)
    os.chmod(backing, mode)


def link(fleet, host, path, target):
    backing = str(fleet.host_path(host, path))
    if os.path.lexists(backing):
        os.unlink(backing)
    os.symlink(target, backing)


def remove(fleet, host, path):
    os.unlink(str(fleet.host_path(host, path)))


def config_a(fleet, host, original):
    put(fleet, host, ETC + "/app.conf", original + "color = blue\n")
    put(fleet, host, ETC + "/conf.d/a.conf", "a = 1\n")
    put(fleet, host, ETC + "/conf.d/remove-me.conf", "gone in B\n")
    put(fleet, host, ETC + "/conf.d/secret.conf", SECRET_A + "\n", mode=0o600, owner="fleetop")
    link(fleet, host, ETC + "/conf.d/current.conf", "a.conf")


def config_b(fleet, host, original):
    put(fleet, host, ETC + "/app.conf", original + "color = green\n")                              # changed
    put(fleet, host, ETC + "/conf.d/added.conf", "added = 1\n")                                    # added
    remove(fleet, host, ETC + "/conf.d/remove-me.conf")                                           # removed
    put(fleet, host, ETC + "/conf.d/secret.conf", SECRET_B + "\n", mode=0o600, owner="fleetop")   # secret changed
    link(fleet, host, ETC + "/conf.d/current.conf", "added.conf")                                  # symlink retargeted


def ctl(fleet, host, action):
    return fleet.ssh(host, "%s %s" % (fleet.fleetapp_ctl, action))


@pytest.fixture(scope="module", name="hosts")
def fixture_hosts(fleet):
    """Two hosts with /srv/app and /etc/fleetapp moved aside; put back (and the app restarted) afterwards."""
    hosts = hosts_of(fleet)
    running = {}
    for host in hosts:
        running[host] = ctl(fleet, host, "status").returncode == 0
        ctl(fleet, host, "stop")
        app = str(fleet.host_path(host, ROOT))
        etc = str(fleet.host_path(host, ETC))
        saved_etc = str(fleet.host_path(host, "/srv/" + SAVED + "-etc"))
        shutil.rmtree(saved_etc, ignore_errors=True)
        shutil.copytree(etc, saved_etc, symlinks=True)
        if os.path.lexists(app):
            os.rename(app, str(fleet.host_path(host, "/srv/" + SAVED + "-app")))
    yield hosts
    for host in hosts:
        ctl(fleet, host, "stop")
        app = str(fleet.host_path(host, ROOT))
        etc = str(fleet.host_path(host, ETC))
        shutil.rmtree(app, ignore_errors=True)
        if os.path.lexists(str(fleet.host_path(host, "/srv/" + SAVED + "-app"))):
            os.rename(str(fleet.host_path(host, "/srv/" + SAVED + "-app")), app)
        saved_etc = str(fleet.host_path(host, "/srv/" + SAVED + "-etc"))
        for name in os.listdir(etc):  # /etc/fleetapp is a mount point: empty it, do not replace it
            path = os.path.join(etc, name)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
        for name in os.listdir(saved_etc):
            source, dest = os.path.join(saved_etc, name), os.path.join(etc, name)
            shutil.copytree(source, dest, symlinks=True) if os.path.isdir(source) else shutil.copy2(source, dest, follow_symlinks=False)
        shutil.rmtree(saved_etc)
        if running[host]:
            ctl(fleet, host, "start")


@pytest.fixture(scope="module", name="originals")
def fixture_originals(fleet, hosts):
    return {host: open(str(fleet.host_path(host, "/srv/" + SAVED + "-etc/app.conf"))).read() for host in hosts}


def deploy(fleet, hosts, release_id, templates=None, extra=()):
    """Create the release, snapshot its configuration, restore it at the switch, restart once."""
    path, dummy = fleet.build_release(release_id)
    for host, result in adhoc(fleet, hosts, "fleetops.release.release", {"app_root": ROOT, "release": release_id, "artifact": str(path)}).items():
        assert not result["failed"], result
    args = {"app_root": ROOT, "release": release_id, "paths": PATHS}
    if templates:
        args.update(paths=[ETC + "/conf.d"], templates=templates)
    for host, result in adhoc(fleet, hosts, "fleetops.release.config_snapshot", args, extra=extra).items():
        assert not result["failed"], result
    switch(fleet, hosts, release_id)


def switch(fleet, hosts, release_id, operation="deploy"):
    restored = adhoc(fleet, hosts, "fleetops.release.config_snapshot", {"app_root": ROOT, "release": release_id, "state": "restored"})
    for host, result in restored.items():
        assert not result["failed"], result
    for host, result in adhoc(fleet, hosts, "fleetops.release.release_switch", {
            "app_root": ROOT, "release": release_id, "operation": operation, "restart_command": "%s restart" % fleet.fleetapp_ctl}).items():
        assert not result["failed"], result
    return restored


def assert_no_secret_anywhere():
    for output in OUTPUTS:
        for secret in (SECRET_A, SECRET_B, SECRET_T, "alpha-secret", "bravo-secret", "templated-secret"):
            assert secret not in output, output


# -- the scenario of the issue --------------------------------------------------------------------------

def test_rollback_restores_config_byte_for_byte(fleet, hosts, originals):
    for host in hosts:
        config_a(fleet, host, originals[host])
    trees_a = {host: live_tree(fleet, host) for host in hosts}
    deploy(fleet, hosts, "cfg1")
    for host in hosts:
        assert health(fleet, host)["config"]["color"] == "blue"
        config_b(fleet, host, originals[host])
    trees_b = {host: live_tree(fleet, host) for host in hosts}
    deploy(fleet, hosts, "cfg2")
    for host in hosts:
        answer = health(fleet, host)
        assert answer["release"] == "cfg2" and answer["config"]["color"] == "green" and "added.conf" in answer["conf_d"]
        snapshot = str(fleet.host_path(host, ROOT + "/snapshots/cfg2"))
        assert stat.S_IMODE(os.stat(snapshot).st_mode) == 0o700
        secret_copy = os.path.join(snapshot, "files/etc/fleetapp/conf.d/secret.conf")
        assert stat.S_IMODE(os.stat(secret_copy).st_mode) == 0o600 and pwd.getpwuid(os.stat(secret_copy).st_uid).pw_name == "fleetop"

    # Rollback: configuration and code together, then one restart.
    restored = switch(fleet, hosts, "cfg1", operation="rollback")
    for host in hosts:
        result = restored[host]
        assert result["changed"] and result["current"] == "cfg2" and result["drift_saved"] == [], result
        assert {(row["path"], row["action"]) for row in result["changes"]} >= {
            (ETC + "/conf.d/added.conf", "remove"), (ETC + "/conf.d/remove-me.conf", "create")}
        assert live_tree(fleet, host) == trees_a[host]
        answer = health(fleet, host)
        assert answer["release"] == "cfg1" and answer["config"]["color"] == "blue"
        assert sorted(answer["conf_d"]) == ["a.conf", "current.conf", "remove-me.conf", "secret.conf"]

    # Second run: nothing changes. Check mode: nothing changes either.
    again = adhoc(fleet, hosts, "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg1", "state": "restored"})
    assert not any(result["changed"] for result in again.values()), again
    checked = adhoc(fleet, hosts, "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg2", "state": "restored"}, check=True)
    assert all(result["changed"] for result in checked.values())
    assert all(live_tree(fleet, host) == trees_a[host] for host in hosts)

    # Roll forward.
    switch(fleet, hosts, "cfg2", operation="rollback")
    for host in hosts:
        assert live_tree(fleet, host) == trees_b[host]
        assert health(fleet, host)["config"]["color"] == "green"
    assert_no_secret_anywhere()


def test_check_mode_diff_shows_what_differs_but_never_secrets(fleet, hosts, tmp_path):
    before = {host: live_tree(fleet, host) for host in hosts}
    code, out = playbook(fleet, tmp_path, hosts, [{"fleetops.release.config_snapshot": {
        "app_root": ROOT, "release": "cfg1", "state": "restored"}}], check=True)
    assert code == 0, out
    assert "-color = green" in out and "+color = blue" in out
    assert ETC + "/conf.d/added.conf" in out and "<secret: content not shown" in out and "symlink -> added.conf" in out, out
    assert {host: live_tree(fleet, host) for host in hosts} == before
    assert_no_secret_anywhere()


def test_hand_edit_is_saved_and_reported(fleet, hosts, originals):
    host = hosts[0]
    put(fleet, host, ETC + "/app.conf", originals[host] + "color = green\nhand = edit\n")
    put(fleet, host, ETC + "/conf.d/secret.conf", "token=hand-edited\n", mode=0o600, owner="fleetop")
    info = adhoc(fleet, [host], "fleetops.release.config_snapshot_info", {"app_root": ROOT})[host]
    assert info["valid"] and info["release"] == "cfg2"
    drift = {row["path"]: row for row in info["drift"]}
    assert set(drift) == {ETC + "/app.conf", ETC + "/conf.d/secret.conf"} and drift[ETC + "/app.conf"]["changes"] == ["content"]
    assert drift[ETC + "/conf.d/secret.conf"]["secret"] and "sha256" not in drift[ETC + "/conf.d/secret.conf"]["live"]

    restored = switch(fleet, [host], "cfg1", operation="rollback")[host]
    assert {row["path"] for row in restored["drift_saved"]} == {ETC + "/app.conf", ETC + "/conf.d/secret.conf"}
    folder = restored["drift_folder"]
    assert re.match(r"^/srv/app/snapshots/cfg2\.drift-\d{8}T\d{6}Z", folder), folder
    assert "saved to %s" % folder in restored["stderr_of_run"] + json.dumps(restored.get("warnings", []))
    saved = str(fleet.host_path(host, folder))
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o700
    assert "hand = edit" in open(os.path.join(saved, "files/etc/fleetapp/app.conf")).read()
    secret_copy = os.path.join(saved, "files/etc/fleetapp/conf.d/secret.conf")
    assert open(secret_copy).read() == "token=hand-edited\n" and stat.S_IMODE(os.stat(secret_copy).st_mode) == 0o600
    assert "hand-edited" not in json.dumps(restored)
    assert health(fleet, host)["config"]["color"] == "blue"
    switch(fleet, [host], "cfg2", operation="rollback")  # back in step with the other host
    assert_no_secret_anywhere()


def test_corrupted_snapshot_is_refused_with_the_path_named(fleet, hosts):
    good, bad = hosts
    copy = str(fleet.host_path(bad, ROOT + "/snapshots/cfg1/files/etc/fleetapp/conf.d/secret.conf"))
    original = open(copy, "rb").read()
    damaged = bytearray(original)
    damaged[0] ^= 0x20
    with open(copy, "wb") as handle:
        handle.write(bytes(damaged))
    try:
        before = {host: live_tree(fleet, host) for host in hosts}
        info = adhoc(fleet, hosts, "fleetops.release.config_snapshot_info", {"app_root": ROOT, "release": "cfg1"})
        assert info[good]["valid"] and info[good]["problems"] == []
        assert not info[bad]["valid"] and not info[bad]["failed"]
        assert any(ETC + "/conf.d/secret.conf" in problem for problem in info[bad]["problems"]), info[bad]
        refused = adhoc(fleet, [bad], "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg1", "state": "restored"})[bad]
        assert refused["failed"] and ETC + "/conf.d/secret.conf" in refused["msg"] and "nothing was changed" in refused["msg"]
        assert {host: live_tree(fleet, host) for host in hosts} == before
    finally:
        with open(copy, "wb") as handle:
            handle.write(original)
    assert adhoc(fleet, [bad], "fleetops.release.config_snapshot_info", {"app_root": ROOT, "release": "cfg1"})[bad]["valid"]
    assert_no_secret_anywhere()


def test_existing_snapshot_is_never_changed_silently(fleet, hosts, originals):
    host = hosts[0]
    put(fleet, host, ETC + "/app.conf", originals[host] + "color = green\nlater = edit\n")
    again = adhoc(fleet, [host], "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg2", "paths": PATHS})[host]
    assert not again["changed"] and [row["path"] for row in again["drift"]] == [ETC + "/app.conf"], again
    adhoc(fleet, [host], "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg2", "state": "restored"})
    unchanged = adhoc(fleet, [host], "fleetops.release.config_snapshot", {"app_root": ROOT, "release": "cfg2", "paths": PATHS})[host]
    assert not unchanged["changed"] and unchanged["drift"] == []


def test_templated_configuration(fleet, hosts, tmp_path):
    (tmp_path / "app.conf.j2").write_text("host = {{ inventory_hostname }}\nregion = {{ fleet_region }}\n"
                                          "listen = {{ ansible_host }}:8000\ncolor = {{ cfg_color }}\n")
    (tmp_path / "secret.conf.j2").write_text("token={{ cfg_token }}\n")
    (tmp_path / "extra.conf.j2").write_text("# rendered for {{ inventory_hostname }}\n")
    templates = [
        {"src": str(tmp_path / "app.conf.j2"), "dest": ETC + "/app.conf"},
        {"src": str(tmp_path / "secret.conf.j2"), "dest": ETC + "/conf.d/secret.conf", "mode": "0600", "owner": "fleetop", "group": "fleetop"},
        {"src": str(tmp_path / "extra.conf.j2"), "dest": ETC + "/conf.d/extra.conf"},
    ]
    extra = ["-e", json.dumps({"cfg_color": "red", "cfg_token": SECRET_T.split("=", 1)[1]}), "--diff"]
    before = {host: live_tree(fleet, host) for host in hosts}
    path, dummy = fleet.build_release("cfg3")
    adhoc(fleet, hosts, "fleetops.release.release", {"app_root": ROOT, "release": "cfg3", "artifact": str(path)})
    args = {"app_root": ROOT, "release": "cfg3", "paths": [ETC + "/conf.d"], "templates": templates}
    checked = adhoc(fleet, hosts, "fleetops.release.config_snapshot", args, check=True, extra=extra)
    assert all(result["changed"] and not result["failed"] for result in checked.values()), checked
    assert not any(os.path.lexists(str(fleet.host_path(host, ROOT + "/snapshots/cfg3"))) for host in hosts)
    made = adhoc(fleet, hosts, "fleetops.release.config_snapshot", args, extra=extra)
    assert all(result["changed"] for result in made.values()), made
    assert {host: live_tree(fleet, host) for host in hosts} == before  # rendered into the snapshot only
    again = adhoc(fleet, hosts, "fleetops.release.config_snapshot", args, extra=extra)
    assert not any(result["changed"] for result in again.values()), again
    other = adhoc(fleet, hosts, "fleetops.release.config_snapshot", args, extra=["-e", json.dumps({"cfg_color": "pink", "cfg_token": "x"})])
    assert all(result["failed"] and "already exists with other content" in result["msg"] for result in other.values()), other

    switch(fleet, hosts, "cfg3")
    for host in hosts:
        answer = health(fleet, host)
        assert answer["release"] == "cfg3" and answer["config"]["color"] == "red" and answer["config"]["host"] == host
        assert sorted(answer["conf_d"]) == ["extra.conf", "secret.conf"]  # conf.d holds exactly what was rendered
        secret = str(fleet.host_path(host, ETC + "/conf.d/secret.conf"))
        assert open(secret).read() == SECRET_T + "\n" and stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        assert pwd.getpwuid(os.stat(secret).st_uid).pw_name == "fleetop"
    assert_no_secret_anywhere()


def test_snapshots_never_readable_by_others(fleet, hosts):
    for host in hosts:
        snapshots = str(fleet.host_path(host, ROOT + "/snapshots"))
        assert not os.stat(snapshots).st_mode & 0o007
        for name in os.listdir(snapshots):
            assert not os.stat(os.path.join(snapshots, name)).st_mode & 0o007, name
    # fleetop (an unprivileged user on the host) cannot list or read any snapshot.
    probe = fleet.ssh(hosts[0], "cat %s/snapshots/cfg2/files/etc/fleetapp/app.conf; ls %s/snapshots/cfg2" % (ROOT, ROOT), user="fleetop")
    assert probe.returncode != 0 and "Permission denied" in probe.stderr

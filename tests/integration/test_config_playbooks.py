# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""deploy.yml and rollback.yml carry each release's configuration: templated config, restore with the code, drift, corruption."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import urllib.request

import pytest

# Every host starts without /srv/app, whatever the modules before left (conftest.py empty_apps).
pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("empty_apps")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "playbooks", "deploy.yml")
ROLLBACK = os.path.join(REPO, "playbooks", "rollback.yml")
SECRETS = {"A": "token-AAA-7f3c", "B": "token-BBB-91d2"}

CONFIGS = {
    # config A: app.conf, conf.d/{a,old,secret}.conf;  config B: app.conf changed, old.conf removed, b.conf added, secret changed
    "A": {"app.conf.j2": "listen = {{ ansible_host }}:8000\ngreeting = hello from A\n",
          "a.conf.j2": "a = 1\n", "old.conf.j2": "old = yes\n", "secret.conf.j2": "token = %s\n" % SECRETS["A"]},
    "B": {"app.conf.j2": "listen = {{ ansible_host }}:8000\ngreeting = hello from B\n",
          "a.conf.j2": "a = 1\n", "b.conf.j2": "b = 2\n", "secret.conf.j2": "token = %s\n" % SECRETS["B"]},
}


def templates(directory, name):
    items = []
    for template, text in CONFIGS[name].items():
        path = os.path.join(directory, name, template)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
        dest = "/etc/fleetapp/app.conf" if template == "app.conf.j2" else "/etc/fleetapp/conf.d/" + template[:-3]
        items.append({"src": path, "dest": dest, "mode": "0600" if template.startswith("secret") else "0644"})
    return items


def health(fleet, name):
    with urllib.request.urlopen(fleet.app_url(name, "/health"), timeout=5) as answer:
        return json.loads(answer.read().decode())


def live(fleet, name, path):
    return fleet.host_path(name, path).read_text()


@pytest.fixture(scope="module", name="hosts")
def fixture_hosts(fleet):
    """One host per region; their /srv/app and /etc/fleetapp are put back as they were afterwards."""
    chosen = [fleet.hosts_in(region)[0].name for region in fleet.regions]
    saved = {}
    for name in chosen:
        etc = fleet.host_path(name, "/etc/fleetapp")
        saved[name] = etc.parent / (etc.name + ".saved-by-test")
        shutil.copytree(etc, saved[name], symlinks=True)
    yield chosen
    for name in chosen:
        fleet.ssh(name, "%s stop; rm -rf /srv/app" % fleet.fleetapp_ctl)
        etc = fleet.host_path(name, "/etc/fleetapp")
        shutil.rmtree(etc / "conf.d", ignore_errors=True)
        for entry in os.listdir(saved[name]):
            source, target = saved[name] / entry, etc / entry
            if os.path.isdir(source):
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target)
        shutil.rmtree(saved[name])


def run(fleet, hosts, playbook, **extra_vars):
    proc = fleet.ansible_playbook(playbook, limit=",".join(hosts), extra_vars=extra_vars)
    return proc, proc.stdout + proc.stderr


def test_config_travels_with_every_release(fleet, hosts, tmp_path):
    base = {"fleet_config_paths": ["/etc/fleetapp/conf.d"]}
    for release_id, config in (("c1", "A"), ("c2", "B")):
        artifact, sha = fleet.build_release(release_id)
        proc, out = run(fleet, hosts, DEPLOY, fleet_release=release_id, fleet_artifact=str(artifact), fleet_artifact_sha256=sha,
                        fleet_config_templates=templates(str(tmp_path), config), **base)
        assert proc.returncode == 0, out
        assert SECRETS[config] not in out
    for name in hosts:
        answer = health(fleet, name)
        assert answer["release"] == "c2" and answer["config"]["greeting"] == "hello from B"
        assert answer["conf_d"] == ["a.conf", "b.conf", "secret.conf"]

    # A corrupted snapshot stops the rollback on every host before anything changes.
    victim, editor = hosts[0], hosts[1]
    copy = fleet.host_path(victim, "/srv/app/snapshots/c1/files/etc/fleetapp/conf.d/old.conf")
    original = copy.read_bytes()
    copy.write_bytes(bytes([original[0] ^ 0x01]) + original[1:])
    before = {name: (live(fleet, name, "/etc/fleetapp/app.conf"), os.readlink(fleet.host_path(name, "/srv/app/current"))) for name in hosts}
    proc, out = run(fleet, hosts, ROLLBACK, fleet_reason="config test", **base)
    assert proc.returncode != 0
    assert "nothing was changed" in out and victim in out and "/etc/fleetapp/conf.d/old.conf" in out
    after = {name: (live(fleet, name, "/etc/fleetapp/app.conf"), os.readlink(fleet.host_path(name, "/srv/app/current"))) for name in hosts}
    assert after == before
    copy.write_bytes(original)

    # A hand edit is saved before the rollback overwrites it, and the run says so.
    hand = fleet.host_path(editor, "/etc/fleetapp/conf.d/a.conf")
    hand.write_text("a = 1\nhand = edited by an operator\n")
    proc, out = run(fleet, hosts, ROLLBACK, fleet_reason="config test", **base)
    assert proc.returncode == 0, out
    assert "drift" in out
    drift = [entry for entry in os.listdir(fleet.host_path(editor, "/srv/app/snapshots")) if entry.startswith("c2.drift-")]
    assert len(drift) == 1
    saved = fleet.host_path(editor, "/srv/app/snapshots/%s/etc/fleetapp/conf.d/a.conf" % drift[0])
    if not saved.exists():  # the drift folder may keep the absolute path below a files/ directory
        saved = next(fleet.host_path(editor, "/srv/app/snapshots/" + drift[0]).rglob("a.conf"))
    assert "edited by an operator" in saved.read_text()

    # Config A is back, byte for byte, with its modes, and the app runs with it.
    for name in hosts:
        answer = health(fleet, name)
        assert answer["release"] == "c1" and answer["config"]["greeting"] == "hello from A"
        assert answer["conf_d"] == ["a.conf", "old.conf", "secret.conf"]
        assert live(fleet, name, "/etc/fleetapp/conf.d/a.conf") == "a = 1\n"
        secret = fleet.host_path(name, "/etc/fleetapp/conf.d/secret.conf")
        assert secret.read_text() == "token = %s\n" % SECRETS["A"]
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
        address = fleet.host(name).address
        assert live(fleet, name, "/etc/fleetapp/app.conf") == "listen = %s:8000\ngreeting = hello from A\n" % address
    assert not any(secret in out for secret in SECRETS.values())

    # Roll forward gives config B again (c2 is marked bad by the rollback: named on purpose); a second run changes nothing.
    proc, out = run(fleet, hosts, ROLLBACK, fleet_release="c2", fleet_allow_bad_release=True, **base)
    assert proc.returncode == 0, out
    for name in hosts:
        assert health(fleet, name)["config"]["greeting"] == "hello from B"
        assert not fleet.host_path(name, "/etc/fleetapp/conf.d/old.conf").exists()
    proc, out = run(fleet, hosts, ROLLBACK, fleet_release="c2", fleet_allow_bad_release=True, **base)
    assert proc.returncode == 0, out
    for host, counts in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", out, re.M):
        assert counts == "0", (host, out)

    # Snapshots are never readable by others.
    result = fleet.ssh(hosts[0], "cat /srv/app/snapshots/c2/files/etc/fleetapp/conf.d/secret.conf", user="fleetop")
    assert result.returncode != 0 and SECRETS["B"] not in result.stdout
    listing = subprocess.run(["stat", "-c", "%a", str(fleet.host_path(hosts[0], "/srv/app/snapshots/c2"))],
                             capture_output=True, text=True, check=True)
    assert listing.stdout.strip() == "700"

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/adopt.yml over real SSH against the test fleet: hosts laid out by Capistrano and by Deployer (with the
shell commands those tools run, cited per step), adopted, then rolled back and deployed by this collection under
continuous requests. The old tools themselves (Ruby, PHP) are not installed here; ansistrano and deploy_helper
layouts are covered by tests/unit/plugins/module_utils/test_adopt.py."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time

import pytest

from load import RequestLoad

from test_release_lifecycle import ROLLBACK, currents, deploy, health, names, play, recap

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADOPT = os.path.join(REPO, "playbooks", "adopt.yml")
ROOT = "/srv/app"


# -- laying hosts out as the tools do ---------------------------------------------------------------------------

def unpack(fleet, host, release_dir, tarball):
    """The release's files (the fleet's app) into ``release_dir`` on the host, over SSH."""
    with open(tarball, "rb") as handle:
        proc = fleet.ssh(host, "mkdir -p %s && tar -xzf - -C %s" % (shlex.quote(release_dir), shlex.quote(release_dir)), input=handle.read())
    assert proc.returncode == 0, proc.stderr


def sh(fleet, host, *commands):
    proc = fleet.ssh(host, " && ".join(commands))
    assert proc.returncode == 0, (commands, proc.stderr)


def capistrano_deploy(fleet, host, name, tarball, finish=True):
    """One `cap deploy` (capistrano lib/capistrano/tasks/deploy.rake and dsl/paths.rb, Capistrano 3):
    deploy:check:directories and :linked_dirs (mkdir -p shared releases shared/log), git:create_release (the code into
    releases/<%Y%m%d%H%M%S>), deploy:set_current_revision (REVISION), deploy:symlink:linked_dirs (ln -s <shared>/log
    <release>/log, absolute), deploy:symlink:release (ln -s <release> releases/current, then mv it over <deploy_to>/current)
    and deploy:log_revision (i18n.rb revision_log_message appended to revisions.log). ``finish=False``: the deploy died
    after create_release (a half-made release)."""
    release = "%s/releases/%s" % (ROOT, name)
    sh(fleet, host, "mkdir -p %s/shared %s/releases %s/shared/log" % (ROOT, ROOT, ROOT))
    unpack(fleet, host, release, tarball)
    sha = hashlib.sha1(name.encode()).hexdigest()[:7]
    sh(fleet, host, "echo %s > %s/REVISION" % (sha, release))
    if not finish:
        return
    sh(fleet, host, "ln -s %s/shared/log %s/log" % (ROOT, release),
       "ln -s %s %s/releases/current" % (release, ROOT), "mv %s/releases/current %s" % (ROOT, ROOT),
       "echo 'Branch main (at %s) deployed as release %s by deploy' >> %s/revisions.log" % (sha, name, ROOT))


def deployer_deploy(fleet, host, number, tarball, rollback_to=None):
    """One `dep deploy` (deployphp/deployer recipe/deploy/release.php, shared.php, symlink.php, config.php):
    deploy:release writes .dep/latest_release, appends json_encode({created_at, release_name, user, target}) to
    .dep/releases_log, makes releases/<n> and `ln -nfs --relative releases/<n> release`; deploy:shared links
    <release>/storage into shared/ (relative); deploy:symlink `mv -T release current` (atomic symlink).
    ``rollback_to``: then `dep rollback` (rollback.php) - `ln -nfs --relative releases/<m> current` and
    "<timestamp>,<user>" into releases/<n>/BAD_RELEASE."""
    release = "%s/releases/%s" % (ROOT, number)
    line = json.dumps({"created_at": "2024-02-0%sT10:00:00+0000" % number, "release_name": str(number), "user": "deploy", "target": "HEAD"},
                      separators=(",", ":"))
    sh(fleet, host, "mkdir -p %s/.dep %s/shared/storage %s/releases" % (ROOT, ROOT, ROOT), "echo %s > %s/.dep/latest_release" % (number, ROOT),
       "echo %s >> %s/.dep/releases_log" % (shlex.quote(line), ROOT))
    unpack(fleet, host, release, tarball)
    sh(fleet, host, "cd %s" % ROOT, "ln -nfs --relative releases/%s release" % number, "ln -nfs --relative shared/storage releases/%s/storage" % number,
       "mv -T release current")
    if rollback_to is not None:
        sh(fleet, host, "cd %s" % ROOT, "ln -nfs --relative releases/%s current" % rollback_to,
           "echo '2024-02-09T10:00:00+0000,deploy' > releases/%s/BAD_RELEASE" % number)


def restart_apps(fleet):
    for name in names(fleet):
        sh(fleet, name, "%s restart" % fleet.fleetapp_ctl)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(set(fleet.lb_servers(region).values()) == {"UP"} for region in fleet.regions):
            return
        time.sleep(0.5)
    raise AssertionError({region: fleet.lb_servers(region) for region in fleet.regions})


def snapshot(fleet):
    """Every host's /srv/app as (path, kind, link target or content hash): nothing moved, renamed or deleted."""
    found = {}
    for name in names(fleet):
        base = fleet.host_path(name, ROOT)
        for directory, dirs, files in os.walk(base):
            for entry in dirs + files:
                path = os.path.join(directory, entry)
                rel = os.path.relpath(path, base)
                if os.path.islink(path):
                    found[(name, rel)] = "-> " + os.readlink(path)
                elif os.path.isfile(path):
                    found[(name, rel)] = hashlib.sha256(open(path, "rb").read()).hexdigest()
                else:
                    found[(name, rel)] = "dir"
    return found


def adopted(fleet):
    """Hosts with any of this collection's bookkeeping."""
    marks = []
    for name in names(fleet):
        base = fleet.host_path(name, ROOT)
        if os.path.exists(os.path.join(base, ".fleet")):
            marks.append((name, ".fleet"))
        releases = os.path.join(base, "releases")
        for release in os.listdir(releases) if os.path.isdir(releases) else ():
            if os.path.exists(os.path.join(releases, release, ".fleet-release.json")):
                marks.append((name, release))
    return marks


def lb_urls(fleet):
    return [fleet.lb_url(region) for region in fleet.regions]


def manifest(fleet, host, release):
    return json.loads(fleet.host_path(host, "%s/releases/%s/.fleet-release.json" % (ROOT, release)).read_text())


@pytest.fixture(name="clean")
def fixture_clean(fleet):
    fleet.wipe_apps()
    yield
    fleet.wipe_apps()


@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet):
    ids = ("20240101120000", "20240102120000", "20240103120000", "20240104120000", "d1", "d2", "d3", "d4")
    return {release_id: fleet.build_release(release_id) for release_id in ids}


# -- tests --------------------------------------------------------------------------------------------------------

def test_capistrano_fleet_adopted_then_rolled_back_and_deployed_under_load(fleet, releases, clean):
    c1, c2, c3, c4 = "20240101120000", "20240102120000", "20240103120000", "20240104120000"
    for name in names(fleet):
        capistrano_deploy(fleet, name, c1, releases[c1][0])
        capistrano_deploy(fleet, name, c2, releases[c2][0])
        capistrano_deploy(fleet, name, c3, releases[c3][0], finish=False)  # died before the switch
    restart_apps(fleet)
    laid_out = snapshot(fleet)

    proc = fleet.ansible_playbook(ADOPT, "--diff", check=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert adopted(fleet) == [] and snapshot(fleet) == laid_out

    proc, out = play(fleet, ADOPT)
    assert proc.returncode == 0, out
    for name in names(fleet):
        assert (manifest(fleet, name, c1)["sequence"], manifest(fleet, name, c2)["sequence"]) == (1, 2)
        assert manifest(fleet, name, c2)["shared_paths"] == ["log"] and manifest(fleet, name, c2)["created_by"] == "adopt:capistrano"
        assert not fleet.host_path(name, "%s/releases/%s/.fleet-release.json" % (ROOT, c3)).exists()
        state = json.loads(fleet.host_path(name, ROOT + "/.fleet/state.json").read_text())
        assert (state["current"], state["previous"], state["adopted"]["from"]) == (c2, c1, "capistrano")
    after = snapshot(fleet)
    assert {key: value for key, value in after.items() if key in laid_out} == laid_out  # nothing moved, renamed or deleted

    # Adopting twice changes nothing.
    proc, out = play(fleet, ADOPT)
    assert proc.returncode == 0, out
    assert all(recap(out)[name]["changed"] == 0 for name in names(fleet)), out
    assert snapshot(fleet) == after

    # The previous release the old tool left, under continuous requests.
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_reason": "first rollback after adoption"})
    assert proc.returncode == 0, out
    assert all(counts["ok"] > 0 for counts in load.summary().values()) and not load.failures, (load.summary(), load.failures[:5])
    assert set(currents(fleet).values()) == {c1} and {health(fleet, name)["release"] for name in names(fleet)} == {c1}

    # The next release, named as Capistrano names its releases, into the same releases/ directory.
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, out = deploy(fleet, releases, c4)
    assert proc.returncode == 0, out
    assert all(counts["ok"] > 0 for counts in load.summary().values()) and not load.failures, (load.summary(), load.failures[:5])
    assert set(currents(fleet).values()) == {c4} and {health(fleet, name)["release"] for name in names(fleet)} == {c4}
    for name in names(fleet):
        assert manifest(fleet, name, c4)["sequence"] == 3
        assert sorted(os.listdir(fleet.host_path(name, ROOT + "/releases"))) == [c1, c2, c3, c4]
        # The old tool's record is untouched: Capistrano still finds its releases and its log.
        assert fleet.host_path(name, ROOT + "/revisions.log").read_text().count("deployed as release") == 2

    # Adopting after a deploy of ours changes nothing either.
    proc, out = play(fleet, ADOPT)
    assert proc.returncode == 0, out
    assert all(recap(out)[name]["changed"] == 0 for name in names(fleet)), out


def test_unknown_layout_or_disagreement_stops_with_nothing_written(fleet, releases, clean):
    first, *others = names(fleet)
    for name in others:
        deployer_deploy(fleet, name, 1, releases["d1"][0])
        deployer_deploy(fleet, name, 2, releases["d2"][0], rollback_to=1)
        deployer_deploy(fleet, name, 3, releases["d3"][0])
    # The first host: releases and a current symlink, but no tool's record or marker.
    for release in ("d1", "d2"):
        unpack(fleet, first, "%s/releases/%s" % (ROOT, release), releases[release][0])
    sh(fleet, first, "ln -s releases/d2 %s/current" % ROOT)
    laid_out = snapshot(fleet)
    proc, out = play(fleet, ADOPT)
    assert proc.returncode != 0
    assert "Adoption refused; nothing was written on any host" in out and first in out and "fleet_adopt_from" in out, out
    assert adopted(fleet) == [] and snapshot(fleet) == laid_out

    # Told the tool, the first host asks for the order (its names carry no Deployer record).
    proc, out = play(fleet, ADOPT, extra_vars={"fleet_adopt_from": "deployer"})
    assert proc.returncode != 0 and "Adoption refused" in out and first in out, out
    assert adopted(fleet) == []

    # The first host laid out as Deployer too, but on another current release: the hosts disagree.
    fleet.ssh(first, "rm -rf %s" % ROOT, check=True)
    deployer_deploy(fleet, first, 1, releases["d1"][0])
    deployer_deploy(fleet, first, 2, releases["d2"][0])
    proc, out = play(fleet, ADOPT)
    assert proc.returncode != 0 and "%s: current is 2, on most hosts 3" % first in out, out
    assert adopted(fleet) == []

    deployer_deploy(fleet, first, 3, releases["d3"][0])
    restart_apps(fleet)
    proc, out = play(fleet, ADOPT)
    assert proc.returncode == 0, out
    for name in names(fleet):
        state = json.loads(fleet.host_path(name, ROOT + "/.fleet/state.json").read_text())
        assert state["current"] == "3" and manifest(fleet, name, "3")["shared_paths"] == ["storage"]
    # Deployer's own rollback left 2 with BAD_RELEASE on the other hosts: our rollback skips it there as Deployer's would,
    # and the fleet refuses to split (the first host would go to 2).
    proc, out = play(fleet, ROLLBACK)
    assert proc.returncode != 0 and "different releases" in out, out
    proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "1"})
    assert proc.returncode == 0, out
    assert set(currents(fleet).values()) == {"1"} and {health(fleet, name)["release"] for name in names(fleet)} == {"1"}

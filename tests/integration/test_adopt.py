# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/adopt.yml over real SSH against the test fleet (FLEET_SIZE=6 is enough: rolling a region under load
needs two hosts in it; any size with three regions works).

The hosts are laid out by the old tools: ansistrano by RUNNING its real deploy role (ansistrano/deploy, copy strategy
from a local directory) when a copy of it is at hand (FLEET_ANSISTRANO_MIRROR, default /work/.mirror, a git mirror
of github.com/ansistrano/deploy; nothing of it is vendored into the collection; without it a warning says so) and
always ALSO by the shell commands its tasks run (cited per step), on other hosts with the same release names: the
two layouts must be identical. Capistrano and Deployer (Ruby, PHP: not installed here) by the shell commands those
tools run, cited per step; deploy_helper (a module of community.general, not installed here) by the steps of its
documented use, cited.

Each region is its own inventory view (Fleet.view), with its own fleet-wide lock (on the view's first host) and load
balancer, so that the runs of different views go side by side; the audit directory is the fleet's."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import time
import warnings

import pytest

from load import RequestLoad

from test_release_lifecycle import DEPLOY, ROLLBACK, currents, health, names, play, recap

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADOPT = os.path.join(REPO, "playbooks", "adopt.yml")
ROOT = "/srv/app"
FLEET_LOCK = "/srv/fleetops/fleet.lock"
APP_CONF = "/etc/fleetapp/app.conf"
MIRROR = os.environ.get("FLEET_ANSISTRANO_MIRROR", "/work/.mirror")


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


def deploy_helper_deploy(fleet, host, name, tarball, finish=True):
    """One deploy with community.general's deploy_helper, as its EXAMPLES do it (plugins/modules/deploy_helper.py):
    state=present (mkdir -p releases and shared under path; new_release defaults to time.strftime("%Y%m%d%H%M%S")),
    the code into releases/<name> with the unfinished marker (unfinished_filename, default DEPLOY_UNFINISHED) touched
    in it, a shared folder linked in by absolute path, then state=finalize: the marker removed and current pointed at
    the absolute release path (create_link: a symlink under a temporary name, renamed over current).
    ``finish=False``: the deploy stopped before finalize (the marker stays, current unchanged)."""
    release = "%s/releases/%s" % (ROOT, name)
    sh(fleet, host, "mkdir -p %s/releases %s/shared/uploads" % (ROOT, ROOT))
    unpack(fleet, host, release, tarball)
    sh(fleet, host, "touch %s/DEPLOY_UNFINISHED" % release, "ln -s %s/shared/uploads %s/uploads" % (ROOT, release))
    if finish:
        sh(fleet, host, "rm %s/DEPLOY_UNFINISHED" % release, "ln -s %s %s/current.tmp" % (release, ROOT),
           "mv -T %s/current.tmp %s/current" % (ROOT, ROOT))


def restart_apps(fleet):
    on_hosts(names(fleet), lambda name: sh(fleet, name, "%s restart" % fleet.fleetapp_ctl))
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
    ids = ("20240101120000", "20240102120000", "20240103120000", "a1", "a2", "d1", "d2", "d3",
           "20240201120000", "20240202120000", "20240203120000", "20240204120000")
    return {release_id: fleet.build_release(release_id) for release_id in ids}


# -- ansistrano: the real role, and the same steps as shell commands ---------------------------------------------

def ansistrano_role(tmp_path):
    """A roles directory with ansistrano.deploy taken from the mirror (git archive of its HEAD), or None (and why)."""
    for git_dir in (os.path.join(MIRROR, "ansistrano+deploy", "repo"), os.path.join(MIRROR, "ansistrano+deploy")):
        if os.path.isfile(os.path.join(git_dir, "HEAD")):
            target = tmp_path / "roles" / "ansistrano.deploy"
            target.mkdir(parents=True)
            archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "HEAD"], capture_output=True, check=True, timeout=60)
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=60)
            return tmp_path / "roles", None
    return None, "no git mirror of ansistrano/deploy under %s (FLEET_ANSISTRANO_MIRROR)" % MIRROR


def ansistrano_source(tmp_path, tarball, name):
    """The local directory ansistrano's copy strategy copies from: the release's files."""
    source = tmp_path / "src" / name
    source.mkdir(parents=True)
    subprocess.run(["tar", "-xzf", str(tarball), "-C", str(source)], check=True, timeout=60)
    return source


def ansistrano_real(fleet, roles, source, hosts):
    """One run of the real ansistrano/deploy role over the fleet's SSH: copy strategy from ``source``, log shared, the
    release named by ansistrano itself (date -u +%Y%m%d%H%M%SZ), anonymous stats off (no network here)."""
    playbook = roles.parent / "ansistrano.yml"
    playbook.write_text("- hosts: \"{{ ansistrano_hosts }}\"\n  gather_facts: false\n  roles: [ansistrano.deploy]\n")
    proc = fleet.ansible_playbook(playbook, env={"ANSIBLE_ROLES_PATH": str(roles)}, extra_vars={
        "ansistrano_hosts": ",".join(hosts), "ansistrano_deploy_to": ROOT, "ansistrano_deploy_via": "copy",
        "ansistrano_deploy_from": "%s/" % source, "ansistrano_shared_paths": ["log"], "ansistrano_allow_anonymous_stats": False})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return os.path.basename(os.readlink(fleet.host_path(hosts[0], ROOT + "/current")))


def ansistrano_reproduced(fleet, host, name, tarball, finish=True):
    """The steps of one ansistrano deploy (ansistrano/deploy tasks/), as shell commands: setup.yml (mkdir deploy_to,
    releases, shared, shared/log), update-code/copy.yml (the code into releases/<name>), update-code.yml (REVISION holds
    the release version, no newline), symlink-shared.yml (rm the path, ln -s ../../shared/log <release>/log) and
    symlink.yml (current -> ./releases/<name>). ``finish=False``: killed during update-code (no REVISION)."""
    release = "%s/releases/%s" % (ROOT, name)
    sh(fleet, host, "mkdir -p %s %s/releases %s/shared %s/shared/log" % (ROOT, ROOT, ROOT, ROOT))
    unpack(fleet, host, release, tarball)
    if not finish:
        return
    sh(fleet, host, "printf %%s %s > %s/REVISION" % (name, release), "rm -rf %s/log" % release, "ln -s ../../shared/log %s/log" % release,
       "ln -sfn ./releases/%s %s/current" % (name, ROOT))


def utc_name(after):
    """An ansistrano release name (date -u +%Y%m%d%H%M%SZ) later than ``after``."""
    while True:
        name = time.strftime("%Y%m%d%H%M%SZ", time.gmtime())
        if name > after:
            return name
        time.sleep(0.2)


# -- what the runs leave ----------------------------------------------------------------------------------------

def state(fleet, host):
    return json.loads(fleet.host_path(host, ROOT + "/.fleet/state.json").read_text())


def history(fleet, host):
    return [json.loads(line) for line in fleet.host_path(host, ROOT + "/.fleet/history.jsonl").read_text().splitlines()]


def audit(fleet, run_id):
    """The audit records of run ``run_id`` (fleet_audit_dir is the fleet's state directory's audit/)."""
    records = []
    directory = fleet.state_dir / "audit"
    # The day files only: the directory also keeps the drills' reports (drills/) when a drill ran before.
    for path in sorted(directory.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [record for record in records if record.get("operation") == "adopt" and record["run_id"] == run_id]


def locks_left(fleet):
    return [name for name in names(fleet) if fleet.host_path(name, ROOT + "/.fleet/lock").exists()
            or fleet.host_path(name, FLEET_LOCK).exists()]


def app_conf(fleet, host):
    return fleet.host_path(host, APP_CONF).read_text()


def under_load(fleet, playbook, **kwargs):
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, out = play(fleet, playbook, **kwargs)
    assert proc.returncode == 0, out
    assert all(counts["ok"] > 0 for counts in load.summary().values()) and not load.failures, (load.summary(), load.failures[:5])
    return out


@pytest.fixture(name="hand_conf")
def fixture_hand_conf(fleet):
    """Each host's app.conf, put back afterwards (the test edits it by hand)."""
    saved = {name: app_conf(fleet, name) for name in names(fleet)}
    yield
    for name, text in saved.items():
        fleet.host_path(name, APP_CONF).write_text(text)


def parallel(*calls):
    """Run the calls side by side (each region of the fleet is its own view, with its own fleet-wide lock and load
    balancer, so runs on different views do not wait for each other); their results, in order."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def on_hosts(hosts, step):
    parallel(*[lambda host=host: step(host) for host in hosts])


# -- tests --------------------------------------------------------------------------------------------------------

def test_ansistrano_and_capistrano_hosts_adopted_then_rolled_back_and_deployed_under_load(fleet, releases, clean, hand_conf, tmp_path):
    """Two regions: the first laid out by Capistrano; the second by ansistrano - half of its hosts by the real role,
    the other half by its steps as shell commands, with the same release names."""
    cap_view, ans_view, both = fleet.view(fleet.regions[:1]), fleet.view(fleet.regions[1:2]), fleet.view(fleet.regions[:2])
    caps, ansistrano = names(cap_view), names(ans_view)
    real, copies = ansistrano[:len(ansistrano) // 2], ansistrano[len(ansistrano) // 2:]
    c1, c2, c3 = "20240101120000", "20240102120000", "20240103120000"

    def capistrano(host):
        capistrano_deploy(fleet, host, c1, releases[c1][0])
        capistrano_deploy(fleet, host, c2, releases[c2][0])
        capistrano_deploy(fleet, host, c3, releases[c3][0], finish=False)  # died before the switch

    roles, why = ansistrano_role(tmp_path)

    def ansistrano_runs():
        if roles is None:
            warnings.warn("ansistrano's real role is not run: %s; every ansistrano host is laid out by its steps as shell "
                          "commands" % why)
            names_ = [utc_name("")]
            names_.append(utc_name(names_[0]))
            for name, release in zip(names_, ("a1", "a2")):
                on_hosts(real, lambda host, name=name, release=release: ansistrano_reproduced(fleet, host, name, releases[release][0]))
            return names_
        return [ansistrano_real(fleet, roles, ansistrano_source(tmp_path, releases[release][0], release), real) for release in ("a1", "a2")]

    (a1, a2), *dummy = parallel(ansistrano_runs, *[lambda host=host: capistrano(host) for host in caps])
    killed = utc_name(a2)  # a deploy killed during update-code, on every ansistrano host

    def reproduce(host):
        if host in copies:
            for name, release in ((a1, "a1"), (a2, "a2")):
                ansistrano_reproduced(fleet, host, name, releases[release][0])
        ansistrano_reproduced(fleet, host, killed, releases["a2"][0], finish=False)

    on_hosts(ansistrano, reproduce)
    restart_apps(both)
    laid_out = snapshot(both)
    if roles is not None:  # the reproduction is the real thing, file for file and link for link
        assert ({key[1]: value for key, value in laid_out.items() if key[0] == real[0]}
                == {key[1]: value for key, value in laid_out.items() if key[0] == copies[0]})

    # Hosts that disagree (another tool) stop the run before anything is written anywhere; so does another run's
    # fleet-wide lock (named); check mode writes nothing either.
    taken = time.time()
    lock = fleet.host_path(caps[0], FLEET_LOCK)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"holder": "alice@elsewhere run 20260101T000000Z-7", "reason": "deploy", "run_id": "20260101T000000Z-7",
                                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(taken)),
                                "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(taken + 600))}))
    (proc, out), checked = parallel(lambda: play(cap_view, ADOPT), lambda: ans_view.ansible_playbook(ADOPT, "--diff", check=True))
    assert proc.returncode != 0 and "alice@elsewhere run 20260101T000000Z-7" in out, out
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert adopted(both) == [] and snapshot(both) == laid_out
    lock.unlink()
    proc, out = play(both, ADOPT)
    assert proc.returncode != 0 and "Adoption refused; nothing was written on any host" in out, out
    # As many hosts of each: the tie goes to the first name (every host computes the same).
    assert all("%s: laid out by capistrano, most hosts by ansistrano" % host in out for host in caps), out
    assert adopted(both) == [] and snapshot(both) == laid_out and locks_left(both) == []

    # Capistrano: order from revisions.log, the release that died left out, log shared. ansistrano: order from the
    # names, the killed release left out, and the live configuration kept as the current release's snapshot.
    live = {host: app_conf(fleet, host) for host in ansistrano}
    config = {"fleet_config_paths": [APP_CONF]}
    (proc, out), (ans_proc, ans_out) = parallel(lambda: play(cap_view, ADOPT, extra_vars={"fleet_reason": "leaving capistrano"}),
                                                lambda: play(ans_view, ADOPT, extra_vars=dict(config, fleet_reason="leaving ansistrano")))
    assert proc.returncode == 0, out
    assert ans_proc.returncode == 0, ans_out
    for host in caps:
        assert (manifest(fleet, host, c1)["sequence"], manifest(fleet, host, c2)["sequence"]) == (1, 2)
        assert manifest(fleet, host, c2)["shared_paths"] == ["log"] and manifest(fleet, host, c2)["created_by"] == "adopt:capistrano"
        assert not fleet.host_path(host, "%s/releases/%s/.fleet-release.json" % (ROOT, c3)).exists()
        assert (state(fleet, host)["current"], state(fleet, host)["previous"], state(fleet, host)["adopted"]["from"]) == (c2, c1, "capistrano")
    for host in ansistrano:
        assert [manifest(fleet, host, name)["sequence"] for name in (a1, a2)] == [1, 2]
        assert manifest(fleet, host, a2)["revision"] == a2 and manifest(fleet, host, a2)["shared_paths"] == ["log"]
        assert not fleet.host_path(host, "%s/releases/%s/.fleet-release.json" % (ROOT, killed)).exists()
        assert (state(fleet, host)["current"], state(fleet, host)["previous"]) == (a2, a1)
        assert fleet.host_path(host, "%s/snapshots/%s/.fleet-snapshot.json" % (ROOT, a2)).exists()
        # The host's history: the adoption, then the run's line (written when its lock was released).
        adopt_line, run_line = history(fleet, host)[-2:]
        assert adopt_line["event"] == "adopt" and adopt_line["run_id"] == run_line["run_id"]
        assert (run_line["event"], run_line["operation"], run_line["outcome"], run_line["to"]) == ("run", "adopt", "adopted", a2)
    # The audit record: who adopted what, per host.
    [record] = audit(fleet, history(fleet, ansistrano[0])[-1]["run_id"])
    assert record["operator"]["name"] and record["controller"] and record["reason"] == "leaving ansistrano"
    assert {host: (entry["tool"], entry["to"], entry["releases"], entry["outcome"], entry["unfinished"])
            for host, entry in record["hosts"].items()} == {host: ("ansistrano", a2, [a1, a2], "adopted", [killed]) for host in ansistrano}
    assert locks_left(both) == []
    after = snapshot(both)
    assert {key: value for key, value in after.items() if key in laid_out} == laid_out  # nothing moved, renamed or deleted

    # Adopting twice changes nothing (the run leaves only its line in each host's history, and its audit record), while
    # the Capistrano hosts go back to the previous release Capistrano left, under continuous requests.
    (proc, out), dummy = parallel(lambda: play(ans_view, ADOPT, extra_vars=config),
                                  lambda: under_load(cap_view, ROLLBACK, extra_vars={"fleet_reason": "first rollback after adoption"}))
    assert proc.returncode == 0, out
    assert all(recap(out)[name]["changed"] == 0 for name in ansistrano), out
    assert all(history(fleet, host)[-1]["outcome"] == "unchanged" for host in ansistrano)
    unchanged = snapshot(ans_view)
    assert {key: value for key, value in unchanged.items() if key[1] != ".fleet/history.jsonl"} == {
        key: value for key, value in after.items() if key[0] in ansistrano and key[1] != ".fleet/history.jsonl"}
    expected = dict({host: c1 for host in caps}, **{host: a2 for host in ansistrano})
    assert currents(both) == expected and {name: health(fleet, name)["release"] for name in names(both)} == expected

    # The next release into the same releases/ directories, named as ansistrano names them (Capistrano sorts it last too).
    a3 = utc_name(killed)
    artifact, sha = fleet.build_release(a3)
    under_load(both, DEPLOY, extra_vars=dict(config, fleet_release=a3, fleet_artifact=str(artifact), fleet_artifact_sha256=sha))
    assert set(currents(both).values()) == {a3} and {health(fleet, name)["release"] for name in names(both)} == {a3}
    for name in names(both):
        assert manifest(fleet, name, a3)["sequence"] == 3
    assert all(sorted(os.listdir(fleet.host_path(host, ROOT + "/releases"))) == [c1, c2, c3, a3] for host in caps)
    assert all(sorted(os.listdir(fleet.host_path(host, ROOT + "/releases"))) == [a1, a2, killed, a3] for host in ansistrano)
    # The old tool's record is untouched: Capistrano still finds its releases and its log.
    assert all(fleet.host_path(host, ROOT + "/revisions.log").read_text().count("deployed as release") == 2 for host in caps)

    # Rolled back, the ansistrano hosts go to the release ansistrano left, with the configuration adoption kept for it
    # (an edit by hand since is undone, and saved as drift); meanwhile, adopting the Capistrano hosts again after a
    # deploy of ours changes nothing.
    for host in ansistrano:
        fleet.host_path(host, APP_CONF).write_text(live[host] + "greeting = edited by hand\n")
    dummy, (proc, out) = parallel(lambda: under_load(ans_view, ROLLBACK, extra_vars=config), lambda: play(cap_view, ADOPT))
    assert proc.returncode == 0, out
    assert all(recap(out)[name]["changed"] == 0 for name in caps), out
    for host in ansistrano:
        assert health(fleet, host)["release"] == a2 and app_conf(fleet, host) == live[host]
        assert "greeting" not in health(fleet, host)["config"]


def test_unknown_layout_and_unknown_order_stop_with_nothing_written_then_an_explicit_order_adopts(fleet, releases, clean):
    """us: ansistrano releases named by hand (ansistrano_release_version); eu: releases and current, no tool's record
    or marker; ap: Deployer, whose own rollback left release 2 marked BAD_RELEASE."""
    us_view, ap_view = fleet.view(fleet.regions[:1]), fleet.view(fleet.regions[2:])
    named, unknown, deployer = names(us_view), names(fleet.view(fleet.regions[1:2])), names(ap_view)

    def lay_out(host):
        if host in named:
            for name, release in (("v1.2", "a1"), ("v1.10", "a2")):
                ansistrano_reproduced(fleet, host, name, releases[release][0])
        elif host in unknown:
            for release in ("d1", "d2"):
                unpack(fleet, host, "%s/releases/%s" % (ROOT, release), releases[release][0])
            sh(fleet, host, "ln -s releases/d2 %s/current" % ROOT)
        else:
            deployer_deploy(fleet, host, 1, releases["d1"][0])
            deployer_deploy(fleet, host, 2, releases["d2"][0], rollback_to=1)
            deployer_deploy(fleet, host, 3, releases["d3"][0])

    on_hosts(names(fleet), lay_out)
    restart_apps(fleet)
    laid_out = snapshot(fleet)

    # One refusal lists every host that cannot be adopted as it is, with what to do; nothing is written anywhere.
    proc, out = play(fleet, ADOPT)
    assert proc.returncode != 0 and "Adoption refused; nothing was written on any host" in out, out
    for host in named:  # the names carry no time stamp, and ansistrano keeps no record: the order is asked for
        assert "%s: cannot know the order of the ansistrano releases" % host in out and "fleet_adopt_order" in out, out
        assert "oldest first: v1.10, v1.2" in out, out
    for host in unknown:
        assert "%s: the layout under /srv/app is not one of ansistrano, capistrano, deployer or deploy_helper" % host in out, out
    assert not any("%s:" % host in out for host in deployer), out
    assert adopted(fleet) == [] and snapshot(fleet) == laid_out and locks_left(fleet) == []

    def explicit_order():
        proc, out = play(us_view, ADOPT, extra_vars={"fleet_adopt_order": ["v1.2", "v1.10"]})
        assert proc.returncode == 0, out
        for host in named:
            assert [manifest(fleet, host, name)["sequence"] for name in ("v1.2", "v1.10")] == [1, 2]
            assert state(fleet, host)["adopted"]["order_source"] == "order option"
            assert (state(fleet, host)["current"], state(fleet, host)["previous"]) == ("v1.10", "v1.2")

    def told_the_tool():
        # Told the tool, the unknown hosts ask for the order (their names carry no Deployer record).
        proc, out = play(fleet.view(fleet.regions[1:2]), ADOPT, extra_vars={"fleet_adopt_from": "deployer"})
        assert proc.returncode != 0 and "Adoption refused" in out and all(host in out for host in unknown), out

    def deployer_adopted_and_rolled_back():
        proc, out = play(ap_view, ADOPT)
        assert proc.returncode == 0, out
        for host in deployer:
            assert state(fleet, host)["current"] == "3" and manifest(fleet, host, "3")["shared_paths"] == ["storage"]
            assert "2" in state(fleet, host)["bad"]
        # Deployer's own rollback left 2 with BAD_RELEASE: our rollback skips it, as Deployer's would.
        under_load(ap_view, ROLLBACK)
        assert {currents(fleet)[host] for host in deployer} == {"1"} and {health(fleet, host)["release"] for host in deployer} == {"1"}

    parallel(explicit_order, told_the_tool, deployer_adopted_and_rolled_back)
    assert not any(mark[0] in unknown for mark in adopted(fleet))


def test_deploy_helper_hosts_adopted_then_rolled_back_and_deployed_under_load(fleet, releases, clean):
    """The third region laid out by deploy_helper: two finalized releases and one that never got to finalize."""
    view = fleet.view(fleet.regions[2:])
    hosts = names(view)
    h1, h2, h3, h4 = "20240201120000", "20240202120000", "20240203120000", "20240204120000"

    def lay_out(host):
        deploy_helper_deploy(fleet, host, h1, releases[h1][0])
        deploy_helper_deploy(fleet, host, h2, releases[h2][0])
        deploy_helper_deploy(fleet, host, h3, releases[h3][0], finish=False)

    on_hosts(hosts, lay_out)
    restart_apps(view)
    laid_out = snapshot(view)

    # Order from the names (deploy_helper's timestamps), the release that never got to finalize left out.
    proc, out = play(view, ADOPT)
    assert proc.returncode == 0, out
    for host in hosts:
        assert state(fleet, host)["adopted"]["from"] == "deploy_helper"
        assert [manifest(fleet, host, name)["sequence"] for name in (h1, h2)] == [1, 2]
        assert not fleet.host_path(host, "%s/releases/%s/.fleet-release.json" % (ROOT, h3)).exists()
        assert (state(fleet, host)["current"], state(fleet, host)["previous"]) == (h2, h1)
    assert locks_left(view) == []
    assert {key: value for key, value in snapshot(view).items() if key in laid_out} == laid_out  # nothing moved

    # Back to the release deploy_helper deployed before, then the next one into the same releases/, under requests.
    under_load(view, ROLLBACK)
    assert set(currents(view).values()) == {h1} and {health(fleet, host)["release"] for host in hosts} == {h1}
    artifact, sha = releases[h4]
    under_load(view, DEPLOY, extra_vars={"fleet_release": h4, "fleet_artifact": str(artifact), "fleet_artifact_sha256": sha})
    assert set(currents(view).values()) == {h4} and {health(fleet, host)["release"] for host in hosts} == {h4}
    for host in hosts:
        assert manifest(fleet, host, h4)["sequence"] == 3
        assert sorted(os.listdir(fleet.host_path(host, ROOT + "/releases"))) == [h1, h2, h3, h4]
        # deploy_helper's marker of the unfinished release is still there: its own clean-up still knows it.
        assert fleet.host_path(host, "%s/releases/%s/DEPLOY_UNFINISHED" % (ROOT, h3)).exists()

    # Adopting again after a deploy of ours changes nothing.
    proc, out = play(view, ADOPT)
    assert proc.returncode == 0, out
    assert all(recap(out)[name]["changed"] == 0 for name in hosts), out

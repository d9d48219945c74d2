# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""deploy.yml and rollback.yml walking coordinated waves over the three regions of the test fleet (roles/waves), and a
deploy limited to one region.

The module deploys its own releases (w-*) on top of the session's base state (every host on base-2, conftest.py
on_base), which the ``on_w1`` fixture names.
"""

from __future__ import annotations

import calendar
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

import fleetlib
from load import RequestLoad
# The playbook runner and the readers of the hosts' state of the lifecycle tests: one helper each, not a copy.
from test_release_lifecycle import DEPLOY, ROLLBACK, currents, deploy, health, history_changes, history_lengths, names, play, recap

from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

pytestmark = pytest.mark.fleet

GOOD = ("w-2", "w-3")
# w-2 was rolled back away from by an earlier test, so it is known-bad: deploying it again is on purpose.
AGAIN = {"fleet_allow_bad_release": True}
# Issue 15: with the default health wait, a canary on a bad release is back on the old one within this many seconds
# of its switch (a health endpoint that fails, or a process that crashes at start).
DETECT_AND_REVERT_SECONDS = 20
ISO = "%Y-%m-%dT%H:%M:%SZ"
STATUS = os.path.join(os.path.dirname(DEPLOY), "status.yml")

# A "Summarize the run" line: host region from -> to outcome.
SUMMARY_LINE = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+-> (\S+)\s+(.*)$")
ACTIVATED = re.compile(r"^(?:ok|changed|failed|fatal): \[([^\]]+)\]", re.M)


# -- reading the fleet --------------------------------------------------------------------------------

def summary(out):
    """{host: {"region", "from", "to", "outcome"}} from the last "Summarize the run" of a playbook output."""
    section = re.split(r"\n(?:TASK|PLAY) \[", out.rsplit("Summarize the run] ***", 1)[-1], maxsplit=1)[0]
    # The YAML callback folds long lines: read the message as YAML rather than line by line.
    message = yaml.safe_load(section.split("=>", 1)[1])["msg"]
    rows = {}
    for line in message.splitlines() if isinstance(message, str) else message:
        match = SUMMARY_LINE.match(line)
        if match:
            host, region, source, target, outcome = match.groups()
            rows[host] = {"region": region, "from": source, "to": target, "outcome": outcome}
    return rows


def walked_batches(out):
    """[[hosts]] of the forward walk, batch after batch: the walk play runs once per batch (serial), and its
    "Put the release live" task answers for exactly that batch's hosts."""
    forward = out.split("put every touched host back", 1)[0]
    batches = []
    for section in forward.split("PLAY [Deploy - walk the waves]")[1:]:
        task = section.split("Put the release live", 1)[-1].split("TASK [", 1)[0]
        batches.append(ACTIVATED.findall(task))
    return batches


def health_releases(fleet):
    return {name: health(fleet, name)["release"] for name in names(fleet)}


def lb_statuses(fleet):
    """{server: status} of every region's HAProxy (UP, DOWN, DRAIN, MAINT, ...)."""
    return {server: status for region in fleet.regions for server, status in fleet.lb_servers(region).items()}


def lb_last_changes(fleet):
    """{server: seconds since its status last changed} of every region's HAProxy."""
    rows = [row for region in fleet.regions for row in fleetlib.parse_show_stat(fleet.lb_command(region, "show stat"))]
    return {row["svname"]: int(row["lastchg"]) for row in rows if row["svname"] not in ("FRONTEND", "BACKEND")}


def history(fleet, name):
    path = fleet.host_path(name, "/srv/app/.fleet/history.jsonl")
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def run_lines(fleet, name):
    """The host's history lines that summarise a run (written when the run releases the host's lock)."""
    return [entry for entry in history(fleet, name) if entry.get("event") == "run"]


def lb_urls(fleet):
    return [fleet.lb_url(region) for region in fleet.regions]


def assert_load_clean(load):
    # Requests reached every region (else "no failure" proves nothing), and none failed.
    assert all(counts["ok"] > 0 for counts in load.summary().values()), load.summary()
    assert not load.failures, (load.summary(), load.failures[:5])


def plan(fleet, **options):
    """The planner's waves over the whole fleet, hosts in inventory order."""
    by_region = {region: [host.name for host in fleet.hosts_in(region)] for region in fleet.regions}
    return plan_waves(by_region, **options)


# -- a host's sshd (fleetlib has no helper to stop and start one host) -----------------------------

def host_namespace_pids(fleet, name):
    return [pid for pid, host in fleetlib.fleet_namespace_pids(fleet.state_dir).items() if host == name]


def stop_sshd(fleet, name):
    """Kill every sshd of the host (the listener and the sessions, which also ends the controller's ControlMaster).
    The app keeps running."""
    sshd_pids = [pid for pid in host_namespace_pids(fleet, name) if fleetlib._proc_exe(pid) == fleetlib.SSHD]  # pylint: disable=protected-access
    for pid in sshd_pids:
        os.kill(pid, signal.SIGTERM)
    assert not fleetlib.wait_gone(sshd_pids, 10.0), "sshd of %s did not stop" % name


def start_sshd(fleet, name):
    """Start the host's sshd again, in the mount namespace its app still lives in: fleetapp-ctl only manages an app
    of its own namespace. Without any process left there, a new namespace the way fleetctl up makes one."""
    paths, host = fleet.paths, fleet.host(name)
    sshd = [fleetlib.SSHD, "-D", "-f", str(paths.sshd_config(name)), "-E", str(paths.sshd_log(name))]
    survivors = host_namespace_pids(fleet, name)
    if survivors:
        command = ["nsenter", "--mount=/proc/%d/ns/mnt" % survivors[0], "--"] + sshd
    else:
        command = [fleetlib.UNSHARE, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", fleetlib.HOST_LAUNCHER,
                   "fleet-host-" + name, str(paths.host_srv(name)), str(paths.host_etc(name))] + sshd
    with open(paths.host_dir(name) / "console.log", "ab") as console:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + fleetlib.START_TIMEOUT
    while not (fleetlib.read_pid(paths.sshd_pidfile(name)) == proc.pid
               and fleetlib._ssh_banner_ok(host.address, host.port)):  # pylint: disable=protected-access
        assert proc.poll() is None and time.monotonic() < deadline, "sshd of %s did not start: %s" % (name, fleetlib.tail(paths.sshd_log(name)))
        time.sleep(0.05)


def deploy_losing_a_host_after_wave_one(fleet, releases, release_id, victim, tmp_path, extra_vars):
    """Deploy ``release_id``; once wave 1 is done (an after-wave hook holds the run), stop ``victim``'s sshd, so that the
    host answered the preflight and is unreachable from wave 2 on. The caller starts the sshd again."""
    hook = tmp_path / "after_wave.yml"
    hook.write_text(
        "- name: Tell the test that wave 1 is done\n"
        "  ansible.builtin.file: {path: \"%(dir)s/wave-1-done\", state: touch}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 1\n"
        "- name: Wait until the test has stopped the host's sshd\n"
        "  ansible.builtin.wait_for: {path: \"%(dir)s/sshd-stopped\", timeout: 60}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 1\n" % {"dir": tmp_path})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(deploy, fleet, releases, release_id, extra_vars={"fleet_hook_after_wave": str(hook), **extra_vars})
        while not (tmp_path / "wave-1-done").exists() and not running.done():
            time.sleep(0.2)
        stop_sshd(fleet, victim)
        (tmp_path / "sshd-stopped").touch()
        return running.result()


# -- a deploy killed in the middle of a wave (used by test_run_deadline_and_dead_locks.py, test_recovery_after_faults.py)

def start_deploy(fleet, releases, release_id, extra_vars):
    """ansible-playbook deploy.yml in its own process group, so the test can kill -9 all of it."""
    path, sha = releases[release_id]
    extra = {"fleet_release": release_id, "fleet_artifact": str(path), "fleet_artifact_sha256": sha, **extra_vars}
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH="%s%s%s" % (bin_dir, os.pathsep, os.environ.get("PATH", "")))
    log = open(fleet.state_dir / "killed-deploy.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [str(bin_dir / "ansible-playbook"), "-i", str(fleet.inventory), "-e", json.dumps(extra), DEPLOY],
        cwd=str(Path(DEPLOY).parent.parent), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def hold_in_wave_two_hook(tmp_path):
    """A before-switch hook that touches ``<tmp_path>/drained`` once wave 2 is drained, then waits to be killed."""
    hook = tmp_path / "before_switch.yml"
    hook.write_text(
        "- name: Tell the test that wave 2 is drained\n"
        "  ansible.builtin.file: {path: \"%(dir)s/drained\", state: touch}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 2\n"
        "- name: Wait to be killed\n"
        "  ansible.builtin.wait_for: {path: \"%(dir)s/never\", timeout: 120}\n"
        "  delegate_to: localhost\n"
        "  when: fleet_batch.wave == 2\n" % {"dir": tmp_path})
    return hook


def kill_deploy_in_wave_two(fleet, releases, release_id, tmp_path, extra_vars=None):
    """deploy.yml held in wave 2 after its hosts were drained and before they switch, then killed with kill -9 of it
    and every descendant; returns the killed process."""
    hook = hold_in_wave_two_hook(tmp_path)
    proc, log = start_deploy(fleet, releases, release_id, {"fleet_hook_before_switch": str(hook), **(extra_vars or {})})
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "drained").exists():
            assert proc.poll() is None and time.monotonic() < deadline, (fleet.state_dir / "killed-deploy.log").read_text()
            time.sleep(0.2)
        time.sleep(1)
    finally:
        fleetlib.kill_tree(proc.pid)
        proc.wait(timeout=30)
        log.close()
    return proc


# -- fixtures -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module", name="releases")
def fixture_releases(fleet, base_artifacts):
    built = dict(base_artifacts)  # the base releases every host runs at the start (a deploy of base-2 changes nothing)
    built.update({release_id: fleet.build_release(release_id) for release_id in GOOD})
    built["w-bad"] = fleet.build_release("w-bad", health="fail")
    built["w-crash"] = fleet.build_release("w-crash", crash=True)
    built["w-partial"] = fleet.build_release("w-partial")
    built["w-region"] = fleet.build_release("w-region")
    return built


@pytest.fixture(scope="module", name="on_w1")
def fixture_on_w1(on_base):
    """Every host on one release (the session's base release, conftest.py on_base, where the module once deployed w-1)
    and in rotation to start with; returns that release."""
    return on_base


def release_stale_locks(fleet):
    """Remove the locks that runs of this module left behind (a run that lost a host cannot unlock it); return
    the hosts that had one."""
    locked = [name for name in names(fleet) if os.path.exists(fleet.host_path(name, "/srv/app/.fleet/lock"))]
    for name in locked:
        holder = json.loads(fleet.host_path(name, "/srv/app/.fleet/lock").read_text())["holder"]
        results, proc = fleet.ansible_module(name, "fleetops.release.release_lock", {"holder": holder, "state": "absent"})
        assert not results[name]["failed"], proc.stdout
    return locked


# -- tests ----------------------------------------------------------------------------------------------

def test_deploy_and_rollback_under_load_lose_no_request(fleet, releases, on_w1):
    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, out = deploy(fleet, releases, "w-2")
    assert proc.returncode == 0, out
    assert_load_clean(load)
    assert load.releases_seen() <= {on_w1, "w-2"}, load.releases_seen()
    assert set(health_releases(fleet).values()) == {"w-2"}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    # The waves ran in the plan's order: every host of a wave switched before any host of the next one.
    switched_at = {name: [entry for entry in history_changes(fleet, name) if entry.get("to") == "w-2"][-1]["time"] for name in names(fleet)}
    waves = plan(fleet)
    for earlier, later in zip(waves, waves[1:]):
        assert max(switched_at[name] for name in earlier["hosts"]) <= min(switched_at[name] for name in later["hosts"]), switched_at

    with RequestLoad(lb_urls(fleet), path="/health") as load:
        proc, out = play(fleet, ROLLBACK)
    assert proc.returncode == 0, out
    assert_load_clean(load)
    assert set(health_releases(fleet).values()) == {on_w1}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    rows = summary(out)
    assert set(rows) == set(names(fleet)), out
    assert all((row["from"], row["to"], row["outcome"]) == ("w-2", on_w1, "switched") for row in rows.values()), rows


def test_second_run_of_a_deploy_changes_nothing(fleet, releases, on_w1):
    # The rollback of the first test came back to on_w1's release: deploying it again is a second run.
    assert set(currents(fleet).values()) == {on_w1}
    before = currents(fleet), history_lengths(fleet), lb_last_changes(fleet)
    proc, out = deploy(fleet, releases, on_w1)
    assert proc.returncode == 0, out
    rows = recap(out)
    assert all(rows[name]["changed"] == 0 for name in names(fleet)), out
    assert {row["outcome"] for row in summary(out).values()} == {"unchanged"}, out
    after = currents(fleet), history_lengths(fleet), lb_last_changes(fleet)
    assert after[:2] == before[:2]
    # Only the run's own line was added to each host's history: it changed nothing there.
    assert {run_lines(fleet, name)[-1]["outcome"] for name in names(fleet)} == {"unchanged"}
    # No server changed state in the meantime: its time since the last change only grew.
    assert all(after[2][server] >= seconds for server, seconds in before[2].items()), (before[2], after[2])


def seconds_between(first, last):
    """Seconds from one history entry's time to another's (ISO 8601 UTC, whole seconds)."""
    return calendar.timegm(time.strptime(last["time"], ISO)) - calendar.timegm(time.strptime(first["time"], ISO))


@pytest.mark.parametrize("bad", ["w-bad", "w-crash"])
def test_bad_release_is_caught_at_the_canaries_and_reverted(fleet, releases, on_w1, bad):
    """With the default health wait (no timeout tuned for the test), a release whose health check fails, and one
    whose process crashes at start, are caught at the canaries and reverted within DETECT_AND_REVERT_SECONDS."""
    old = currents(fleet)
    assert len(set(old.values())) == 1, old
    old_release = next(iter(old.values()))
    canaries = plan(fleet)[0]["hosts"]
    later = [name for name in names(fleet) if name not in canaries]
    later_history = {name: history_changes(fleet, name) for name in later}

    proc, out = deploy(fleet, releases, bad)
    assert proc.returncode != 0, out
    for name in canaries:
        assert re.search(r"wave 1 \S+ %s: forward switch" % re.escape(name), out), out
    rows = summary(out)
    assert {name for name, row in rows.items() if row["outcome"] == "reverted"} == set(canaries), rows
    assert all(rows[name]["outcome"].startswith("not started") for name in later), rows

    # Everyone back (the canaries did run w-bad in between), every LB server in rotation again.
    assert currents(fleet) == old
    assert set(health_releases(fleet).values()) == {old_release}
    assert set(lb_statuses(fleet).values()) == {"UP"}
    for name in canaries:
        switches = [entry for entry in history_changes(fleet, name) if "to" in entry]
        assert [entry["to"] for entry in switches][-2:] == [bad, old_release], name
        assert run_lines(fleet, name)[-1]["outcome"] == "reverted", name
        # The revert left the bad release: it is known-bad there now, so no later rollback picks it.
        assert bad in json.loads(fleet.host_path(name, "/srv/app/.fleet/state.json").read_text())["bad"], name
        # From the switch to the bad release to the host back on the old one, confirmed and healthy (the mark is
        # written after that): the health wait did not wait out its timeout.
        marked = [entry for entry in history_changes(fleet, name) if entry.get("operation") == "mark_bad"][-1]
        assert seconds_between(switches[-2], marked) <= DETECT_AND_REVERT_SECONDS, (name, switches[-2:], marked)
    # Hosts of later waves were never switched; their history says the run never got to them (pending).
    assert {name: history_changes(fleet, name) for name in later} == later_history
    assert all(run_lines(fleet, name)[-1]["outcome"] == "pending" for name in later)


def test_rollback_preflight_failure_changes_nothing(fleet, releases, on_w1):
    lacking = names(fleet)[-1]
    path, sha = releases["w-partial"]
    unpack = {"app_root": "/srv/app", "release": "w-partial", "artifact": str(path), "sha256": sha}
    results, proc = fleet.ansible_module("fleet:!%s" % lacking, "fleetops.release.release", unpack)
    assert not any(result["failed"] for result in results.values()), proc.stdout
    try:
        before = currents(fleet), history_lengths(fleet), lb_statuses(fleet), lb_last_changes(fleet)
        proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": "w-partial"})
        assert proc.returncode != 0, out
        assert "nothing was changed" in out and lacking in out and "release w-partial does not exist" in out, out
        after = currents(fleet), history_lengths(fleet), lb_statuses(fleet), lb_last_changes(fleet)
        assert after[:3] == before[:3]
        assert all(after[3][server] >= seconds for server, seconds in before[3].items()), (before[3], after[3])
    finally:
        fleet.ansible_module("fleet:!%s" % lacking, "fleetops.release.release", {"app_root": "/srv/app", "release": "w-partial", "state": "absent"})


def test_unreachable_host_in_wave_two_stops_reverts_status_shows_it_and_the_advised_rerun_converges(fleet, releases, on_w1, tmp_path):
    """A host lost in wave 2 stops the run, which reverts what it switched and leaves the lost host drained, holding the
    run's lock; status.yml shows it drained; the re-run the failure advises (-e fleet_break_lock_of_run=<run>), here a
    rollback to the release every host runs, takes the lock over, switches nothing and puts the host back in rotation.

    (Merged from this module's lost-host test and test_recovery_after_faults.py's drained-host test, which each paid
    for a deploy that loses a host. That a re-run without the option breaks the lock of a run whose process is gone
    is proved for killed runs: test_run_deadline_and_dead_locks.py, test_recovery_after_faults.py.)
    """
    assert set(currents(fleet).values()) == {on_w1}
    waves = plan(fleet)
    victim = waves[1]["hosts"][len(waves[1]["hosts"]) // 2]
    try:
        proc, out = deploy_losing_a_host_after_wave_one(fleet, releases, "w-2", victim, tmp_path, AGAIN)
        assert proc.returncode != 0, out
        assert re.search(r"wave 2 \S+ %s: forward unreachable" % re.escape(victim), out), out
        rows = summary(out)
        assert rows[victim]["outcome"] == "unreachable (left out of its load balancer)", rows
        switched = waves[0]["hosts"] + [name for name in waves[1]["hosts"] if name != victim]
        assert {name for name, row in rows.items() if row["outcome"] == "reverted"} == set(switched), rows
        assert set(currents(fleet).values()) == {on_w1}
        assert set(health_releases(fleet).values()) == {on_w1}
        statuses = lb_statuses(fleet)
        assert statuses.pop(victim) == "DRAIN" and set(statuses.values()) == {"UP"}, lb_statuses(fleet)
        # The unreachable host kept the run's lock; the failure says how to take it over once the host is back.
        hint = re.search(r"-e fleet_break_lock_of_run=(\S+) to converge", out)
        assert hint and victim in out.split("still holding this run's lock")[1].split("\n")[0], out
    finally:
        start_sshd(fleet, victim)
    assert lb_statuses(fleet)[victim] == "DRAIN"

    try:
        # status.yml shows the drained host in its lb column, as a table and as JSON.
        status_file = tmp_path / "status.json"
        proc, out = play(fleet, STATUS, extra_vars={"fleet_status_file": str(status_file)})
        assert proc.returncode == 0, out
        assert re.search(r"%s\s+%s\s+\S+\s+drain\b" % (re.escape(victim), re.escape(on_w1)), out), out
        status_rows = {row["host"]: row for region in json.loads(status_file.read_text())["regions"] for row in region["hosts"]}
        assert status_rows[victim]["lb"] == "drain", status_rows
        assert {status_rows[name]["lb"] for name in names(fleet) if name != victim} == {"ready"}, status_rows

        # The advised re-run: a rollback to the release every host runs switches nothing, takes over the lock the
        # failed run left on the victim, and puts the drained host back in rotation.
        proc, out = play(fleet, ROLLBACK, extra_vars={"fleet_release": on_w1, "fleet_break_lock_of_run": hint.group(1)})
        assert proc.returncode == 0, out
        rows = summary(out)
        assert rows[victim]["outcome"] == "back in rotation", out
        assert {row["outcome"] for name, row in rows.items() if name != victim} == {"unchanged"}, out
        assert set(currents(fleet).values()) == {on_w1}
        assert set(health_releases(fleet).values()) == {on_w1}
        assert set(lb_statuses(fleet).values()) == {"UP"}
        assert not [name for name in names(fleet) if os.path.exists(fleet.host_path(name, "/srv/app/.fleet/lock"))]
    finally:
        if release_stale_locks(fleet):
            # The re-run was refused: put the fleet back on one release, in rotation, for the next tests.
            deploy(fleet, releases, "w-2", extra_vars=AGAIN)


def test_min_healthy_splits_a_wave_and_the_regions_keep_serving(fleet, releases, on_w1):
    region_size = {region: len(fleet.hosts_in(region)) for region in fleet.regions}
    assert set(region_size.values()) == {4}, "this test wants 4-host regions (FLEET_SIZE=12)"
    assert set(lb_statuses(fleet).values()) == {"UP"}, "every server in rotation to start with"
    fewest_up = dict.fromkeys(fleet.regions, 4)
    done = threading.Event()

    def watch_rotation():
        # Servers actually in rotation, sampled while the deploy runs: the floor must hold at every sample.
        while not done.wait(0.1):
            for region in fleet.regions:
                up = sum(status.startswith("UP") for status in fleet.lb_servers(region).values())
                fewest_up[region] = min(fewest_up[region], up)

    watcher = threading.Thread(target=watch_rotation, daemon=True)
    watcher.start()
    try:
        with RequestLoad(lb_urls(fleet), path="/health") as load:
            proc, out = deploy(fleet, releases, "w-3", extra_vars={"fleet_min_healthy": 3, "fleet_waves": ["100%"]})
    finally:
        done.set()
        watcher.join()
    assert proc.returncode == 0, out
    assert_load_clean(load)
    batches = walked_batches(out)
    for region in fleet.regions:
        members = {host.name for host in fleet.hosts_in(region)}
        per_batch = [len(members.intersection(hosts)) for hosts in batches]
        assert max(per_batch) == 1 and sum(1 for count in per_batch if count) == 4, (region, batches)
    assert fewest_up == dict.fromkeys(fleet.regions, 3), fewest_up
    assert set(health_releases(fleet).values()) == {"w-3"}
    assert set(lb_statuses(fleet).values()) == {"UP"}


# (Moved here from test_waves_recovery.py, whose module paid for a restore of the base state of its own: it runs on what
# the test above leaves, every host on w-3 and in rotation.)
def test_a_deploy_limited_to_one_region_plans_and_checks_exactly_its_hosts(fleet, releases, on_w1):  # pylint: disable=unused-argument
    region = fleet.regions[0]
    members = [host.name for host in fleet.hosts_in(region)]
    before = currents(fleet)
    proc, out = deploy(fleet, releases, "w-region", limit=region)
    assert proc.returncode == 0, out
    assert "limited to: %s" % region in out and "limited to %s" % region in out, out
    rows = summary(out)
    assert set(rows) == set(members), rows
    assert {row["outcome"] for row in rows.values()} == {"switched"}, rows
    after = currents(fleet)
    assert {after[name] for name in members} == {"w-region"}
    assert {name: after[name] for name in names(fleet) if name not in members} == {
        name: before[name] for name in names(fleet) if name not in members}
    assert set(lb_statuses(fleet).values()) == {"UP"}

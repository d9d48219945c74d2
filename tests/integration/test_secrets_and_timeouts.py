# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Issue 14, parts 6 and 3: --diff never prints a secret, and a hanging restart command is killed on time.

- A 0644 file inside a 0700 directory, and a 0644 file listed in fleet_config_secret_paths, are secret: a deploy and a
  rollback with --diff show neither (only a placeholder), while a public file's content is shown.
- fleet_restart_command "sleep 100000" on one host with a short fleet_restart_timeout: the deploy ends in bounded
  time, that host counts as failed with the command and the timeout named, and no "sleep 100000" is left on the host.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position

# Every host starts without /srv/app, whatever the modules before left (conftest.py empty_apps).
pytestmark = [pytest.mark.fleet, pytest.mark.usefixtures("empty_apps")]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(REPO, "playbooks", "deploy.yml")
ROLLBACK = os.path.join(REPO, "playbooks", "rollback.yml")
HANG = "sleep 100000"


def namespace_pids_running(fleet, name, needle):
    """PIDs inside host ``name``'s own namespace whose command line contains ``needle``."""
    return sorted(pid for pid, host in fleetlib.fleet_namespace_pids(fleet.state_dir).items()
                  if host == name and fleetlib.pid_alive(pid) and needle in fleetlib.proc_cmdline(pid))


def kill_pids(pids):
    """Stop processes this test made hang (by PID, never by name)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    fleetlib.wait_gone(pids, 10)


@pytest.fixture(scope="module", name="hosts")
def fixture_hosts(fleet):
    """One host per region; their /srv/app, /etc/fleetapp, the fleet lock and LB states are put back afterwards."""
    chosen = [fleet.hosts_in(region)[0].name for region in fleet.regions]
    saved = {}
    for name in chosen:
        etc = fleet.host_path(name, "/etc/fleetapp")
        saved[name] = etc.parent / (etc.name + ".saved-by-secrets-test")
        shutil.rmtree(saved[name], ignore_errors=True)
        shutil.copytree(etc, saved[name], symlinks=True)
    yield chosen
    for name in chosen:
        kill_pids(namespace_pids_running(fleet, name, HANG))
        fleet.ssh(name, "%s stop; rm -rf /srv/app" % fleet.fleetapp_ctl)
        etc = fleet.host_path(name, "/etc/fleetapp")
        for entry in os.listdir(etc):
            path = etc / entry
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        for entry in os.listdir(saved[name]):
            source, target = saved[name] / entry, etc / entry
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, target, symlinks=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
        shutil.rmtree(saved[name])
    lock = fleet.host_path(fleet.hosts[0].name, "/srv/fleetops/fleet.lock")
    if lock.exists():  # left only by a run that was killed (the test on code that hangs)
        lock.unlink()
    for name in chosen:
        region = fleet.host(name).region
        fleet.lb_command(region, "set server app/%s state ready" % name)


def run(fleet, hosts, playbook, *args, timeout=600, **extra_vars):
    started = time.monotonic()
    proc = fleet.ansible_playbook(playbook, *args, limit=",".join(hosts), extra_vars=extra_vars, timeout=timeout)
    return proc, proc.stdout + proc.stderr, time.monotonic() - started


def write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def test_diff_never_prints_a_file_in_a_private_directory_or_a_listed_secret(fleet, hosts):
    tokens = {name: {"db": "hunter2-%s" % secrets.token_hex(6), "token": "tok-%s" % secrets.token_hex(6),
                     "plain": "visible-%s" % secrets.token_hex(6)} for name in hosts}

    def lay_out(round_no):
        for name in hosts:
            private = fleet.host_path(name, "/etc/fleetapp/private")
            public = fleet.host_path(name, "/etc/fleetapp/public")
            private.mkdir(exist_ok=True)
            public.mkdir(exist_ok=True)
            os.chmod(private, 0o700)  # the file inside is 0644: only the directory keeps it private
            os.chmod(public, 0o755)
            write(private / "db.conf", "password = %s-%d\n" % (tokens[name]["db"], round_no))
            write(public / "token.conf", "token = %s-%d\n" % (tokens[name]["token"], round_no))
            write(public / "plain.conf", "plain = %s-%d\n" % (tokens[name]["plain"], round_no))

    def assert_no_secret(text, where):
        for name in hosts:
            for kind in ("db", "token"):
                where_found = text.find(tokens[name][kind])
                assert where_found < 0, "%s of %s printed in %s: ...%s..." % (kind, name, where, text[max(0, where_found - 300):where_found + 80])

    config = {"fleet_config_paths": ["/etc/fleetapp/private", "/etc/fleetapp/public"],
              "fleet_config_secret_paths": ["/etc/fleetapp/public/token*"]}
    for round_no, release_id in ((1, "s1"), (2, "s2")):
        lay_out(round_no)
        artifact, sha = fleet.build_release(release_id)
        proc, out, _elapsed = run(fleet, hosts, DEPLOY, "--diff", fleet_release=release_id, fleet_artifact=str(artifact),
                                  fleet_artifact_sha256=sha, **config)
        assert proc.returncode == 0, out
        assert_no_secret(out, "the output of deploy %s --diff" % release_id)
        # The diff of a public file is shown: the test would prove nothing if --diff printed no content at all.
        assert all(tokens[name]["plain"] in out for name in hosts), out
        assert "<secret: content not shown; sha256 changed>" in out, out

    # A rollback with --diff restores s1's files: still nothing secret in the output.
    proc, out, _elapsed = run(fleet, hosts, ROLLBACK, "--diff", fleet_reason="secrets test", **config)
    assert proc.returncode == 0, out
    assert_no_secret(out, "the output of rollback --diff")
    assert fleet.host_path(hosts[0], "/etc/fleetapp/private/db.conf").read_text().endswith("-1\n")

    audit = "".join(path.read_text() for path in sorted((fleet.state_dir / "audit").glob("*")) if path.is_file())
    assert_no_secret(audit, "the audit record")


@pytest.mark.timeout(900)
def test_a_hanging_restart_command_is_killed_and_its_host_fails(fleet, hosts):
    victim = hosts[-1]
    # A release to come from: the one the test above leaves (s1, after its rollback), or h1 when run on its own.
    links = [fleet.host_path(name, "/srv/app/current") for name in hosts]
    if not all(os.path.islink(link) for link in links):
        artifact, sha = fleet.build_release("h1")
        proc, out, _elapsed = run(fleet, hosts, DEPLOY, fleet_release="h1", fleet_artifact=str(artifact), fleet_artifact_sha256=sha)
        assert proc.returncode == 0, out
    source = os.path.basename(os.readlink(links[-1]))

    artifact, sha = fleet.build_release("h2")
    restart = "{{ '%s' if inventory_hostname == '%s' else '%s restart' }}" % (HANG, victim, fleet.fleetapp_ctl)
    try:
        proc, out, elapsed = run(fleet, hosts, DEPLOY, fleet_release="h2", fleet_artifact=str(artifact), fleet_artifact_sha256=sha,
                                 fleet_restart_command=restart, fleet_restart_timeout=5, fleet_health_timeout=20, timeout=400)
    finally:
        left = namespace_pids_running(fleet, victim, HANG)
        kill_pids(left)
    assert proc.returncode != 0, out
    # Two activations on the victim (the switch and the revert), each cut after 5 s, plus the run itself.
    assert elapsed < 300, out
    assert "restart command %r did not finish within 5 s" % HANG in out, out
    # The run's summary counts the host as failed (it stays out of its load balancer).
    assert re.search(r"\n\s+%s\s+\S+\s+%s\s+-> h2\s+switch failed" % (re.escape(victim), re.escape(source)), out), out
    assert left == [], "%s still runs on %s: %s" % (HANG, victim, left)


@pytest.mark.timeout(300)
def test_a_hanging_health_command_is_killed_with_what_it_started(fleet, hosts):
    """A command check that never returns fails the probe after command_timeout, and leaves nothing running."""
    name = hosts[0]
    marker = "sleep 100001"
    check = {"type": "command", "command": "%s & %s" % (marker, marker)}
    started = time.monotonic()
    try:
        results, proc = fleet.ansible_module(name, "fleetops.release.health_check",
                                             {"checks": [check], "command_timeout": 2, "wait": {"timeout": 1, "interval": 0.5}}, timeout=90)
    finally:
        left = namespace_pids_running(fleet, name, marker)
        kill_pids(left)
    elapsed = time.monotonic() - started
    result = results[name]
    assert result["failed"], proc.stdout
    assert "no exit within the command timeout of 2 s" in result["msg"], result["msg"]
    assert elapsed < 60
    assert left == [], "%s still runs on %s: %s" % (marker, name, left)


@pytest.mark.timeout(600)
def test_a_hook_task_that_hangs_fails_the_hook_after_fleet_hook_timeout(fleet, hosts, tmp_path):
    """include_tasks ignores the timeout keyword; the including block's timeout bounds each task of the hook."""
    hook = tmp_path / "slow_hook.yml"
    hook.write_text("- name: A hook task that takes too long\n  ansible.builtin.command: sleep 40\n")
    artifact, sha = fleet.build_release("k1")
    proc, out, elapsed = run(fleet, hosts, DEPLOY, fleet_release="k1", fleet_artifact=str(artifact), fleet_artifact_sha256=sha,
                             fleet_hook_before_switch=str(hook), fleet_hook_timeout=3, timeout=400)
    assert proc.returncode != 0, out
    assert "before-switch hook: Task failed: Timed out after 3 second(s)" in out, out

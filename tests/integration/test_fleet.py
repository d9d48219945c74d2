# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the local test fleet itself (tests/fleet/): isolation, SSH, load balancers, the demo app, crash recovery,
blue/green regions.

They test the harness, not the collection: marked ``harness`` (not ``fleet``), so ``make test`` does not run them;
``make test-harness`` does (after a change to tests/fleet/).  The product assertions that used to live only here are
in the fleet suite: become as a non-root user (test_release_lifecycle.py::test_become_with_a_non_root_user),
lb_pool_flip under requests (test_blue_green.py::test_lb_pool_flip_of_a_region_under_requests_and_its_refusals).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import fleetlib
from load import RequestLoad, release_and_host

pytestmark = pytest.mark.harness

RELEASES = "/srv/app/releases"
CURRENT = "/srv/app/current"
# The session fleet's address bases: conftest passes the same variables to fleetctl up.
ADDRESS_BASE = os.environ.get("FLEET_ADDRESS_BASE") or fleetlib.DEFAULT_ADDRESS_BASE
LB_ADDRESS_BASE = os.environ.get("FLEET_LB_ADDRESS_BASE") or fleetlib.DEFAULT_LB_ADDRESS_BASE
# A second fleet beside the session's swaps the two bases and uses ssh port 2222: its hosts (ports 2222 and 8000) sit on
# the session's LB addresses (8080, and .20 and up for extra LBs) and its LBs (8080) on the session's host addresses
# (22 and 8000).  Nothing collides, and no address outside the two given ranges is used.
SECOND_SSH_PORT = 2222
SECOND_FLEET = ("--ssh-port", str(SECOND_SSH_PORT), "--address-base", LB_ADDRESS_BASE, "--lb-address-base", ADDRESS_BASE)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    try:
        return fleetlib.http_get(url, timeout=timeout)
    except OSError as exc:
        return 0, str(exc)


def deploy(fleet, host, tarball: Path, release_id: str) -> None:
    """Put a release on a host by hand: extract the artifact into releases/<id>, point current at it."""
    command = (f"set -e; mkdir -p {RELEASES}/{release_id}; tar -xzf - -C {RELEASES}/{release_id}; "
               f"ln -sfn {RELEASES}/{release_id} {CURRENT}.tmp; mv -T {CURRENT}.tmp {CURRENT}")
    fleet.ssh(host, command, input=tarball.read_bytes(), check=True)


def ctl(fleet, host, action: str, run_id: str | None = None) -> subprocess.CompletedProcess:
    prefix = f"FLEET_RUN_ID={run_id} " if run_id else ""
    return fleet.ssh(host, f"{prefix}{fleet.fleetapp_ctl} {action}")


def test_layout(fleet):
    size = len(fleet.hosts)
    assert size == int(os.environ.get("FLEET_SIZE", "12"))
    for k, host in enumerate(fleet.hosts, 1):
        region = ["us", "eu", "ap"][(k - 1) % 3]
        assert host.region == host["region"] == region
        assert host.name == f"{region}-{(k - 1) // 3 + 1}"
        assert host.address == f"{ADDRESS_BASE}.{k}"
    assert fleet.regions == [r for r in ("us", "eu", "ap") if fleet.hosts_in(r)]
    assert fleet.host_path(fleet.hosts[0].name, "/srv/app/current") == fleet.state_dir / "hosts" / fleet.hosts[0].name / "srv/app/current"
    assert fleet.host_path(fleet.hosts[0].name, "/etc/fleetapp") == fleet.state_dir / "hosts" / fleet.hosts[0].name / "etc-fleetapp"
    with pytest.raises(ValueError):
        fleet.host_path(fleet.hosts[0].name, "/etc/passwd")


def inventory_list(fleet, *args) -> dict:
    """ansible-inventory --list of a fleet's inventory (with --export, group vars stay with their groups)."""
    listing = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(fleet.inventory), "--list", *args],
                             capture_output=True, text=True, check=True)
    return json.loads(listing.stdout)


def test_inventory(fleet):
    inventory = inventory_list(fleet)
    assert sorted(inventory["fleet"]["children"]) == sorted(fleet.regions)
    assert "localhost" not in inventory["fleet"].get("hosts", [])
    hostvars = inventory["_meta"]["hostvars"]
    for host in fleet.hosts:
        assert host.name in inventory[host.region]["hosts"]
        hv = hostvars[host.name]
        assert hv["ansible_host"] == host.address
        assert hv["ansible_user"] == "root"
        assert hv["ansible_ssh_private_key_file"] == str(fleet.ssh_key)
        assert hv["ansible_python_interpreter"] == "/usr/bin/python3"
        assert "StrictHostKeyChecking=no" in hv["ansible_ssh_common_args"]
        assert "ansible_port" not in hv  # port 22
        assert hv["fleet_app_root"] == "/srv/app"
        assert hv["fleet_restart_command"] == f"{fleet.fleetapp_ctl} restart"
        assert hv["fleet_health_url"] == "http://{{ ansible_host }}:8000/health"
        assert hv["fleet_region"] == host.region
        assert hv["fleet_lb_type"] == "haproxy"
        assert hv["fleet_lb_host"] == "localhost"
        assert hv["fleet_lb_socket"] == fleet.lb_socket(host.region)
        assert hv["fleet_lb_backend"] == "app"
        assert hv["fleet_lb_url"] == fleet.lb_url(host.region)
        assert hv["fleet_lb_server"] == host.name
        assert not {"fleet_strategy", "fleet_pool", "fleet_lb_map", "fleet_lb_map_key", "fleet_lb_pools"} & set(hv)  # no blue/green
    assert hostvars["localhost"]["ansible_connection"] == "local"


def test_srv_and_etc_fleetapp_are_per_host(fleet):
    one, other = fleet.hosts[0], fleet.hosts[1]
    token = uuid.uuid4().hex
    names = [f"/srv/isolation-{token}", f"/etc/fleetapp/isolation-{token}"]
    try:
        fleet.ssh(one, " && ".join(f"echo {token} > {name}" for name in names), check=True)
        for name in names:
            assert fleet.ssh(one, f"cat {name}").stdout.strip() == token
            assert fleet.host_path(one.name, name).read_text().strip() == token
            assert fleet.ssh(other, f"test -e {name}").returncode == 1, f"{name} of {one.name} is visible on {other.name}"
            assert not fleet.host_path(other.name, name).exists()
            assert not os.path.exists(name), f"{name} of {one.name} is visible in the root namespace"
        mounts = fleet.ssh(one, "findmnt -rn -o TARGET,SOURCE /srv; findmnt -rn -o TARGET,SOURCE /etc/fleetapp", check=True).stdout
        assert f"/hosts/{one.name}/srv" in mounts and f"/hosts/{one.name}/etc-fleetapp" in mounts
        assert fleet.ssh(one, "cat /etc/fleetapp/app.conf", check=True).stdout.count(f"listen = {one.address}:8000") == 1
    finally:
        fleet.ssh(one, "rm -f " + " ".join(names))


def _check_logins(fleet, host) -> list[str]:
    problems = []
    root = fleet.ssh(host, "id -un")
    if root.returncode != 0 or root.stdout.strip() != "root":
        problems.append(f"{host.name} root: {root.returncode} {root.stdout!r} {root.stderr!r}")
    op = fleet.ssh(host, "id -un && sudo -n true && sudo -n id -un", user="fleetop")
    if op.returncode != 0 or op.stdout.split() != ["fleetop", "root"]:
        problems.append(f"{host.name} fleetop: {op.returncode} {op.stdout!r} {op.stderr!r}")
    return problems


def test_every_host_answers_ssh_as_root_and_fleetop(fleet):
    results = {}
    threads = [threading.Thread(target=lambda h=h: results.__setitem__(h.name, _check_logins(fleet, h))) for h in fleet.hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sorted(results) == sorted(h.name for h in fleet.hosts)
    assert [p for problems in results.values() for p in problems] == []


def test_password_login_is_refused(fleet):
    host = fleet.hosts[-1]
    for user in ("root", "fleetop"):
        result = subprocess.run(
            ["ssh", "-p", str(host.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
             "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "ConnectTimeout=10",
             f"{user}@{host.address}", "true"],
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 255
        assert "Permission denied (publickey)" in result.stderr


def test_haproxy_per_region(fleet):
    all_names = {h.name for h in fleet.hosts}
    for number, region in enumerate(("us", "eu", "ap"), 1):
        if region not in fleet.regions:
            continue
        assert fleet.lb_url(region) == f"http://{LB_ADDRESS_BASE}.{number}:8080/"
        assert oct(os.stat(fleet.lb_socket(region)).st_mode & 0o777) == "0o600"
        rows = fleetlib.parse_show_stat(fleet.lb_command(region, "show stat"))
        servers = {row["svname"] for row in rows if row["pxname"] == "app" and row["svname"] not in ("FRONTEND", "BACKEND")}
        assert servers == {h.name for h in fleet.hosts_in(region)}
        assert not servers & (all_names - servers)
        assert any(row["pxname"] == "fe_app" and row["svname"] == "FRONTEND" for row in rows)
        status, _body = get(fleet.lb_url(region))
        assert status in (200, 503), f"{region}: no HTTP answer from {fleet.lb_url(region)}"


def test_ansible_reaches_every_host(fleet, tmp_path):
    playbook = tmp_path / "reach.yml"
    playbook.write_text("""\
- name: Every fleet host as root
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Who am I
      ansible.builtin.command: id -un
      register: fleet_whoami
      changed_when: false
    - name: Root, with its own /srv
      ansible.builtin.assert:
        that:
          - fleet_whoami.stdout == 'root'
          - fleet_region in ['us', 'eu', 'ap']

- name: Every fleet host as fleetop with become
  hosts: fleet
  gather_facts: false
  become: true
  vars:
    ansible_user: fleetop
  tasks:
    - name: Who am I after sudo
      ansible.builtin.command: id -un
      register: fleet_whoami
      changed_when: false
    - name: Root through sudo
      ansible.builtin.assert:
        that: fleet_whoami.stdout == 'root'

- name: The controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
""")
    result = fleet.ansible_playbook(playbook, "--forks", "20")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    for host in fleet.hosts:
        assert f"{host.name} " in recap
    assert "unreachable=1" not in recap and "failed=1" not in recap


def test_build_release_is_deterministic(fleet, tmp_path):
    path, digest = fleet.build_release("det-1", health="fail", error_rate=0.5)
    again = tmp_path / "again.tar.gz"
    cli = subprocess.run([sys.executable, str(fleetlib.HERE / "build_release.py"), "--id", "det-1", "--out", str(again),
                          "--behaviour", "health=fail", "--behaviour", "error_rate=0.5"], capture_output=True, text=True, check=True)
    assert json.loads(cli.stdout)["sha256"] == digest == hashlib.sha256(again.read_bytes()).hexdigest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    padded, padded_digest = fleet.build_release("det-2", pad_bytes=100_000)
    assert padded_digest != digest and padded.stat().st_size > 100_000
    listing = subprocess.run(["tar", "-tzf", str(padded)], capture_output=True, text=True, check=True).stdout.split()
    assert listing == ["app.py", "VERSION", "pad.bin"]


def test_restart_without_a_release_fails_clearly(fleet):
    host = fleet.hosts[-1]
    result = ctl(fleet, host, "restart")
    assert result.returncode != 0
    assert "/srv/app/current is missing" in result.stderr


def test_end_to_end_release_on_one_host(fleet):
    region = "eu" if "eu" in fleet.regions else fleet.regions[0]
    host = fleet.hosts_in(region)[0]
    health_url = f"http://{host.address}:8000/health"
    lb = fleet.lb_url(region)
    try:
        x1, dummy = fleet.build_release("x1")
        deploy(fleet, host, x1, "x1")
        assert fleet.host_realpath(host.name, CURRENT) == fleet.host_path(host.name, f"{RELEASES}/x1")
        started = time.monotonic()
        result = ctl(fleet, host, "restart", run_id="run-1")
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 10, "fleetapp-ctl restart did not return at once"
        status, body = get(health_url)
        assert status == 200, body
        health = json.loads(body)
        assert health["release"] == "x1" and health["status"] == "ok" and health["host"] == host.name
        assert health["run_id"] == "run-1"
        assert health["config"]["listen"] == f"{host.address}:8000" and health["conf_d"] == []
        assert str(health["pid"]) == fleet.host_path(host.name, "/srv/run/fleetapp.pid").read_text().strip()
        assert get(f"http://{host.address}:8000/") == (200, f"release x1 on {host.name}\n")

        # Through the region's load balancer, once the health check has seen the app.
        wait_for(lambda: fleet.lb_servers(region)[host.name] == "UP", what=f"{host.name} UP in the {region} LB")
        status, body = get(lb + "health")
        assert status == 200 and json.loads(body)["release"] == "x1"
        assert get(lb) == (200, f"release x1 on {host.name}\n")

        # lb-reload keeps the server state (UP at once, no new health check needed).
        before = fleet.lb_command(region, "show info")
        fleet.lb_reload(region)
        assert fleet.lb_command(region, "show info") != before
        assert fleet.lb_servers(region)[host.name] == "UP"
        assert get(lb)[0] == 200

        # /slow sleeps; a stop lets the request in flight finish.
        started = time.monotonic()
        assert get(f"http://{host.address}:8000/slow?seconds=2")[0] == 200
        assert time.monotonic() - started >= 2
        slow = {}
        worker = threading.Thread(target=lambda: slow.setdefault("answer", get(f"http://{host.address}:8000/slow?seconds=2")))
        worker.start()
        time.sleep(0.5)
        stop = ctl(fleet, host, "stop")
        worker.join(30)
        assert stop.returncode == 0, stop.stderr
        assert slow["answer"][0] == 200, slow
        assert get(health_url)[0] == 0, "the app still answers after stop"
        assert "signal 15" in fleet.host_path(host.name, "/srv/run/fleetapp.log").read_text()

        # Behaviour of the release: health fail -> 503, directly and (no healthy server left) through the LB.
        x2, dummy = fleet.build_release("x2", health="fail")
        deploy(fleet, host, x2, "x2")
        assert ctl(fleet, host, "restart").returncode == 0
        status, body = get(health_url)
        assert status == 503 and json.loads(body)["release"] == "x2"
        wait_for(lambda: fleet.lb_servers(region)[host.name] == "DOWN", what=f"{host.name} DOWN in the {region} LB")
        assert get(lb)[0] == 503

        # report_release, error_rate and delay_seconds.
        x3, dummy = fleet.build_release("x3", report_release="x9", error_rate=0.5, delay_seconds=0.2)
        deploy(fleet, host, x3, "x3")
        assert ctl(fleet, host, "restart").returncode == 0
        started = time.monotonic()
        status, body = get(health_url)
        assert time.monotonic() - started >= 0.2
        assert status == 200 and json.loads(body)["release"] == "x9"
        statuses = [get(f"http://{host.address}:8000/")[0] for dummy in range(10)]
        assert sorted(statuses) == [200] * 5 + [500] * 5
    finally:
        fleet.ssh(host, f"{fleet.fleetapp_ctl} stop; rm -rf /srv/app /srv/run/fleetapp.log")


def _fleet_pids(state: Path) -> list[int]:
    paths = fleetlib.FleetPaths(state)
    pidfiles = list(paths.hosts_dir.glob("*/sshd.pid")) + list(paths.hosts_dir.glob("*/srv/run/fleetapp.pid"))
    pidfiles += list(paths.haproxy_dir.glob("*/haproxy.pid"))
    pids = [fleetlib.read_pid(p) for p in pidfiles]
    return sorted({p for p in pids if p} | set(fleetlib.fleet_namespace_pids(state)))


def _mounts_mentioning(text: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as handle:
                    found += [f"{pid}: {line.strip()}" for line in handle if text in line]
            except OSError:
                pass
    findmnt = subprocess.run(["findmnt", "-rn"], capture_output=True, text=True, check=False).stdout
    return found + [line for line in findmnt.splitlines() if text in line]


def test_crash_recovery_of_a_second_fleet(tmp_path):
    """A crashed fleet (killed sshd, stale state) is cleaned up by up and by down; runs beside the session fleet."""
    state = tmp_path / "f2"
    up = ("up", "2", *SECOND_FLEET)
    try:
        fleetlib.run_fleetctl(*up, state_dir=state)
        second = fleetlib.Fleet(state, release_dir=tmp_path / "releases")
        assert [(h.name, h.address, h.port) for h in second.hosts] == [("us-1", f"{LB_ADDRESS_BASE}.1", 2222),
                                                                       ("eu-1", f"{LB_ADDRESS_BASE}.2", 2222)]
        assert second.lb_url("eu") == f"http://{ADDRESS_BASE}.2:8080/"
        assert "ansible_port: 2222" in second.inventory.read_text()
        for host in second.hosts:
            assert second.ssh(host, "id -un", check=True).stdout.strip() == "root"
        us1 = second.host("us-1")
        tarball, dummy = second.build_release("c1")
        deploy(second, us1, tarball, "c1")
        assert ctl(second, us1, "restart").returncode == 0
        assert get(f"http://{us1.address}:8000/health")[0] == 200

        # Crash 1: SIGKILL one sshd, leave everything else (the app, the other sshd, haproxies, state) behind.
        old_pids = _fleet_pids(state)
        sshd_pidfile = second.paths.sshd_pidfile("us-1")
        sshd_pid = fleetlib.read_pid(sshd_pidfile)
        assert str(second.paths.sshd_config("us-1")) in fleetlib.proc_cmdline(sshd_pid)
        os.kill(sshd_pid, signal.SIGKILL)
        assert fleetlib.wait_gone([sshd_pid], 5) == []
        assert fleetlib.run_fleetctl("status", state_dir=state, check=False).returncode == 1

        # up on the stale state cleans it up and starts afresh.
        fleetlib.run_fleetctl(*up, state_dir=state)
        assert [p for p in old_pids if fleetlib.pid_alive(p)] == []
        assert fleetlib.run_fleetctl("status", state_dir=state, check=False).returncode == 0
        second = fleetlib.Fleet(state, release_dir=tmp_path / "releases")
        for host in second.hosts:
            assert second.ssh(host, "id -un && test ! -e /srv/app", check=True).stdout.strip() == "root"
        assert get(f"http://{us1.address}:8000/health")[0] == 0

        # Crash 2: SIGKILL the haproxy master of us and the sshd of eu-1, then down.
        old_pids = _fleet_pids(state)
        for pidfile, needle in ((second.paths.lb_pidfile("us"), second.paths.lb_config("us")),
                                (second.paths.sshd_pidfile("eu-1"), second.paths.sshd_config("eu-1"))):
            pid = fleetlib.read_pid(pidfile)
            assert str(needle) in fleetlib.proc_cmdline(pid)
            os.kill(pid, signal.SIGKILL)
        down = fleetlib.run_fleetctl("down", state_dir=state)
        assert "no fleet mounts remain" in down.stdout
        assert not state.exists()
        assert [p for p in old_pids if fleetlib.pid_alive(p)] == []
        assert _mounts_mentioning(str(state)) == []
        assert fleetlib.run_fleetctl("status", state_dir=state, check=False).returncode == 3
    finally:
        if state.exists():
            fleetlib.run_fleetctl("down", state_dir=state, check=False)


def hosts_behind(url: str, requests: int = 8) -> set[str]:
    """The hosts that answer GET / through a load balancer; every answer must be a 200."""
    hosts = set()
    for dummy in range(requests):
        status, body = get(url)
        assert status == 200, f"{url}: {status} {body[:200]}"
        hosts.add(release_and_host(body)[1])
    return hosts


def test_blue_green_regions_of_a_second_fleet(tmp_path):
    """up --blue-green: each region's HAProxy picks app_blue or app_green through a map, lb_pool_flip flips a region."""
    state = tmp_path / "bg"
    try:
        fleetlib.run_fleetctl("up", "4", "--blue-green", *SECOND_FLEET, state_dir=state)
        bg = fleetlib.Fleet(state, release_dir=tmp_path / "releases")
        # 4 hosts: us-1, eu-1, ap-1, us-2.  Blue is a region's 1st, 3rd, ... host, green its 2nd, 4th, ...
        assert bg.blue_green and json.loads(bg.paths.fleet_json.read_text())["blue_green"] is True
        assert bg.lb_backends("us") == {"app_blue": ["us-1"], "app_green": ["us-2"]}
        assert bg.lb_backends("eu") == {"app_blue": ["eu-1"], "app_green": []}
        for region in bg.regions:
            assert bg.lb_socket(region) == str(bg.paths.lb_socket(region))  # the same socket as a plain region's
            assert bg.lb_url(region) == f"http://{ADDRESS_BASE}.{fleetlib.REGIONS.index(region) + 1}:8080/"
            assert Path(bg.lb_map(region)).read_text() == "active app_blue\n"
            assert bg.lb_active_pool(region) == "app_blue"

        # The inventory: blue/green vars per region and per host, the backend per host instead of per region.
        pool_of = {"us-1": "app_blue", "eu-1": "app_blue", "ap-1": "app_blue", "us-2": "app_green"}
        hostvars = inventory_list(bg)["_meta"]["hostvars"]
        for host in bg.hosts:
            hv = hostvars[host.name]
            assert hv["fleet_strategy"] == "blue_green"
            assert hv["fleet_pool"] == hv["fleet_lb_backend"] == pool_of[host.name]
            assert hv["fleet_lb_map"] == bg.lb_map(host.region) == str(bg.paths.lb_map(host.region))
            assert hv["fleet_lb_map_key"] == "active"
            assert hv["fleet_lb_pools"] == ["app_blue", "app_green"]
            assert hv["fleet_lb_socket"] == bg.lb_socket(host.region)
            assert hv["fleet_lb_state_file"] == str(bg.paths.lb_server_state(host.region))
            assert hv["fleet_lb_server"] == host.name and hv["ansible_port"] == SECOND_SSH_PORT
        exported = inventory_list(bg, "--export")
        assert "fleet_lb_backend" not in exported["us"]["vars"] and exported["us"]["vars"]["fleet_lb_pools"] == ["app_blue", "app_green"]

        # The app on both us hosts; through the LB only blue answers.
        tarball, dummy = bg.build_release("bg1")
        for name in ("us-1", "us-2"):
            deploy(bg, bg.host(name), tarball, "bg1")
            assert ctl(bg, bg.host(name), "restart").returncode == 0
            wait_for(lambda n=name: get(bg.app_url(n, "/health"))[0] == 200, what=f"the app of {name}")
        wait_for(lambda: set(bg.lb_servers("us").values()) == {"UP"}, what="us-1 and us-2 UP in the us LB")
        url = bg.lb_url("us")
        assert hosts_behind(url) == {"us-1"}

        # Flip us to green with the module, from the inventory's vars, under requests: none fails.
        us = hostvars["us-1"]
        args = {"socket": us["fleet_lb_socket"], "map": us["fleet_lb_map"], "key": us["fleet_lb_map_key"], "pools": us["fleet_lb_pools"],
                "pool": hostvars["us-2"]["fleet_pool"]}
        with RequestLoad([url], threads=2) as load:
            wait_for(lambda: load.ok >= 5, what="requests through the us LB")
            results, proc = bg.ansible_module("localhost", "fleetops.release.lb_pool_flip", args)
            result = results["localhost"]
            assert not result["failed"] and result["changed"], proc.stdout + proc.stderr
            assert (result["previous"], result["active"]) == ("app_blue", "app_green")
            wait_for(lambda: load.ok >= 15, what="requests after the flip")
        assert not load.failures and load.summary()[url]["ok"] == load.ok, (load.summary(), load.failures[:5])
        assert load.hosts_seen() == {"us-1", "us-2"}
        assert hosts_behind(url) == {"us-2"}
        assert bg.lb_active_pool("us") == "app_green" and Path(bg.lb_map("us")).read_text() == "active app_green\n"
        assert bg.lb_active_pool("eu") == "app_blue"

        # fleetctl knows the layout from fleet.json: lb-reload keeps the flip (the map file), status shows it.
        fleetlib.run_fleetctl("lb-reload", "us", state_dir=state)
        assert hosts_behind(url) == {"us-2"}
        status = fleetlib.run_fleetctl("status", state_dir=state, check=False)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "active app_green: us-1=UP(app_blue) us-2=UP(app_green)" in status.stdout, status.stdout

        old_pids = _fleet_pids(state)
        down = fleetlib.run_fleetctl("down", state_dir=state)
        assert "no fleet mounts remain" in down.stdout
        assert not state.exists()
        assert [p for p in old_pids if fleetlib.pid_alive(p)] == []
        assert get(url)[0] == 0
    finally:
        if state.exists():
            fleetlib.run_fleetctl("down", state_dir=state, check=False)

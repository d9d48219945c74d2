# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""lb_pool and lb_pool_info against real HAProxies and a real nginx of the test fleet.

Every scenario uses its own extra LB (fleet.lb_add: an HA pair, an nginx) beside the regions' own
ones, so the default layout is never touched.  The apps behind them are the ones already running, or our own instance
started from /srv/lbtest (and stopped again) when a host runs none.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import pytest
import yaml

import fleetlib
from load import RequestLoad

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP_SOURCE = os.path.join(REPO, "tests", "fleet", "app.py")
LBTEST = "/srv/lbtest"

# -- helpers ------------------------------------------------------------------------------------------


def run_module(module, args, check=False, diff=False):
    """Run one module on localhost (the LB host of the test fleet); returns (result, failed, output)."""
    results, proc = fleetlib.run_ansible_module(
        "localhost", f"fleetops.release.{module}", args, "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable,
        check=check, diff=diff, env={"ANSIBLE_LOCALHOST_WARNING": "false"})
    return results["localhost"], results["localhost"]["failed"], proc.stdout + proc.stderr


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def servers(socket_path, backend):
    """{server: (admin state, weight)} as HAProxy reports it (read directly from the socket, not via the module)."""
    text = fleetlib.haproxy_command(socket_path, f"show servers state {backend}")
    result = {}
    for line in text.splitlines()[2:]:
        fields = line.split()
        if len(fields) > 8:
            bits = int(fields[6])
            state = "maint" if bits & 0x05 else "drain" if bits & 0x08 else "ready"
            result[fields[3]] = (state, int(fields[7]))
    return result


def stat(socket_path, backend):
    """{server: (status, scur)} from show stat."""
    rows = fleetlib.parse_show_stat(fleetlib.haproxy_command(socket_path, "show stat"))
    return {r["svname"]: (r["status"], int(r["scur"] or 0)) for r in rows if r["pxname"] == backend and r["svname"] not in ("FRONTEND", "BACKEND")}


def all_up(socket_path, backend):
    return all(status == "UP" for status, dummy in stat(socket_path, backend).values())


class SlowRequest(threading.Thread):
    def __init__(self, url, seconds=2):
        super().__init__(daemon=True)
        self.url = url.rstrip("/") + f"/slow?seconds={seconds}"
        self.status = None
        self.body = ""
        self.finished = None

    def run(self):
        try:
            self.status, self.body = fleetlib.http_get(self.url, timeout=30)
        except OSError as exc:
            self.status, self.body = 0, str(exc)
        self.finished = time.monotonic()


# -- fixtures -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", name="apps")
def fixture_apps(fleet):
    """Every host serves the demo app on :8000; ours (from /srv/lbtest) where none ran, stopped at the end."""
    started = []
    for host in fleet.hosts:
        try:
            status, _body = fleetlib.http_get(fleet.app_url(host, "/health"), timeout=2)
        except OSError:
            status = 0
        if status == 200:
            continue
        target = fleet.host_path(host, f"{LBTEST}/lb1/app.py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(open(APP_SOURCE, "rb").read())
        # Fully detached (new session, no inherited descriptors), so the SSH session ends at once.
        fleet.ssh(host, f"/usr/bin/python3 -c 'import subprocess; p = subprocess.Popen([\"/usr/bin/python3\", \"{LBTEST}/lb1/app.py\"], "
                        f"stdin=subprocess.DEVNULL, stdout=open(\"{LBTEST}/app.log\", \"ab\"), stderr=subprocess.STDOUT, "
                        f"start_new_session=True, close_fds=True); print(p.pid)' > {LBTEST}/app.pid", check=True, timeout=30)
        started.append(host)
    for host in fleet.hosts:
        wait_for(lambda h=host: _healthy(fleet, h), what=f"the app of {host.name}")
    yield fleet
    for host in started:
        fleet.ssh(host, f"kill $(cat {LBTEST}/app.pid); for i in $(seq 100); do kill -0 $(cat {LBTEST}/app.pid) 2>/dev/null || break; "
                        f"sleep 0.1; done; rm -rf {LBTEST}")


def _healthy(fleet, host):
    try:
        return fleetlib.http_get(fleet.app_url(host, "/health"), timeout=2)[0] == 200
    except OSError:
        return False


@pytest.fixture(name="extra_lb")
def fixture_extra_lb(apps):
    made = []

    def make(name, region, **kwargs):
        lb = apps.lb_add(name, region, **kwargs)
        made.append(name)
        return lb

    yield make
    for name in made:
        apps.lb_remove(name)


def biggest_region(fleet):
    return max(fleet.regions, key=lambda r: len(fleet.hosts_in(r)))


# -- HAProxy: drain, ready, HA pair, reload ---------------------------------------------------------------

def test_drain_waits_for_slow_request_and_cycles_without_failures(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lbpair", region, nodes=2)
    node1, node2 = lb["nodes"]
    nodes = [{"socket": node1["socket"], "state_file": node1["state_file"]}, {"socket": node2["tcp_socket"], "state_file": node2["state_file"]}]
    for node in (node1, node2):
        wait_for(lambda n=node: all_up(n["socket"], "app"), what=f"all servers UP on {node['name']}")

    # A slow request in flight: drain must wait for it and never cut it.
    slow = SlowRequest(node1["url"], seconds=8)
    slow.start()
    victim = wait_for(lambda: next((s for s, (dummy, scur) in stat(node1["socket"], "app").items() if scur > 0), None),
                      what="the slow request to reach a server")
    result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "members": [{"server": victim, "state": "drain"}],
                                                 "drain_timeout": 30})
    returned = time.monotonic()
    slow.join()
    assert not failed, out
    assert slow.status == 200 and "slept 8" in slow.body, slow.body
    assert slow.finished <= returned  # the module returned only after the request was answered
    assert result["changed"] and result["drain"]["waited"] >= 1.0, result
    assert result["members"] == [{"server": victim, "before": {"state": "ready", "weight": 1}, "after": {"state": "drain", "weight": 1},
                                  "changed": True}]
    assert servers(node1["socket"], "app")[victim] == ("drain", 1) and servers(node2["socket"], "app")[victim] == ("drain", 1)
    assert all(n["changed"] and n["state_file_written"] for n in result["nodes"]), result

    # The same call again: nothing changes.  Check mode of the way back: reported, not done.
    result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "members": [{"server": victim, "state": "drain"}]})
    assert not failed and not result["changed"], out
    result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "members": [{"server": victim, "state": "ready"}]},
                                     check=True)
    assert not failed and result["changed"], out
    assert result["members"][0]["after"] == {"state": "ready", "weight": 1}
    assert servers(node1["socket"], "app")[victim] == ("drain", 1)

    # drain -> ready of every host, one after the other, under continuous requests through both nodes: no failed request.
    with RequestLoad([node1["url"], node2["url"]], threads=4) as load:
        time.sleep(0.5)
        for host in fleet.hosts_in(region):
            for state in ("drain", "ready"):
                result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "drain_timeout": 30,
                                                             "members": [{"server": host.name, "state": state}]})
                assert not failed, out
                assert result["agree"]
        time.sleep(0.5)
    assert load.ok > 50 and not load.failures, (load.summary(), load.failures[:5])
    assert {s for s, (state, _w) in servers(node2["socket"], "app").items() if state != "ready"} == set()


def test_drain_timeout_fails_or_forces_maint(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lbslow", region)
    node = lb["nodes"][0]
    wait_for(lambda: all_up(node["socket"], "app"), what="all servers UP")
    slow = SlowRequest(node["url"], seconds=15)
    slow.start()
    victim = wait_for(lambda: next((s for s, (dummy, scur) in stat(node["socket"], "app").items() if scur > 0), None),
                      what="the slow request to reach a server")
    args = {"socket": node["socket"], "backend": "app", "members": [{"server": victim, "state": "drain"}], "drain_timeout": 0.5}
    result, failed, out = run_module("lb_pool", args)
    assert failed and "sessions still open" in result["msg"] and victim in result["msg"], out
    assert result["drain"]["sessions_left"] == {node["socket"]: {victim: 1}}
    assert servers(node["socket"], "app")[victim] == ("drain", 1)
    result, failed, out = run_module("lb_pool", dict(args, on_drain_timeout="force_maint"))
    slow.join()
    assert not failed and result["changed"], out
    assert result["drain"]["forced"] == {node["socket"]: {victim: 1}}
    assert servers(node["socket"], "app")[victim] == ("maint", 1)
    assert slow.status != 200  # it was cut, as asked


def test_drained_member_stays_drained_after_a_real_reload(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lbreload", region)
    node = lb["nodes"][0]
    wait_for(lambda: all_up(node["socket"], "app"), what="all servers UP")
    victim = fleet.hosts_in(region)[0].name
    assert not os.path.exists(node["state_file"])
    result, failed, out = run_module("lb_pool", {"socket": node["socket"], "state_file": node["state_file"], "backend": "app",
                                                 "members": [{"server": victim, "state": "drain", "weight": "50%"}]})
    assert not failed and result["nodes"][0]["state_file_written"], out
    # A reload that saves nothing itself: only what lb_pool wrote to the server-state file can keep the drain.
    worker = fleetlib.haproxy_worker_pid(node["socket"])
    fleet.lb_reload_node(node["name"], save_state=False)
    assert fleetlib.haproxy_worker_pid(node["socket"]) != worker
    assert servers(node["socket"], "app")[victim] == ("drain", 0)  # 50% of weight 1 is 0
    result, failed, out = run_module("lb_pool", {"socket": node["socket"], "state_file": node["state_file"], "backend": "app",
                                                 "members": [{"server": victim, "state": "drain", "weight": "50%"}]})
    assert not failed and not result["changed"], out
    # And back: ready survives a reload too.
    result, failed, out = run_module("lb_pool", {"socket": node["socket"], "state_file": node["state_file"], "backend": "app",
                                                 "members": [{"server": victim, "state": "ready", "weight": "1"}]})
    assert not failed and result["changed"], out
    fleet.lb_reload_node(node["name"], save_state=False)
    assert servers(node["socket"], "app")[victim] == ("ready", 1)


def test_ha_pair_disagreement_is_reported_and_refused(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lbodd", region, nodes=2)
    node1, node2 = lb["nodes"]
    nodes = [{"socket": node1["socket"]}, {"socket": node2["tcp_socket"]}]
    victim = fleet.hosts_in(region)[0].name
    # Someone changed one node by hand.
    fleetlib.haproxy_command(node2["socket"], f"set server app/{victim} weight 0")
    result, failed, out = run_module("lb_pool_info", {"nodes": nodes, "backends": ["app"]})
    assert not failed and result["agree"] is False, out
    expected = {node1["socket"]: {"state": "ready", "weight": 1}, node2["tcp_socket"]: {"state": "ready", "weight": 0}}
    assert result["disagreements"] == [{"backend": "app", "server": victim, "nodes": expected}]
    result, failed, out = run_module("lb_pool_info", {"nodes": nodes, "backends": ["app"], "fail_on_disagreement": True})
    assert failed and victim in result["msg"]
    # A change that leaves the weight alone would keep them apart: refused, nothing changed.
    before = (servers(node1["socket"], "app"), servers(node2["socket"], "app"))
    result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "members": [{"server": victim, "state": "drain"}]})
    assert failed and "disagree" in result["msg"] and victim in result["msg"] and node2["tcp_socket"] in result["msg"], out
    assert (servers(node1["socket"], "app"), servers(node2["socket"], "app")) == before
    # Naming the weight heals the odd node only.
    result, failed, out = run_module("lb_pool", {"nodes": nodes, "backend": "app", "members": [{"server": victim, "weight": "1"}]})
    assert not failed and result["changed"] and [n["changed"] for n in result["nodes"]] == [False, True], out
    result, failed, out = run_module("lb_pool_info", {"nodes": nodes, "backends": ["app"]})
    assert result["agree"] is True


def test_errors_are_clear_and_change_nothing(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lberr", region)
    node = lb["nodes"][0]
    host = fleet.hosts_in(region)[0].name
    before = servers(node["socket"], "app")
    cases = [
        ({"socket": node["socket"], "backend": "app", "members": [{"server": host, "state": "drain"}, {"server": "nosuch", "state": "drain"}]},
         ["no server 'nosuch'", "backend app", host]),
        ({"socket": node["socket"], "backend": "nope", "members": [{"server": host, "state": "drain"}]}, ["unknown backend 'nope'", "app"]),
        ({"socket": node["socket"] + ".missing", "backend": "app", "members": [{"server": host, "state": "drain"}]}, ["does not exist", ".missing"]),
        ({"socket": node["operator_socket"], "backend": "app", "members": [{"server": host, "state": "drain"}]}, ["level 'operator'", "admin"]),
        ({"socket": "ipv4@127.0.0.1:1", "backend": "app", "members": [{"server": host, "state": "drain"}]}, ["cannot connect", "127.0.0.1:1"]),
        ({"socket": node["socket"], "backend": "app", "members": [{"server": host, "weight": "300"}]}, ["between 0 and 256"]),
    ]
    for args, needles in cases:
        result, failed, out = run_module("lb_pool", args)
        assert failed, out
        for needle in needles:
            assert needle in result["msg"], (needle, result["msg"])
        assert servers(node["socket"], "app") == before


# -- blue/green: lb_pool_flip is tested on the blue/green fleet of test_blue_green.py
# (test_lb_pool_flip_of_a_region_under_requests_and_its_refusals), next to the playbooks that flip with it.

# -- nginx ------------------------------------------------------------------------------------------------

def test_nginx_drain_ready_and_failed_validation(apps, extra_lb):
    fleet = apps
    region = biggest_region(fleet)
    lb = extra_lb("lbngx", region, kind="nginx")
    node = lb["nodes"][0]
    hosts = [h.name for h in fleet.hosts_in(region)]
    base = {"lb_type": "nginx", "nginx_upstream_file": node["upstream_file"], "nginx_config": node["config"],
            "nginx_pid_file": node["pidfile"], "drain_timeout": 30}
    wait_for(lambda: fleetlib.http_get(node["url"], timeout=5)[0] == 200, what="nginx answering")

    # A slow request in flight on the member we drain: the module waits for it, nginx never cuts it.
    slows = [SlowRequest(node["url"], seconds=8) for dummy in hosts]
    for slow in slows:
        slow.start()
    time.sleep(0.3)
    result, failed, out = run_module("lb_pool", dict(base, members=[{"server": hosts[0], "state": "drain"}]), diff=True)
    assert not failed and result["changed"] and result["reloaded"], out
    assert result["drain"]["waited"] >= 1.0, result
    for slow in slows:
        slow.join()
        assert slow.status == 200, slow.body
    assert "state=drain" in open(node["upstream_file"]).read()
    result, failed, out = run_module("lb_pool", dict(base, members=[{"server": hosts[0], "state": "drain"}]))
    assert not failed and not result["changed"], out
    result, failed, out = run_module("lb_pool", dict(base, members=[{"server": hosts[0], "state": "ready"}]), check=True)
    assert not failed and result["changed"] and "state=drain" in open(node["upstream_file"]).read(), out

    with RequestLoad([node["url"]], threads=4) as load:
        time.sleep(0.3)
        for name in hosts:
            for state in ("drain", "ready"):
                result, failed, out = run_module("lb_pool", dict(base, members=[{"server": name, "state": state}]))
                assert not failed, out
        time.sleep(0.3)
    assert load.ok > 30 and not load.failures, (load.summary(), load.failures[:5])

    # A member nginx rejects: validation fails, the previous file is restored, nginx keeps serving.
    before = open(node["upstream_file"]).read()
    result, failed, out = run_module("lb_pool", dict(base, members=[{"server": "bad", "address": "127.0.0.1:99999"}]))
    assert failed and "nginx -t" in result["msg"] and "restored" in result["msg"], out
    assert open(node["upstream_file"]).read() == before
    assert fleetlib.http_get(node["url"], timeout=5)[0] == 200
    result, failed, out = run_module("lb_pool", dict(base, members=[{"server": "new-one", "state": "ready"}]))
    assert failed and "give its address" in result["msg"]


# -- one option group: action group lb + module_defaults + filter lb_connection ---------------------------------------

GROUP_PLAYBOOK = """
- name: The LB modules get their connection options from the leader's inventory, once per call site
  hosts: localhost
  gather_facts: false
  vars:
    pair: {leader: lead-pair}
    single: {leader: lead-single}
    ngx: {leader: lead-nginx}
  tasks:
    - name: Drain the victim on both nodes of the pair, and read it back from the pair and from node 1 alone
      module_defaults:
        group/fleetops.release.lb: "{{ hostvars[item.leader] | fleetops.release.lb_connection }}"
      block:
        - name: Drain through the pair
          fleetops.release.lb_pool:
            backend: app
            members: [{server: "{{ victim }}", state: drain}]
            drain_timeout: 30
          loop: ["{{ pair }}"]
          register: pair_drain
        - name: Read the pool of every leader
          fleetops.release.lb_pool_info:
            backends: "{{ ['app'] if item.leader != 'lead-nginx' else omit }}"
          loop: ["{{ pair }}", "{{ single }}"]
          register: haproxy_info
        - name: Put the victim back
          fleetops.release.lb_pool:
            backend: app
            members: [{server: "{{ victim }}", state: ready}]
          loop: ["{{ pair }}"]
          register: pair_ready
        - name: Drain the victim in nginx, read the upstream, put it back
          fleetops.release.lb_pool:
            members: [{server: "{{ victim }}", state: "{{ state }}"}]
            drain_timeout: 30
          loop: ["{{ ngx }}"]
          vars:
            state: drain
          register: nginx_drain
        - name: Read the nginx upstream
          fleetops.release.lb_pool_info:
          loop: ["{{ ngx }}"]
          register: nginx_info
        - name: Put it back in nginx
          fleetops.release.lb_pool:
            members: [{server: "{{ victim }}", state: ready}]
          loop: ["{{ ngx }}"]
          register: nginx_ready
        - name: A flip with every leader's group (the pair's region is not blue/green, nginx cannot flip)
          fleetops.release.lb_pool_flip:
            map: /nonexistent/active.map
            key: active
            pool: app_green
            ready_timeout: 0
          loop: ["{{ pair }}", "{{ ngx }}"]
          register: flips
          ignore_errors: true
    - name: Hand the results to the test
      ansible.builtin.copy:
        dest: "{{ results_file }}"
        content: "{{ {'pair_drain': pair_drain, 'haproxy_info': haproxy_info, 'pair_ready': pair_ready, 'nginx_drain': nginx_drain,
                      'nginx_info': nginx_info, 'nginx_ready': nginx_ready, 'flips': flips} | to_json }}"
        mode: "0600"
"""


def test_one_option_group_through_module_defaults_of_the_lb_action_group(apps, extra_lb, tmp_path):
    """The call site the roles use: module_defaults for group/fleetops.release.lb from hostvars[leader] | lb_connection,
    against a real HA pair and a real nginx. Set variables come through (templated by hostvars), unset and empty ones fall
    back to the module defaults, and options of the other LB kind are ignored."""
    fleet = apps
    region = biggest_region(fleet)
    pair = extra_lb("lbgroup", region, nodes=2)
    ngx = extra_lb("lbgroupngx", region, kind="nginx")
    node1, node2 = pair["nodes"]
    nginx = ngx["nodes"][0]
    for node in (node1, node2):
        wait_for(lambda n=node: all_up(n["socket"], "app"), what=f"all servers UP on {node['name']}")
    wait_for(lambda: fleetlib.http_get(nginx["url"], timeout=5)[0] == 200, what="nginx answering")
    victim = fleet.hosts_in(region)[0].name
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {
        "localhost": local,
        # A single node, through a templated socket path; the empty variables must be left out, not passed as "".
        "lead-single": dict(local, lb_dir=os.path.dirname(node1["socket"]), fleet_lb_type="haproxy",
                            fleet_lb_socket="{{ lb_dir }}/" + os.path.basename(node1["socket"]), fleet_lb_state_file="",
                            fleet_lb_nodes=[], fleet_lb_nginx_config=""),
        # The HA pair; fleet_lb_type empty means haproxy; an nginx option is set and must be ignored.
        "lead-pair": dict(local, fleet_lb_type="", fleet_lb_timeout=5,
                          fleet_lb_nodes=[{"socket": node1["socket"], "state_file": node1["state_file"]},
                                          {"socket": node2["tcp_socket"], "state_file": node2["state_file"]}],
                          fleet_lb_nginx_binary="/nonexistent/nginx"),
        # nginx; a stale HAProxy socket must be ignored.
        "lead-nginx": dict(local, fleet_lb_type="nginx", fleet_lb_nginx_upstream_file=nginx["upstream_file"],
                           fleet_lb_nginx_config=nginx["config"], fleet_lb_nginx_pid_file=nginx["pidfile"],
                           fleet_lb_socket="/nonexistent/haproxy.sock"),
    }}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "group.yml").write_text(GROUP_PLAYBOOK)
    results_file = tmp_path / "results.json"
    proc = fleet.ansible_playbook(tmp_path / "group.yml", inventory=tmp_path / "inventory.yml",
                                  extra_vars={"victim": victim, "results_file": str(results_file)},
                                  env={"ANSIBLE_LOCALHOST_WARNING": "false"}, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Unsupported parameters" not in out
    results = json.loads(results_file.read_text())

    def only(name):
        (result,) = results[name]["results"]
        return result

    drain = only("pair_drain")
    assert drain["changed"] and drain["agree"] and [n["socket"] for n in drain["nodes"]] == [node1["socket"], node2["tcp_socket"]], drain
    assert [n["state_file_written"] for n in drain["nodes"]] == [True, True]
    args = drain["invocation"]["module_args"]
    assert (args["lb_type"], args["timeout"], args["socket"], args["nginx_binary"]) == ("haproxy", 5.0, None, "/nonexistent/nginx")

    pair_info, single_info = results["haproxy_info"]["results"]
    assert [n["socket"] for n in pair_info["nodes"]] == [node1["socket"], node2["tcp_socket"]] and pair_info["agree"], pair_info
    assert pair_info["backends"]["app"][victim]["state"] == "drain"
    assert [n["socket"] for n in single_info["nodes"]] == [node1["socket"]], single_info  # the templated path came through
    assert single_info["backends"]["app"][victim]["state"] == "drain"
    args = single_info["invocation"]["module_args"]
    # Empty and unset variables fell back to the module defaults.
    assert (args["state_file"], args["nodes"], args["timeout"], args["nginx_config"], args["nginx_pid_file"]) == (
        None, None, 10.0, "/etc/nginx/nginx.conf", "/run/nginx.pid"), args
    assert only("pair_ready")["changed"]
    assert servers(node1["socket"], "app")[victim] == ("ready", 1) and servers(node2["socket"], "app")[victim] == ("ready", 1)

    ngx_drain, ngx_info, ngx_ready = only("nginx_drain"), only("nginx_info"), only("nginx_ready")
    assert ngx_drain["changed"] and ngx_drain["reloaded"] and ngx_drain["upstream_file"] == nginx["upstream_file"], ngx_drain
    assert ngx_drain["invocation"]["module_args"]["nginx_binary"] == "nginx"  # unset: the default, found on the PATH
    assert ngx_info["upstream_file"] == nginx["upstream_file"] and set(ngx_info["upstream"]) == set(nginx["servers"]), ngx_info
    assert ngx_info["upstream"][victim] == {"state": "drain", "weight": 1, "address": nginx["servers"][victim], "down": True}
    assert ngx_ready["changed"] and "state=drain" not in open(nginx["upstream_file"], encoding="utf-8").read()
    assert fleetlib.http_get(nginx["url"], timeout=5)[0] == 200

    flip_pair, flip_nginx = results["flips"]["results"]
    # Both were refused for what they are, not for an option the group gave them.
    assert flip_pair["failed"] and "unknown backend 'app_green'" in flip_pair["msg"], flip_pair
    assert flip_nginx["failed"] and flip_nginx["msg"].startswith("lb_pool_flip needs lb_type=haproxy, not nginx"), flip_nginx

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._haproxy import (
    LbCommandError,
    LbError,
    LbSocketError,
    NodesDisagree,
    UnknownServer,
    _wait_ready,
    admin_state,
    effective_weight,
    parse_servers_state,
    parse_show_map,
    parse_show_stat,
    parse_socket_address,
    parse_weight,
    plan_members,
    pool_blockers,
    render_map,
    state_summary,
)

# Real answers of HAProxy 2.6 (trimmed to the columns that matter where the header allows it).
SERVERS_STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change \
srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port \
srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 app_blue 1 b1 127.0.23.98 2 8 5 10 1 1 0 4 0 0 0 0 - 8000 - 0 0 - - 0
3 app_blue 2 b2 127.0.23.97 0 1 1 1 9 1 0 4 0 0 0 0 - 8000 - 0 0 - - 0
4 app_green 1 g1 127.0.23.96 2 0 1 1 9 1 0 4 0 0 0 0 - 8000 - 0 0 - - 0
"""

SHOW_STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,
app,FRONTEND,,,3,5,4096,10,0,0,0,0,0,,,,,OPEN,,
app,eu-1,0,0,2,3,,7,0,0,,0,,0,0,0,0,DRAIN,1,
app,eu-2,1,1,0,1,,3,0,0,,0,,0,0,0,0,UP,1,
app,BACKEND,0,0,2,3,,10,0,0,0,0,,0,0,0,0,UP,2,
"""


def test_parse_servers_state():
    rows = parse_servers_state(SERVERS_STATE)
    assert [(r["be_name"], r["srv_name"], r["srv_admin_state"], r["srv_uweight"]) for r in rows] == [
        ("app_blue", "b1", "8", "5"), ("app_blue", "b2", "1", "1"), ("app_green", "g1", "0", "1")]
    assert state_summary(rows) == {("app_blue", "b1"): ("drain", 5), ("app_blue", "b2"): ("maint", 1), ("app_green", "g1"): ("ready", 1)}


@pytest.mark.parametrize("text", ["", "2\n# be_id\n", "1\n3 app 1 b1\n", "1\n# be_id be_name srv_id srv_name\n3 app\n"])
def test_parse_servers_state_refuses_garbage(text):
    with pytest.raises(LbCommandError):
        parse_servers_state(text)


def test_parse_show_stat():
    rows = parse_show_stat(SHOW_STAT)
    servers = {r["svname"]: (r["status"], int(r["scur"]), int(r["qcur"] or 0)) for r in rows if r["svname"] not in ("FRONTEND", "BACKEND")}
    assert servers == {"eu-1": ("DRAIN", 2, 0), "eu-2": ("UP", 0, 1)}
    with pytest.raises(LbCommandError):
        parse_show_stat("Unknown command.\n")


@pytest.mark.parametrize("bits, state", [(0, "ready"), (0x01, "maint"), (0x04, "maint"), (0x08, "drain"), (0x09, "maint"),
                                         (0x10, "ready"), (0x02, "ready"), (0x20, "ready")])
def test_admin_state(bits, state):
    assert admin_state(bits) == state


@pytest.mark.parametrize("spec, initial, expected", [("0", 10, 0), (7, 1, 7), ("256", 1, 256), ("50%", 10, 5), ("100%", 3, 3),
                                                     ("200%", 200, 256), ("50%", 1, 0)])
def test_effective_weight(spec, initial, expected):
    assert effective_weight(spec, initial) == expected


@pytest.mark.parametrize("spec", ["257", "-1", "abc", "5 %x", "", True, "1000%"])
def test_parse_weight_refuses(spec):
    with pytest.raises(LbError):
        parse_weight(spec)


@given(st.integers(0, 256), st.integers(0, 256), st.booleans())
def test_effective_weight_bounds(number, initial, percent):
    weight = effective_weight(f"{number}%" if percent else number, initial)
    assert 0 <= weight <= 256


@pytest.mark.parametrize("address, expected", [
    ("/run/haproxy/admin.sock", ("unix", "/run/haproxy/admin.sock")),
    ("unix@/run/a.sock", ("unix", "/run/a.sock")),
    ("ipv4@127.0.0.1:9999", ("tcp", ("127.0.0.1", 9999))),
    ("tcp://10.0.0.1:80", ("tcp", ("10.0.0.1", 80))),
])
def test_parse_socket_address(address, expected):
    assert parse_socket_address(address) == expected


@pytest.mark.parametrize("address", ["", "admin.sock", "ipv4@127.0.0.1", "ipv4@:9", "ipv4@h:70000", "ipv6@::1:9"])
def test_parse_socket_address_refuses(address):
    with pytest.raises(LbSocketError):
        parse_socket_address(address)


def test_show_map_roundtrip():
    entries = parse_show_map("0x5627014c2d40 active app_blue\n0x5627014c2d41 shop.example app_green\n")
    assert entries == [("active", "app_blue"), ("shop.example", "app_green")]
    assert render_map(entries) == "active app_blue\nshop.example app_green\n"
    with pytest.raises(LbCommandError):
        parse_show_map("Unknown map identifier.\n")


def _servers(state="ready", weight=1, initial=1):
    return {"web-1": {"state": state, "weight": weight, "initial_weight": initial}, "web-2": {"state": "ready", "weight": 1, "initial_weight": 1}}


def test_plan_members_before_after_and_agreement():
    nodes = {"a": _servers(initial=4, weight=4), "b": _servers(initial=4, weight=4)}
    plan = plan_members("app", [{"server": "web-1", "state": "drain", "weight": "50%"}], nodes)
    assert plan["a"]["web-1"] == {"before": {"state": "ready", "weight": 4}, "after": {"state": "drain", "weight": 2}}
    assert plan["b"] == plan["a"]


def test_plan_members_refuses_disagreement_and_unknowns():
    with pytest.raises(NodesDisagree) as info:
        plan_members("app", [{"server": "web-1", "state": "drain"}], {"a": _servers(), "b": _servers(weight=0)})
    assert info.value.disagreements[0]["server"] == "web-1"
    with pytest.raises(UnknownServer, match="no server 'web-9'"):
        plan_members("app", [{"server": "web-9", "state": "drain"}], {"a": _servers()})
    with pytest.raises(LbError, match="twice"):
        plan_members("app", [{"server": "web-1"}, {"server": "web-1"}], {"a": _servers()})
    with pytest.raises(LbError, match="state must be"):
        plan_members("app", [{"server": "web-1", "state": "up"}], {"a": _servers()})
    with pytest.raises(LbError, match="without spaces"):
        plan_members("app", [{"server": "web-1; shutdown"}], {"a": _servers()})


def _server(state="ready", operational="running"):
    return {"state": state, "weight": 1, "initial_weight": 1, "operational": operational, "admin_bits": 0}


def test_pool_blockers_wants_every_server_in_rotation_up_and_at_least_one():
    assert pool_blockers({"g1": _server(), "g2": _server()}) == []
    # Drained or in maintenance: takes no new requests, so it neither blocks nor counts.
    assert pool_blockers({"g1": _server(), "g2": _server("maint", "stopped"), "g3": _server("drain")}) == []
    assert pool_blockers({"g1": _server(), "g2": _server(operational="stopped")}) == ["g2 is stopped"]
    assert pool_blockers({"g1": _server("maint", "stopped")}) == ["no server in rotation (g1 maint)"]
    assert pool_blockers({}) == ["no server in rotation (the pool has no servers)"]


class _Node:
    """Answers servers() from a script of states, one per poll."""

    def __init__(self, address, script):
        self.address, self.script, self.polls = address, list(script), 0

    def servers(self, backend):
        self.polls += 1
        return self.script[min(self.polls, len(self.script)) - 1]


def test_wait_ready_polls_until_the_pool_is_up_or_the_time_is_up():
    clock = iter(range(100)).__next__
    up, down = {"g1": _server()}, {"g1": _server(operational="stopped")}
    node = _Node("lb-1", [down, down, up])
    assert _wait_ready([node], "app_green", timeout=10, poll_interval=0, clock=clock, sleep=lambda s: None) == {}
    assert node.polls == 3
    stuck = _Node("lb-2", [down])
    left = _wait_ready([stuck], "app_green", timeout=3, poll_interval=0, clock=iter(range(100)).__next__, sleep=lambda s: None)
    assert left == {"lb-2": ["g1 is stopped"]} and stuck.polls == 3  # at 1, 2 and 3 (the deadline)


@pytest.mark.timeout(30)
def test_an_answer_that_trickles_in_is_cut_at_the_timeout(tmp_path):
    """Each recv has the socket timeout, but the whole answer has one deadline: HAProxy that sends a byte every
    50 ms forever must not hold the run (issue 14: every remote operation is bounded)."""
    import socket
    import threading
    import time

    from ansible_collections.fleetops.release.plugins.module_utils._haproxy import LbSocketError, RuntimeSession

    path = str(tmp_path / "admin.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    stop = threading.Event()

    def serve():
        conn, _address = server.accept()
        with conn:
            conn.recv(100)  # prompt
            conn.sendall(b"\n> ")
            conn.recv(100)  # the command
            while not stop.is_set():
                try:
                    conn.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        session = RuntimeSession(path, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(LbSocketError, match=r"no complete answer .* within 0.5 s"):
            session.command("show stat")
        assert time.monotonic() - started < 2
        session.close()
    finally:
        stop.set()
        server.close()
        thread.join(5)

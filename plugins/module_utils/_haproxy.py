# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""HAProxy runtime API client and the pool operations of lb_pool, lb_pool_flip and lb_pool_info.

One :class:`RuntimeSession` per LB node and module call: the CLI's interactive mode (``prompt``) keeps one
connection open, so the commands of a whole wave go through one session and every answer is delimited by
the prompt.  Errors are :class:`LbError` subclasses whose message names the node, backend and server.
"""

from __future__ import annotations

import os
import re
import socket
import time

from ansible_collections.fleetops.release.plugins.module_utils._atomic import atomic_write_bytes
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

STATES = ("ready", "drain", "maint")
PROMPT = b"\n> "
MAX_ANSWER = 64 * 1024 * 1024

# srv_admin_state bits of `show servers state` (haproxy src/server.h, SRV_ADMF_*).
ADMF_FMAINT = 0x01
ADMF_IMAINT = 0x02
ADMF_CMAINT = 0x04
ADMF_FDRAIN = 0x08
ADMF_IDRAIN = 0x10
ADMF_RMAINT = 0x20
ADMF_HMAINT = 0x40

# Answers of the CLI that mean "this did not work" (the CLI has no status codes).
_ERROR_ANSWERS = (
    ("Permission denied", "permission"),
    ("Unknown command", "command"),
    ("No such server", "server"),
    ("No such backend", "backend"),
    ("Can't find backend", "backend"),
    ("Unknown map identifier", "map"),
    ("Require 'backend/server'", "server"),
)


class LbError(FleetError):
    """A load-balancer operation failed; nothing more was changed after the failure."""


class LbSocketError(LbError):
    pass


class LbPermissionError(LbError):
    pass


class UnknownBackend(LbError):
    pass


class UnknownServer(LbError):
    pass


class LbCommandError(LbError):
    pass


class DrainTimeout(LbError):
    def __init__(self, message, sessions_left):
        super().__init__(message)
        self.sessions_left = sessions_left


class PoolNotReady(LbError):
    pass


class NodesDisagree(LbError):
    def __init__(self, message, disagreements):
        super().__init__(message)
        self.disagreements = disagreements


# ------------------------------------------------------------------------------------------- transport

def parse_socket_address(address):
    """``("unix", path)`` or ``("tcp", (host, port))`` for a stats socket address.

    Accepts a path (``/run/haproxy/admin.sock``), ``unix@<path>``, ``ipv4@<host>:<port>`` and
    ``tcp://<host>:<port>``, as written on HAProxy's ``stats socket`` line.
    """
    if not isinstance(address, str) or not address.strip():
        raise LbSocketError(f"the LB socket address must be a non-empty string, not {address!r}")
    address = address.strip()
    for prefix in ("ipv4@", "tcp://", "tcp@"):
        if address.startswith(prefix):
            host, sep, port = address[len(prefix):].rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise LbSocketError(f"LB socket {address!r}: expected {prefix}<address>:<port>")
            return "tcp", (host, int(port))
    if address.startswith("ipv6@"):
        raise LbSocketError(f"LB socket {address!r}: ipv6@ sockets are not supported; use a unix socket or ipv4@")
    if address.startswith("unix@"):
        address = address[len("unix@"):]
    if not address.startswith("/"):
        raise LbSocketError(f"LB socket {address!r}: a unix socket must be an absolute path (or use ipv4@<address>:<port>)")
    return "unix", address


class RuntimeSession:
    """One connection to an HAProxy stats socket in interactive (``prompt``) mode."""

    def __init__(self, address, timeout=10.0):
        self.address = address
        self.timeout = timeout
        self._sock = None
        kind, target = parse_socket_address(address)
        try:
            if kind == "unix":
                if not os.path.exists(target):
                    raise LbSocketError(f"LB socket {address} does not exist: is HAProxy running on this host, and is this the path "
                                        f"of its 'stats socket ... level admin' line? (the module must run where the socket is; "
                                        f"use delegate_to the region's LB host)")
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                sock.connect(target)
            else:
                sock = socket.create_connection(target, timeout=timeout)
                sock.settimeout(timeout)
        except LbSocketError:
            raise
        except OSError as exc:
            raise LbSocketError(f"cannot connect to the LB socket {address}: {exc.strerror or exc}; is HAProxy running and "
                                f"is the socket declared with 'stats socket ... level admin'?") from exc
        self._sock = sock
        # The first prompt answers with just the prompt; from now on every answer ends with it.
        self._exchange("prompt")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self._sock is not None:
            try:
                self._sock.sendall(b"quit\n")
            except OSError:
                pass
            self._sock.close()
            self._sock = None

    def _exchange(self, command):
        if self._sock is None:
            raise LbSocketError(f"the session to {self.address} is closed")
        if "\n" in command or ";" in command:
            raise LbCommandError(f"refusing to send {command!r} to {self.address}: one command per line, no ';'")
        buf = b""
        # One deadline for the whole answer: the socket's timeout alone bounds each recv, and an answer that trickles
        # in a byte at a time would never end.
        deadline = time.monotonic() + self.timeout
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(command.encode("utf-8") + b"\n")
            while not buf.endswith(PROMPT) and buf != b"> ":
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("deadline")
                self._sock.settimeout(left)
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise LbSocketError(f"HAProxy closed the connection on {self.address} during {command!r} (answer so far: "
                                        f"{buf[-200:]!r}); is it reloading, or did 'stats timeout' expire?")
                buf += chunk
                if len(buf) > MAX_ANSWER:
                    raise LbSocketError(f"the answer of {self.address} to {command!r} exceeds {MAX_ANSWER} bytes")
        except socket.timeout as exc:
            raise LbSocketError(f"no complete answer from {self.address} to {command!r} within {self.timeout:g} s") from exc
        except OSError as exc:
            raise LbSocketError(f"talking to {self.address} failed during {command!r}: {exc.strerror or exc}") from exc
        text = buf[:-len(PROMPT)] if buf.endswith(PROMPT) else b""
        return text.decode("utf-8", "replace")

    def command(self, command):
        """Send one command; return its answer without the trailing prompt and blank line."""
        return self._exchange(command).rstrip("\n")

    def checked(self, command, what):
        """Like :meth:`command`, but an error answer raises, with ``what`` (e.g. ``backend app, server web-1``) named."""
        answer = self.command(command)
        for needle, kind in _ERROR_ANSWERS:
            if answer.startswith(needle):
                cls = {"permission": LbPermissionError, "server": UnknownServer, "backend": UnknownBackend}.get(kind, LbCommandError)
                raise cls(f"{self.address}: {what}: HAProxy answered {answer.strip()!r} to {command!r}")
        return answer


# ------------------------------------------------------------------------------------------- parsing

def parse_show_stat(text):
    """Rows of ``show stat`` CSV as dicts keyed by the header (``pxname``, ``svname``, ``scur``, ``status``...)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise LbCommandError(f"not a 'show stat' answer: {text[:200]!r}")
    header = lines[0][2:].rstrip(",").split(",")
    rows = []
    for line in lines[1:]:
        values = line.split(",")
        rows.append(dict(zip(header, values)))
    return rows


def parse_servers_state(text):
    """Rows of ``show servers state`` (format version 1) as dicts keyed by the header; numbers stay strings."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise LbCommandError("empty 'show servers state' answer")
    if lines[0].strip() != "1":
        raise LbCommandError(f"unsupported 'show servers state' format {lines[0].strip()!r} (expected version 1)")
    if len(lines) < 2 or not lines[1].startswith("# "):
        raise LbCommandError(f"'show servers state' answer without a header: {text[:200]!r}")
    header = lines[1][2:].split()
    rows = []
    for line in lines[2:]:
        if line.startswith("#"):
            continue
        values = line.split()
        if len(values) < len(header):
            raise LbCommandError(f"short 'show servers state' line {line!r}")
        rows.append(dict(zip(header, values)))
    return rows


def admin_state(bits):
    """``maint``, ``drain`` or ``ready`` from an ``srv_admin_state`` bitmask (forced or configured maint wins)."""
    bits = int(bits)
    if bits & (ADMF_FMAINT | ADMF_CMAINT):
        return "maint"
    if bits & ADMF_FDRAIN:
        return "drain"
    return "ready"


_WEIGHT = re.compile(r"\s*(\d{1,3})\s*(%?)\s*")


def parse_weight(value):
    """``(number, is_percent)`` from ``7``, ``"7"`` or ``"50%"``; raises LbError for anything else."""
    if isinstance(value, bool):
        raise LbError(f"weight must be a number 0-256 or a percentage such as 50%, not {value!r}")
    match = _WEIGHT.fullmatch(str(value))
    if not match:
        raise LbError(f"weight must be a number 0-256 or a percentage such as 50%, not {value!r}")
    number, percent = int(match.group(1)), bool(match.group(2))
    if not percent and number > 256:
        raise LbError(f"an absolute weight must be between 0 and 256, not {number}")
    return number, percent


def effective_weight(spec, initial):
    """The absolute weight HAProxy sets for a weight spec: percentages are relative to the configured weight, capped at 256."""
    number, percent = parse_weight(spec)
    if not percent:
        return number
    return min(256, int(initial) * number // 100)


def parse_show_map(text):
    """``[(key, value), ...]`` from ``show map <map>`` (lines ``<ref> <key> <value>``)."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 2)
        if len(parts) != 3 or not parts[0].startswith("0x"):
            raise LbCommandError(f"unexpected 'show map' line {line!r}")
        entries.append((parts[1], parts[2]))
    return entries


def render_map(entries):
    return "".join(f"{key} {value}\n" for key, value in entries)


def state_summary(rows):
    """{(backend, server): (admin state, weight)} of ``show servers state`` rows: what a state file must keep."""
    return {(row["be_name"], row["srv_name"]): (admin_state(row["srv_admin_state"]), int(row["srv_uweight"])) for row in rows}


# ------------------------------------------------------------------------------------------- one node

class Node:
    """One HAProxy process (an LB node) reached through its stats socket."""

    def __init__(self, address, state_file=None, map_file=None, timeout=10.0):
        self.address = address
        self.state_file = state_file
        self.map_file = map_file
        self.session = RuntimeSession(address, timeout=timeout)

    def close(self):
        self.session.close()

    def level(self):
        return self.session.command("show cli level").strip()

    def require_admin(self):
        level = self.level()
        if level != "admin":
            raise LbPermissionError(f"LB socket {self.address} is at level {level!r}, not 'admin': state changes need a socket "
                                    f"declared with 'stats socket ... level admin'")

    def backends(self):
        answer = self.session.command("show backend")
        return [line.strip() for line in answer.splitlines() if line.strip() and not line.startswith("#")]

    def servers(self, backend):
        """{server: {"state", "weight", "initial_weight", "operational", "admin_bits"}} of a backend."""
        answer = self.session.command(f"show servers state {backend}")
        if answer.startswith("Can't find backend"):
            raise UnknownBackend(f"{self.address}: unknown backend {backend!r}; known backends: {', '.join(self.backends()) or 'none'}")
        result = {}
        for row in parse_servers_state(answer):
            if row["be_name"] != backend:
                continue
            result[row["srv_name"]] = {
                "state": admin_state(row["srv_admin_state"]),
                "weight": int(row["srv_uweight"]),
                "initial_weight": int(row["srv_iweight"]),
                "operational": {"0": "stopped", "1": "starting", "2": "running", "3": "stopping"}.get(row["srv_op_state"], row["srv_op_state"]),
                "admin_bits": int(row["srv_admin_state"]),
            }
        return result

    def sessions(self, backend):
        """{server: current sessions + queued requests} of a backend, from ``show stat``."""
        answer = self.session.command(f"show stat {backend} 4 -1")
        result = {}
        for row in parse_show_stat(answer):
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND"):
                result[row["svname"]] = int(row.get("scur") or 0) + int(row.get("qcur") or 0)
        return result

    def set_state(self, backend, server, state):
        self.session.checked(f"set server {backend}/{server} state {state}", f"backend {backend}, server {server}")

    def set_weight(self, backend, server, weight):
        answer = self.session.checked(f"set server {backend}/{server} weight {weight}", f"backend {backend}, server {server}")
        if answer.strip():
            # e.g. "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'."
            raise LbCommandError(f"{self.address}: backend {backend}, server {server}: HAProxy refused weight {weight}: {answer.strip()}")

    def shutdown_sessions(self, backend, server):
        self.session.checked(f"shutdown sessions server {backend}/{server}", f"backend {backend}, server {server}")

    def dump_state(self):
        return self.session.command("show servers state") + "\n"

    def write_state_file(self, check_mode=False):
        """Save ``show servers state`` to the node's state file when what it keeps (admin state, weight) differs."""
        if not self.state_file:
            return False
        dump = self.dump_state()
        try:
            with open(self.state_file, "r", encoding="utf-8") as handle:
                old = handle.read()
            unchanged = state_summary(parse_servers_state(old)) == state_summary(parse_servers_state(dump))
        except FileNotFoundError:
            unchanged = False
        except (OSError, LbError):
            unchanged = False  # unreadable or foreign content: rewrite it
        if unchanged:
            return False
        if not check_mode:
            directory = os.path.dirname(self.state_file) or "."
            if not os.path.isdir(directory):
                raise LbError(f"{self.address}: the directory of the server-state file {self.state_file} does not exist; it must be "
                              f"the path of 'server-state-file' in haproxy.cfg, on the host the module runs on")
            atomic_write_bytes(self.state_file, dump.encode("utf-8"), mode=0o600)
        return True

    def map_entries(self, map_file):
        answer = self.session.command(f"show map {map_file}")
        if answer.startswith("Unknown map identifier"):
            raise LbError(f"{self.address}: HAProxy has no map {map_file!r}; it must be the file named in the map() converter of "
                          f"the frontend (check 'show map' on the socket)")
        return parse_show_map(answer)

    def replace_map(self, map_file, entries):
        """Swap the whole map atomically: prepare a new version, fill it, commit it."""
        answer = self.session.checked(f"prepare map {map_file}", f"map {map_file}")
        match = re.search(r"New version created: (\d+)", answer)
        if not match:
            raise LbCommandError(f"{self.address}: 'prepare map {map_file}' answered {answer.strip()!r}")
        version = match.group(1)
        for key, value in entries:
            self.session.checked(f"add map @{version} {map_file} {key} {value}", f"map {map_file}")
        answer = self.session.checked(f"commit map @{version} {map_file}", f"map {map_file}")
        if answer.strip():
            raise LbCommandError(f"{self.address}: 'commit map @{version} {map_file}' answered {answer.strip()!r}")


def open_nodes(node_specs, timeout, admin=True):
    """Connect to every node (a list of dicts with ``socket``, optional ``state_file`` and ``map``); all or none."""
    nodes = []
    try:
        for spec in node_specs:
            node = Node(spec["socket"], state_file=spec.get("state_file"), map_file=spec.get("map"), timeout=timeout)
            nodes.append(node)
            if admin:
                node.require_admin()
    except BaseException:
        for node in nodes:
            node.close()
        raise
    return nodes


def close_nodes(nodes):
    for node in nodes:
        node.close()


# ------------------------------------------------------------------------------------------- pool changes

def _describe(state, weight):
    return f"state={state} weight={weight}"


def plan_members(backend, members, servers_by_node):
    """Per node, the before and after ``{"state", "weight"}`` of every member; raises before anything changes.

    ``members`` are dicts with ``server`` and optional ``state`` / ``weight``; ``servers_by_node`` maps a node
    address to its :meth:`Node.servers` answer.  Unknown servers and nodes that would disagree afterwards
    (for example a weight changed by hand on one node only) are errors.
    """
    seen = set()
    for member in members:
        name = member.get("server")
        if not name or not isinstance(name, str) or re.search(r"[\s/;#]", name):
            raise LbError(f"member {member!r}: 'server' must be a server name without spaces, '/', ';' or '#'")
        if name in seen:
            raise LbError(f"server {name!r} is listed twice in members; list each server once")
        seen.add(name)
        if member.get("state") is not None and member["state"] not in STATES:
            raise LbError(f"server {name}: state must be one of {', '.join(STATES)}, not {member['state']!r}")
        if member.get("weight") is not None:
            parse_weight(member["weight"])
    plan = {}
    for address, servers in servers_by_node.items():
        plan[address] = {}
        for member in members:
            name = member["server"]
            if name not in servers:
                raise UnknownServer(f"{address}: backend {backend} has no server {name!r}; its servers: {', '.join(sorted(servers)) or 'none'}")
            current = servers[name]
            after_weight = current["weight"] if member.get("weight") is None else effective_weight(member["weight"], current["initial_weight"])
            after_state = member.get("state") or current["state"]
            plan[address][name] = {
                "before": {"state": current["state"], "weight": current["weight"]},
                "after": {"state": after_state, "weight": after_weight},
            }
    disagreements = []
    addresses = list(plan)
    for member in members:
        name = member["server"]
        values = {address: plan[address][name]["after"] for address in addresses}
        if len({(v["state"], v["weight"]) for v in values.values()}) > 1:
            disagreements.append({"server": name, "nodes": values})
    if disagreements:
        text = "; ".join(f"{d['server']}: " + ", ".join(f"{a} {_describe(v['state'], v['weight'])}" for a, v in d["nodes"].items())
                         for d in disagreements)
        raise NodesDisagree(f"the LB nodes of backend {backend} would disagree after this change ({text}); set the differing "
                            f"field explicitly (state and weight) or fix the odd node; nothing was changed", disagreements)
    return plan


def _wait_drained(nodes, backend, names, timeout, poll_interval, clock=time.monotonic, sleep=time.sleep):
    """Poll ``show stat`` on every node until the sessions of ``names`` are zero; returns {address: {server: left}}."""
    deadline = clock() + timeout
    while True:
        left = {}
        for node in nodes:
            counts = node.sessions(backend)
            busy = {name: counts.get(name, 0) for name in names if counts.get(name, 0) > 0}
            if busy:
                left[node.address] = busy
        if not left or clock() >= deadline:
            return left
        sleep(poll_interval)


def apply_pool(node_specs, backend, members, check_mode=False, drain_timeout=60.0, on_drain_timeout="fail", poll_interval=0.2,
               timeout=10.0):
    """Bring the members of ``backend`` to their states and weights on every node; returns the module result."""
    nodes = open_nodes(node_specs, timeout)
    started = time.monotonic()
    try:
        servers_by_node = {node.address: node.servers(backend) for node in nodes}
        plan = plan_members(backend, members, servers_by_node)
        changed = any(p["before"] != p["after"] for per_node in plan.values() for p in per_node.values())
        result = {"backend": backend, "nodes": [], "members": [], "drain": {"waited": 0.0, "forced": {}, "sessions_left": {}}}
        for node in nodes:
            for name, step in plan[node.address].items():
                if step["before"] == step["after"] or check_mode:
                    continue
                if step["after"]["weight"] != step["before"]["weight"]:
                    node.set_weight(backend, name, step["after"]["weight"])
                if step["after"]["state"] != step["before"]["state"]:
                    node.set_state(backend, name, step["after"]["state"])
        draining = [m["server"] for m in members if plan[nodes[0].address][m["server"]]["after"]["state"] == "drain"]
        if draining and not check_mode:
            wait_started = time.monotonic()
            left = _wait_drained(nodes, backend, draining, drain_timeout, poll_interval)
            result["drain"]["waited"] = round(time.monotonic() - wait_started, 3)
            if left:
                text = ", ".join(f"{a}: " + ", ".join(f"{s} {n}" for s, n in busy.items()) for a, busy in left.items())
                if on_drain_timeout != "force_maint":
                    raise DrainTimeout(f"backend {backend}: sessions still open after {drain_timeout:g} s of drain ({text}); the servers stay "
                                       f"in drain. Raise drain_timeout, or set on_drain_timeout=force_maint to cut them", left)
                for node in nodes:
                    for name in left.get(node.address, {}):
                        node.set_state(backend, name, "maint")
                        node.shutdown_sessions(backend, name)
                        plan[node.address][name]["after"]["state"] = "maint"
                changed = True
                result["drain"]["forced"] = left
                result["drain"]["sessions_left"] = left
        # Read back: what HAProxy reports is what we return, and the nodes must agree.
        final = {node.address: node.servers(backend) for node in nodes} if not check_mode else None
        for node in nodes:
            node_changed = any(p["before"] != p["after"] for p in plan[node.address].values())
            if final is not None:
                for name, step in plan[node.address].items():
                    got = {"state": final[node.address][name]["state"], "weight": final[node.address][name]["weight"]}
                    if got != step["after"]:
                        raise LbCommandError(f"{node.address}: backend {backend}, server {name}: asked for {_describe(**step['after'])} "
                                             f"but HAProxy reports {_describe(**got)} (admin bits "
                                             f"{final[node.address][name]['admin_bits']:#x}; a 'disabled' server line or a tracked "
                                             f"server in maintenance keeps it there)")
            state_written = node.write_state_file(check_mode=check_mode)
            changed = changed or state_written
            result["nodes"].append({"socket": node.address, "changed": node_changed, "state_file": node.state_file,
                                    "state_file_written": state_written})
        result["agree"] = True
        first = plan[nodes[0].address]
        for member in members:
            name = member["server"]
            result["members"].append({"server": name, "before": first[name]["before"], "after": first[name]["after"],
                                      "changed": any(plan[n.address][name]["before"] != plan[n.address][name]["after"] for n in nodes)})
        result["changed"] = changed
        result["elapsed"] = round(time.monotonic() - started, 3)
        result["diff"] = {
            "before": "".join(f"{a} {backend}/{s} {_describe(**p['before'])}\n" for a, per in plan.items() for s, p in per.items()),
            "after": "".join(f"{a} {backend}/{s} {_describe(**p['after'])}\n" for a, per in plan.items() for s, p in per.items()),
        }
        return result
    finally:
        close_nodes(nodes)


def pool_info(node_specs, backends, timeout=10.0):
    """Read-only: every server of ``backends`` on every node, with sessions, and whether the nodes agree."""
    nodes = open_nodes(node_specs, timeout, admin=False)
    try:
        result = {"nodes": [], "backends": {}, "disagreements": []}
        for node in nodes:
            entry = {"socket": node.address, "level": node.level(), "backends": {}}
            for backend in backends:
                servers = node.servers(backend)
                sessions = node.sessions(backend)
                entry["backends"][backend] = {
                    name: {"state": s["state"], "weight": s["weight"], "initial_weight": s["initial_weight"],
                           "operational": s["operational"], "sessions": sessions.get(name, 0)}
                    for name, s in servers.items()
                }
            result["nodes"].append(entry)
        for backend in backends:
            names = sorted({name for entry in result["nodes"] for name in entry["backends"][backend]})
            merged = {}
            for name in names:
                values = {entry["socket"]: entry["backends"][backend].get(name) for entry in result["nodes"]}
                shapes = {(v["state"], v["weight"]) if v else None for v in values.values()}
                if len(shapes) > 1:
                    result["disagreements"].append({
                        "backend": backend, "server": name,
                        "nodes": {a: ({"state": v["state"], "weight": v["weight"]} if v else None) for a, v in values.items()},
                    })
                merged[name] = next(iter(values.values()))
            result["backends"][backend] = merged
        result["agree"] = not result["disagreements"]
        return result
    finally:
        close_nodes(nodes)


def pool_blockers(servers):
    """Why a pool cannot take a region's traffic yet ([] when it can), from ``servers`` as :meth:`LbNode.servers` gives.

    It can when at least one server is in rotation (admin state ready) and every server in rotation is up by HAProxy's
    own health checks (operational ``running``): a host restarted a moment ago may still count as down there, and a flip
    to a pool without a server up answers 503. Servers in drain or maint take no new requests and are left out.
    """
    in_rotation = {name: server for name, server in servers.items() if server["state"] == "ready"}
    if not in_rotation:
        states = ", ".join(f"{name} {server['state']}" for name, server in sorted(servers.items()))
        return [f"no server in rotation ({states or 'the pool has no servers'})"]
    return [f"{name} is {server['operational']}" for name, server in sorted(in_rotation.items()) if server["operational"] != "running"]


def _wait_ready(nodes, pool, timeout, poll_interval, clock=time.monotonic, sleep=time.sleep):
    """Poll every node until ``pool`` can take the traffic (:func:`pool_blockers`); returns {address: blockers} left."""
    deadline = clock() + timeout
    while True:
        left = {node.address: pool_blockers(node.servers(pool)) for node in nodes}
        left = {address: blockers for address, blockers in left.items() if blockers}
        if not left or clock() >= deadline:
            return left
        sleep(poll_interval)


def flip_pool(node_specs, map_file, key, pool, pools=None, check_mode=False, timeout=10.0, ready_timeout=30.0, poll_interval=0.2):
    """Point ``key`` of the frontend's map at backend ``pool`` on every node, atomically per node, and write the map file.

    Before any change, waits up to ``ready_timeout`` seconds until ``pool`` can take the traffic on every node
    (:func:`pool_blockers`) and refuses the flip, changing nothing, when it cannot."""
    if not re.fullmatch(r"[^\s;#]+", key or ""):
        raise LbError(f"map key {key!r} must be a single word without spaces, ';' or '#'")
    if not re.fullmatch(r"[A-Za-z0-9._:-]+", pool or ""):
        raise LbError(f"pool {pool!r} must be a backend name")
    if pools and pool not in pools:
        raise LbError(f"pool {pool!r} is not one of the region's pools ({', '.join(pools)})")
    nodes = open_nodes(node_specs, timeout)
    try:
        plans = []
        for node in nodes:
            path = node.map_file or map_file
            if not path:
                raise LbError(f"{node.address}: no map file given (option map, or map in the node entry)")
            backends = node.backends()
            missing = [b for b in [pool] + list(pools or []) if b not in backends]
            if missing:
                raise UnknownBackend(f"{node.address}: unknown backend {', '.join(repr(m) for m in missing)}; known backends: {', '.join(backends)}")
            entries = node.map_entries(path)
            previous = next((value for k, value in entries if k == key), None)
            if sum(1 for k, _v in entries if k == key) > 1:
                previous = None  # duplicate keys: rewrite to exactly one
            wanted = [(k, v) for k, v in entries if k != key]
            index = next((i for i, (k, _v) in enumerate(entries) if k == key), len(wanted))
            wanted.insert(min(index, len(wanted)), (key, pool))
            try:
                with open(path, "r", encoding="utf-8") as handle:
                    file_text = handle.read()
            except FileNotFoundError:
                file_text = None
            except OSError as exc:
                raise LbError(f"{node.address}: cannot read the map file {path}: {exc.strerror}; the module must run on the LB host") from exc
            plans.append({"node": node, "path": path, "entries": entries, "wanted": wanted, "previous": previous, "file_text": file_text})
        previous_values = {p["node"].address: p["previous"] for p in plans}
        waited = 0.0
        if not check_mode and any(p["entries"] != p["wanted"] for p in plans):
            wait_started = time.monotonic()
            not_ready = _wait_ready(nodes, pool, ready_timeout, poll_interval)
            waited = round(time.monotonic() - wait_started, 3)
            if not_ready:
                raise PoolNotReady("pool %s cannot take the traffic after %.1f s: %s; nothing was flipped. Check the pool's hosts "
                                   "(HAProxy's health checks must see them up), or give them longer with ready_timeout"
                                   % (pool, waited, "; ".join(f"{address}: {', '.join(blockers)}" for address, blockers in not_ready.items())))
        changed = False
        result_nodes = []
        for p in plans:
            runtime_change = p["entries"] != p["wanted"]
            new_text = render_map(p["wanted"])
            file_change = _map_file_entries(p["file_text"]) != p["wanted"]
            if not check_mode:
                if file_change:
                    # File first: a reload right after this call keeps the flip.
                    directory = os.path.dirname(p["path"]) or "."
                    if not os.path.isdir(directory):
                        raise LbError(f"{p['node'].address}: the directory of the map file {p['path']} does not exist on this host")
                    atomic_write_bytes(p["path"], new_text.encode("utf-8"))
                if runtime_change:
                    try:
                        p["node"].replace_map(p["path"], p["wanted"])
                    except LbError:
                        if file_change and p["file_text"] is not None:
                            atomic_write_bytes(p["path"], p["file_text"].encode("utf-8"))
                        raise
                    got = p["node"].map_entries(p["path"])
                    if got != p["wanted"]:
                        raise LbCommandError(f"{p['node'].address}: map {p['path']} reads {got} after the commit, expected {p['wanted']}")
            changed = changed or runtime_change or file_change
            result_nodes.append({"socket": p["node"].address, "map": p["path"], "previous": p["previous"],
                                 "changed": runtime_change or file_change, "runtime_changed": runtime_change, "file_changed": file_change})
        distinct = set(previous_values.values())
        return {
            "changed": changed,
            "active": pool,
            "previous": plans[0]["previous"],
            "agreed_before": len(distinct) == 1,
            "waited": waited,
            "nodes": result_nodes,
            "diff": {
                "before": "".join(f"{a} {map_file or ''} {key} -> {v}\n" for a, v in previous_values.items()),
                "after": "".join(f"{p['node'].address} {map_file or ''} {key} -> {pool}\n" for p in plans),
            },
        }
    finally:
        close_nodes(nodes)


def _map_file_entries(text):
    if text is None:
        return None
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        entries.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return entries


def lb_node_specs(params):
    """The node list of an LB module: O(nodes), or the single node of O(socket) / O(state_file)."""
    if params.get("nodes"):
        return [dict(node) for node in params["nodes"]]
    if params.get("socket"):
        return [{"socket": params["socket"], "state_file": params.get("state_file"), "map": None}]
    return []


def haproxy_nodes(params):
    """:func:`lb_node_specs` for lb_type=haproxy; raises :class:`LbError` when neither socket nor nodes is set."""
    nodes = lb_node_specs(params)
    if not nodes:
        raise LbError("lb_type=haproxy needs the LB's stats socket: set socket (one node) or nodes (an HA pair), "
                      "for example from the inventory variables fleet_lb_socket or fleet_lb_nodes")
    return nodes

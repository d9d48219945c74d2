# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""nginx as a load balancer: the upstream members live in an include file that lb_pool owns.

Each member is one line ``server <address> [weight=N] [down]; # fleetops member=<name> state=<state>``.
A change writes the file, validates the whole configuration with ``nginx -t`` (restoring the previous file
when that fails), reloads nginx (SIGHUP to the master) and, when members were taken out, waits until the old
worker processes have finished the requests they were serving: nginx's graceful reload never cuts them.
"""

from __future__ import annotations

import os
import re
import signal
import time

from ansible_collections.fleetops.release.plugins.module_utils._atomic import atomic_write_bytes
from ansible_collections.fleetops.release.plugins.module_utils._haproxy import STATES, DrainTimeout, LbError

HEADER = "# Upstream members of this nginx pool; owned by fleetops.release.lb_pool, changes by hand are overwritten.\n"
_LINE = re.compile(r"server\s+(?P<address>[^\s;#]+)(?P<params>[^;#]*);\s*(?:#\s*fleetops\s+(?P<meta>.*))?")
_ADDRESS = re.compile(r"(?:unix:/[^\s;#]+|[A-Za-z0-9.\-\[\]:]+)")
_NAME = re.compile(r"[A-Za-z0-9._@:+-]+")


class NginxError(LbError):
    pass


class NginxValidationError(NginxError):
    pass


def parse_upstream(text):
    """``[{"server", "address", "state", "weight"}, ...]`` from an upstream include file (our format)."""
    members = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise NginxError(f"line {number} of the upstream file is not a member line this module writes ({raw!r}); the file is owned "
                             f"by lb_pool: move other directives to the upstream block itself")
        params = match.group("params").split()
        weight = 1
        down = False
        for param in params:
            if param == "down":
                down = True
            elif param.startswith("weight=") and param[7:].isdigit():
                weight = int(param[7:])
            else:
                raise NginxError(f"line {number} of the upstream file has the parameter {param!r}, which lb_pool does not manage")
        meta = dict(item.split("=", 1) for item in (match.group("meta") or "").split() if "=" in item)
        state = meta.get("state")
        if state not in STATES or (state == "ready") == down:
            state = "drain" if down else "ready"
        members.append({"server": meta.get("member") or match.group("address"), "address": match.group("address"),
                        "state": state, "weight": weight})
    names = [m["server"] for m in members]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise NginxError(f"the upstream file lists {', '.join(duplicates)} more than once")
    return members


def upstream_info(upstream_file):
    """Read-only (lb_pool_info): ``{server: {"state", "weight", "address", "down"}}`` of the upstream file lb_pool owns.

    The file is what nginx serves with (lb_pool validates and reloads after every change), so it is the pool's state.
    """
    try:
        with open(upstream_file, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError as exc:
        raise NginxError(f"the nginx upstream file {upstream_file} does not exist: check nginx_upstream_file (inventory variable "
                         f"fleet_lb_nginx_upstream_file); fleetops.release.lb_pool creates it with the first member") from exc
    except OSError as exc:
        raise NginxError(f"cannot read the nginx upstream file {upstream_file}: {exc.strerror}; the module must run on the LB host") from exc
    return {m["server"]: {"state": m["state"], "weight": m["weight"], "address": m["address"], "down": m["state"] != "ready"}
            for m in parse_upstream(text)}


def render_upstream(members):
    lines = [HEADER]
    for member in members:
        params = f" weight={member['weight']}" if member["weight"] != 1 else ""
        if member["state"] != "ready":
            params += " down"
        lines.append(f"server {member['address']}{params}; # fleetops member={member['server']} state={member['state']}\n")
    return "".join(lines)


def plan_upstream(current, members):
    """The new member list: ``members`` (dicts with ``server`` and optional ``address``, ``state``, ``weight``) applied to ``current``."""
    result = [dict(m) for m in current]
    by_name = {m["server"]: m for m in result}
    seen = set()
    for member in members:
        name = member.get("server")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise NginxError(f"member {member!r}: 'server' must be a name of letters, digits and . _ @ : + -")
        if name in seen:
            raise NginxError(f"server {name!r} is listed twice in members; list each server once")
        seen.add(name)
        state = member.get("state")
        if state is not None and state not in STATES:
            raise NginxError(f"server {name}: state must be one of {', '.join(STATES)}, not {state!r}")
        weight = member.get("weight")
        if weight is not None:
            text = str(weight).strip()
            if not text.isdigit() or not 1 <= int(text) <= 1000:
                raise NginxError(f"server {name}: an nginx weight is a whole number 1-1000 (no percentages, no 0: use state drain "
                                 f"to take a server out), not {weight!r}")
            weight = int(text)
        address = member.get("address")
        if address is not None and not _ADDRESS.fullmatch(address):
            raise NginxError(f"server {name}: address {address!r} is not host:port or unix:/path")
        entry = by_name.get(name)
        if entry is None:
            if not address:
                raise NginxError(f"server {name} is not in the upstream file yet: give its address (host:port) in the member")
            entry = {"server": name, "address": address, "state": "ready", "weight": 1}
            result.append(entry)
            by_name[name] = entry
        elif address:
            entry["address"] = address
        if state is not None:
            entry["state"] = state
        if weight is not None:
            entry["weight"] = weight
    return result


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        fields = data.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and fields[0] not in (b"Z", b"X") and int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def _read_pid(path):
    try:
        with open(path, "r", encoding="ascii") as handle:
            text = handle.read().strip()
    except FileNotFoundError as exc:
        raise NginxError(f"nginx pid file {path} does not exist: is nginx running with this configuration?") from exc
    if not text.isdigit():
        raise NginxError(f"nginx pid file {path} holds {text!r}, not a pid")
    pid = int(text)
    if not os.path.exists(f"/proc/{pid}"):
        raise NginxError(f"nginx master {pid} (from {path}) is not running")
    return pid


class NginxPool:
    """One nginx instance whose upstream members live in ``upstream_file``."""

    def __init__(self, run_command, upstream_file, config, pid_file, binary="nginx"):
        self.run_command = run_command  # AnsibleModule.run_command or a compatible callable
        self.upstream_file = upstream_file
        self.config = config
        self.pid_file = pid_file
        self.binary = binary

    def read(self):
        try:
            with open(self.upstream_file, "r", encoding="utf-8") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def validate(self):
        rc, out, err = self.run_command([self.binary, "-t", "-q", "-c", self.config])
        if rc != 0:
            raise NginxValidationError(f"nginx -t -c {self.config} failed (exit {rc}): {(err or out).strip()[-2000:]}")

    def reload(self, timeout):
        """SIGHUP to the master; wait for a new generation of workers.  Returns the old workers' pids."""
        master = _read_pid(self.pid_file)
        old = set(_children(master))
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            new = set(_children(master)) - old
            if new:
                return old
            if time.monotonic() > deadline:
                raise NginxError(f"nginx master {master} started no new workers within {timeout:g} s after the reload; see its error log")
            time.sleep(0.05)

    def apply(self, members, check_mode=False, drain_timeout=60.0, on_drain_timeout="fail", reload_timeout=15.0):
        before_text = self.read()
        current = parse_upstream(before_text) if before_text is not None else []
        after = plan_upstream(current, members)
        after_text = render_upstream(after)
        changed = after_text != before_text
        result = {"changed": changed, "upstream_file": self.upstream_file, "reloaded": False,
                  "drain": {"waited": 0.0, "forced": {}, "sessions_left": {}},
                  "members": [], "diff": {"before": before_text or "", "after": after_text,
                                          "before_header": self.upstream_file, "after_header": self.upstream_file}}
        before_by_name = {m["server"]: m for m in current}
        for member in members:
            name = member["server"]
            new = next(m for m in after if m["server"] == name)
            old = before_by_name.get(name)
            result["members"].append({
                "server": name,
                "before": {"state": old["state"], "weight": old["weight"]} if old else None,
                "after": {"state": new["state"], "weight": new["weight"]},
                "changed": old is None or (old["state"], old["weight"], old["address"]) != (new["state"], new["weight"], new["address"]),
            })
        if not changed or check_mode:
            return result
        directory = os.path.dirname(self.upstream_file) or "."
        if not os.path.isdir(directory):
            raise NginxError(f"the directory of the upstream file {self.upstream_file} does not exist")
        atomic_write_bytes(self.upstream_file, after_text.encode("utf-8"))
        try:
            self.validate()
        except NginxValidationError as exc:
            if before_text is None:
                os.unlink(self.upstream_file)
            else:
                atomic_write_bytes(self.upstream_file, before_text.encode("utf-8"))
            raise NginxValidationError(f"{exc}; the previous upstream file was restored and nginx was not reloaded") from exc
        old_workers = self.reload(reload_timeout)
        result["reloaded"] = True
        taken_out = any(m["after"]["state"] != "ready" and (m["before"] or {}).get("state", "ready") == "ready" for m in result["members"])
        if taken_out:
            # The old workers hold the requests that were in flight to the drained members; they exit when those are done.
            started = time.monotonic()
            deadline = started + drain_timeout
            while True:
                alive = [pid for pid in old_workers if os.path.exists(f"/proc/{pid}") and _not_zombie(pid)]
                if not alive or time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
            result["drain"]["waited"] = round(time.monotonic() - started, 3)
            if alive:
                if on_drain_timeout != "force_maint":
                    raise DrainTimeout(f"nginx: {len(alive)} old worker process(es) {alive} still serve requests after {drain_timeout:g} s "
                                       f"of drain; the new upstream file is in force. Raise drain_timeout, or set "
                                       f"on_drain_timeout=force_maint to stop them", {"nginx": {"old_workers": len(alive)}})
                for pid in alive:
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                result["drain"]["forced"] = {"nginx": {"old_workers": len(alive)}}
                result["drain"]["sessions_left"] = {"nginx": {"old_workers": len(alive)}}
        return result


def _not_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")

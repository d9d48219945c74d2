# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local test fleet of fleetops.release: many SSH hosts and one HAProxy per region on one machine.

Every host is its own ``sshd`` listening on its own loopback address (127.0.1.K), started inside its own
mount namespace where ``<state>/hosts/<name>/srv`` is bind-mounted on ``/srv`` and
``<state>/hosts/<name>/etc-fleetapp`` on ``/etc/fleetapp``.  No address is added to any interface: the
whole of 127.0.0.0/8 is already routed to ``lo`` on Linux.  The mounts exist only in the private
namespaces, which vanish with their last process.

Each region has one HAProxy (master-worker) on 127.0.2.R:8080 with an admin runtime socket; with ``up --blue-green``
it has two pools (app_blue, app_green) picked through a map file instead of one backend ``app``.  Opt-in extra load
balancers for a region (``lb-add``: an HA pair of HAProxies, a blue/green HAProxy with two pools and a map, or an nginx)
listen on <lb base>.20 and up, beside the region's own one.

Standard library only.  ``fleetctl.py`` is the command line, ``Fleet`` the handle used by the tests.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import build_release

REGIONS = ("us", "eu", "ap")
DEFAULT_STATE_DIR = "/var/tmp/fleetops-fleet"
STATE_DIR_ENV = "FLEET_STATE_DIR"
DEFAULT_ADDRESS_BASE = "127.0.1"
DEFAULT_LB_ADDRESS_BASE = "127.0.2"
APP_PORT = 8000
LB_PORT = 8080
LB_BACKEND = "app"
FLEET_USER = "fleetop"
SUDOERS_FILE = "/etc/sudoers.d/fleetops-fleet"
MOUNT_POINTS = ("/srv", "/etc/fleetapp")
PRIVSEP_DIR = "/run/sshd"
SSHD = "/usr/sbin/sshd"
HAPROXY = "/usr/sbin/haproxy"
# The configured weight of every server of a region's HAProxy (weighted canaries, issue 19: 10% of it is 10); the extra
# nodes of lb-add keep HAProxy's default of 1.
REGION_SERVER_WEIGHT = 100
NGINX = "/usr/sbin/nginx"
EXTRA_LB_FIRST_OCTET = 20  # extra LBs (lb-add) listen on <lb base>.20 and up; the regions' own LBs use .1-.3
EXTRA_LB_MAX = 30
LB_TCP_ADMIN_PORT = 9999
BLUE_GREEN_POOLS = ("app_blue", "app_green")
BLUE_GREEN_MAP_KEY = "active"
UNSHARE = "/usr/bin/unshare"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
HOST_PYTHON = "/usr/bin/python3"
MAX_HOSTS = 250
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
FLEETCTL = HERE / "fleetctl.py"
FLEETAPP_CTL_SOURCE = HERE / "fleetapp-ctl"

# Runs as the namespace's first process, right after `unshare --mount --propagation private` (which
# execs it without forking): bind-mounts the host's own /srv and /etc/fleetapp, then execs sshd, so the
# PID that unshare started with is sshd's.
HOST_LAUNCHER = 'set -e; mount --bind "$1" /srv; mount --bind "$2" /etc/fleetapp; shift 2; exec "$@"'


class FleetError(Exception):
    """Something about the fleet is wrong; the message says what and what to do."""


@dataclasses.dataclass(frozen=True)
class Host:
    """One host of the fleet.  Attributes can also be read like a dict: ``host["name"]``."""

    name: str
    address: str
    region: str
    index: int
    port: int = 22

    def __getitem__(self, key):
        if key not in self.__dataclass_fields__:  # pylint: disable=no-member
            raise KeyError(key)
        return getattr(self, key)

    def as_dict(self):
        return dataclasses.asdict(self)


def state_dir_from_env(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).absolute()


def _check_address_base(base: str, option: str) -> str:
    parts = base.split(".")
    if len(parts) != 3 or parts[0] != "127" or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise FleetError(f"{option} must be three octets inside 127.0.0.0/8 such as 127.0.1, not {base!r}")
    return base


def plan_hosts(count: int, address_base: str = DEFAULT_ADDRESS_BASE, port: int = 22) -> list[Host]:
    """Host K (1-based) goes to region REGIONS[(K-1) % 3] and is named <region>-<n>, address <base>.K."""
    if not 1 <= count <= MAX_HOSTS:
        raise FleetError(f"the fleet size must be between 1 and {MAX_HOSTS}, not {count}")
    _check_address_base(address_base, "--address-base")
    per_region: dict[str, int] = {}
    hosts = []
    for k in range(1, count + 1):
        region = REGIONS[(k - 1) % len(REGIONS)]
        per_region[region] = per_region.get(region, 0) + 1
        hosts.append(Host(name=f"{region}-{per_region[region]}", address=f"{address_base}.{k}", region=region, index=k, port=port))
    return hosts


def lb_address(lb_address_base: str, region: str) -> str:
    return f"{lb_address_base}.{REGIONS.index(region) + 1}"


# --------------------------------------------------------------------------------------------------
# processes

def _read_bytes(path) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def read_pid(path) -> int | None:
    data = _read_bytes(path)
    if data is None:
        return None
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and int(text) > 1 else None


def proc_state(pid: int) -> str | None:
    """The one-letter state of a process, or None when there is no such process."""
    data = _read_bytes(f"/proc/{pid}/stat")
    if not data:
        return None
    rest = data.rsplit(b")", 1)[-1].split()
    return rest[0].decode() if rest else None


def pid_alive(pid: int | None) -> bool:
    """True for a running process; a zombie counts as gone (PID 1 of this machine does not reap orphans)."""
    if not pid:
        return False
    return proc_state(pid) not in (None, "Z", "X")


def proc_cmdline(pid: int) -> str:
    data = _read_bytes(f"/proc/{pid}/cmdline") or b""
    return data.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def proc_mnt_ns(pid) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _proc_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _ppid(pid: int) -> int | None:
    data = _read_bytes(f"/proc/{pid}/stat")
    rest = data.rsplit(b")", 1)[-1].split() if data else []
    return int(rest[1]) if len(rest) > 1 else None


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant of it (by parent pid), whatever process group or session they moved to."""
    children: dict[int, list[int]] = {}
    for other in _all_pids():
        parent = _ppid(other)
        if parent:
            children.setdefault(parent, []).append(other)
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def kill_tree(pid: int) -> list[int]:
    """kill -9 of a process started by a test, its process group and every descendant, by PID: a plain killpg misses
    descendants that started a session of their own. The tree is stopped (SIGSTOP) until no new process appears, then
    killed, so nothing it forks meanwhile escapes. Returns the pids killed."""
    stopped: set[int] = set()
    for _attempt in range(10):
        found = set(process_tree(pid)) - stopped
        if not found:
            break
        for member in found:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= found
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for member in stopped:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return sorted(stopped)


def _unescape_mountinfo(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _parse_mountinfo(text: str) -> list[tuple[str, str, str]]:
    """(major:minor, root, mount point) for every line of a mountinfo file."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 5:
            entries.append((fields[2], _unescape_mountinfo(fields[3]), _unescape_mountinfo(fields[4])))
    return entries


def _fs_location(path: Path) -> tuple[str, str]:
    """(major:minor, path relative to the root of its filesystem) of an existing path, as mountinfo shows binds of it."""
    real = os.path.realpath(path)
    best = None
    for dev, root, mount_point in _parse_mountinfo((_read_bytes("/proc/self/mountinfo") or b"").decode()):
        if real == mount_point or real.startswith(mount_point.rstrip("/") + "/"):
            if best is None or len(mount_point) >= len(best[2]):
                best = (dev, root, mount_point)
    if best is None:
        raise FleetError(f"cannot find the filesystem of {real} in /proc/self/mountinfo")
    dev, root, mount_point = best
    rel = real[len(mount_point.rstrip("/")):]
    return dev, (root.rstrip("/") + rel) or "/"


def fleet_namespace_pids(state_dir: Path) -> dict[int, str]:
    """PID -> host name of every process living in a mount namespace of this fleet's hosts.

    A fleet namespace is recognised by its /srv being a bind mount of <state>/hosts/<name>/srv (same
    device, same path), which is exact even when several fleets run side by side.
    """
    hosts_dir = state_dir / "hosts"
    if not hosts_dir.is_dir():
        return {}
    dev, rel = _fs_location(hosts_dir)
    own_ns = proc_mnt_ns("self")
    by_ns: dict[str, list[int]] = {}
    for pid in _all_pids():
        ns = proc_mnt_ns(pid)
        if ns and ns != own_ns:
            by_ns.setdefault(ns, []).append(pid)
    result: dict[int, str] = {}
    for pids in by_ns.values():
        host = None
        for pid in pids:
            data = _read_bytes(f"/proc/{pid}/mountinfo")
            if not data:
                continue
            for m_dev, root, mount_point in _parse_mountinfo(data.decode("utf-8", "replace")):
                if mount_point == "/srv" and m_dev == dev and os.path.dirname(os.path.dirname(root)) == rel and root.endswith("/srv"):
                    host = os.path.basename(os.path.dirname(root))
            break
        if host:
            for pid in pids:
                result[pid] = host
    return result


def other_fleet_namespaces_exist() -> bool:
    """True when some process outside our mount namespace has a fleet-style bind mount on /srv."""
    own_ns = proc_mnt_ns("self")
    seen = set()
    for pid in _all_pids():
        ns = proc_mnt_ns(pid)
        if not ns or ns == own_ns or ns in seen:
            continue
        data = _read_bytes(f"/proc/{pid}/mountinfo")
        if not data:
            continue
        seen.add(ns)
        for _dev, root, mount_point in _parse_mountinfo(data.decode("utf-8", "replace")):
            if mount_point == "/srv" and re.search(r"/hosts/[^/]+/srv$", root):
                return True
    return False


def pids_with_cmdline_containing(needle: str) -> list[int]:
    own = os.getpid()
    return [pid for pid in _all_pids() if pid != own and pid_alive(pid) and needle in proc_cmdline(pid)]


def wait_gone(pids, timeout: float) -> list[int]:
    """Wait until none of the PIDs is alive; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    pending = [pid for pid in pids if pid_alive(pid)]
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [pid for pid in pending if pid_alive(pid)]
    return pending


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def tail(path, lines: int = 20) -> str:
    data = _read_bytes(path)
    if data is None:
        return f"({path} does not exist)"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------------
# HAProxy runtime API and HTTP

def haproxy_command(socket_path, command: str, timeout: float = 5.0) -> str:
    """Send one command to an HAProxy runtime (admin) socket and return the whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall(command.rstrip("\n").encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def haproxy_worker_pid(socket_path, timeout: float = 2.0) -> int | None:
    try:
        info = haproxy_command(socket_path, "show info", timeout=timeout)
    except OSError:
        return None
    match = re.search(r"^Pid: (\d+)$", info, re.MULTILINE)
    return int(match.group(1)) if match else None


def active_pool(socket_path, map_file: str, key: str = BLUE_GREEN_MAP_KEY) -> str | None:
    """The backend a blue/green HAProxy sends new requests to: the value of ``key`` in its runtime map (None if absent)."""
    for line in haproxy_command(socket_path, f"show map {map_file}").splitlines():
        fields = line.split()  # "<id> <key> <value>"
        if len(fields) == 3 and fields[1] == key:
            return fields[2]
    return None


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """GET a URL directly (no proxy from the environment); return (status, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _ssh_banner_ok(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1.0) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# generated files

_PLAIN_YAML = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def _yaml_scalar(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(item) for item in value) + "]"  # flow style: lists of plain names only
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if re.match(r"^[0-9.]+$", text) and text.count(".") >= 2:
        return text  # an IPv4 address is a plain string in YAML
    if _PLAIN_YAML.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)


def _yaml_mapping(mapping: dict, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}{key}: {_yaml_scalar(value)}" for key, value in mapping.items()]


def tree_signature(root) -> dict | None:
    """What a restore must reproduce of a directory tree, per relative path: type, mode, owner, and for a file its size
    and mtime (``cp -a`` keeps it; any write changes it), for a symlink its target. None when ``root`` does not exist.
    The root's own entry and directories' times are left out: a run that made and removed a file (a lock) changed
    nothing a test can see."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", info.st_mode, info.st_uid, info.st_gid)
            else:
                found[rel] = ("file", info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns)
    return found


class FleetPaths:
    """Where everything of one fleet lives below its state directory."""

    def __init__(self, state_dir):
        self.state_dir = Path(state_dir).absolute()
        self.ssh_dir = self.state_dir / "ssh"
        self.client_key = self.ssh_dir / "id_ed25519"
        self.host_key = self.ssh_dir / "ssh_host_ed25519_key"
        self.authorized_keys = self.ssh_dir / "authorized_keys"
        self.bin_dir = self.state_dir / "bin"
        self.fleetapp_ctl = self.bin_dir / "fleetapp-ctl"
        self.hosts_dir = self.state_dir / "hosts"
        self.haproxy_dir = self.state_dir / "haproxy"
        self.inventory = self.state_dir / "inventory.yml"
        self.fleet_json = self.state_dir / "fleet.json"
        self.created_json = self.state_dir / "created.json"
        self.nginx_dir = self.state_dir / "nginx"
        self.extra_lbs_json = self.state_dir / "extra-lbs.json"

    def host_dir(self, name: str) -> Path:
        return self.hosts_dir / name

    def host_srv(self, name: str) -> Path:
        return self.host_dir(name) / "srv"

    def host_etc(self, name: str) -> Path:
        return self.host_dir(name) / "etc-fleetapp"

    def sshd_config(self, name: str) -> Path:
        return self.host_dir(name) / "sshd_config"

    def sshd_pidfile(self, name: str) -> Path:
        return self.host_dir(name) / "sshd.pid"

    def sshd_log(self, name: str) -> Path:
        return self.host_dir(name) / "sshd.log"

    def app_pidfile(self, name: str) -> Path:
        return self.host_srv(name) / "run" / "fleetapp.pid"

    def lb_dir(self, region: str) -> Path:
        return self.haproxy_dir / region

    def lb_config(self, region: str) -> Path:
        return self.lb_dir(region) / "haproxy.cfg"

    def lb_socket(self, region: str) -> Path:
        return self.lb_dir(region) / "admin.sock"

    def lb_pidfile(self, region: str) -> Path:
        return self.lb_dir(region) / "haproxy.pid"

    def lb_server_state(self, region: str) -> Path:
        return self.lb_dir(region) / "server-state"

    def lb_map(self, region: str) -> Path:
        """The blue/green map file (key ``active`` -> pool) of a region's or an extra node's HAProxy."""
        return self.lb_dir(region) / "active.map"

    # An extra LB node (lb-add) is an HAProxy in haproxy/<name>.<k>/ (so down stops it like a region's) or an nginx in
    # nginx/<name>/.
    def nginx_node_dir(self, name: str) -> Path:
        return self.nginx_dir / name


def render_sshd_config(paths: FleetPaths, host: Host) -> str:
    return f"""\
# sshd of fleet host {host.name} (region {host.region}); written by tests/fleet/fleetctl.py up, do not edit.
ListenAddress {host.address}:{host.port}
HostKey {paths.host_key}
PidFile {paths.sshd_pidfile(host.name)}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {paths.authorized_keys}
# The key file is root-owned 0644 in a root-owned 0755 directory, but StrictModes also walks every parent up
# to / and refuses the world-writable /var/tmp and /tmp where fleet state usually lives, hence "no".
StrictModes no
UsePAM no
UseDNS no
MaxStartups 200
MaxSessions 200
MaxAuthTries 10
LoginGraceTime 30
X11Forwarding no
PrintMotd no
PrintLastLog no
AcceptEnv LANG LC_* FLEET_RUN_ID
Subsystem sftp internal-sftp
LogLevel INFO
"""


def haproxy_backends(hosts: list[Host], blue_green: bool = False) -> dict[str, list[Host]]:
    """The backends of an HAProxy in front of these hosts: ``app`` with all of them, or (blue/green) app_blue with the
    1st, 3rd, ... host and app_green with the 2nd, 4th, ..."""
    if blue_green:
        return {BLUE_GREEN_POOLS[0]: hosts[0::2], BLUE_GREEN_POOLS[1]: hosts[1::2]}
    return {LB_BACKEND: list(hosts)}


def render_haproxy_config(paths: FleetPaths, node: str, lb_addr: str, backends: dict, map_file: str | None = None, *,
                          title: str, operator_socket: bool = False, tcp_admin: str | None = None,
                          server_weight: int | None = None) -> str:
    """The config of one HAProxy (a region's or an extra node): admin socket, server-state file, one backend per pool.

    With a map file the frontend picks the backend through it (blue/green); extra nodes may add an operator-level socket
    and a TCP admin socket. ``server_weight``: each server's configured weight (HAProxy's default is 1); the regions'
    HAProxies have REGION_SERVER_WEIGHT so that a weighted canary's share (a percentage of it) can be set and measured.
    """
    lines = [
        f"# {title}, do not edit.",
        "global",
        f"    stats socket {paths.lb_socket(node)} mode 600 level admin expose-fd listeners",
    ]
    if operator_socket:
        lines.append(f"    stats socket {paths.lb_dir(node) / 'operator.sock'} mode 600 level operator")
    if tcp_admin:
        lines.append(f"    stats socket {tcp_admin} level admin")
    lines += [
        "    stats timeout 2m",
        f"    server-state-file {paths.lb_server_state(node)}",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    load-server-state-from-file global",
        "    option redispatch",
        "    retries 2",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        "    timeout queue 10s",
        "    timeout check 2s",
        "",
        "frontend fe_app",
        f"    bind {lb_addr}:{LB_PORT}",
    ]
    first = next(iter(backends))
    if map_file:
        lines.append(f"    use_backend %[str({BLUE_GREEN_MAP_KEY}),map({map_file},{first})]")
    lines.append(f"    default_backend {first}")
    for backend, hosts in backends.items():
        lines += ["", f"backend {backend}", "    balance roundrobin", "    option httpchk GET /health", "    http-check expect status 200"]
        weight = f" weight {server_weight}" if server_weight else ""
        lines += [f"    server {h.name} {h.address}:{APP_PORT} check inter 1s fall 2 rise 1{weight}" for h in hosts]
    return "\n".join(lines) + "\n"


def render_nginx_upstream(hosts: list[Host]) -> str:
    """The upstream include file in the format fleetops.release.lb_pool owns (see plugins/module_utils/_nginx.py)."""
    lines = ["# Upstream members of this nginx pool; owned by fleetops.release.lb_pool, changes by hand are overwritten.\n"]
    lines += [f"server {h.address}:{APP_PORT}; # fleetops member={h.name} state=ready\n" for h in hosts]
    return "".join(lines)


def render_nginx_config(directory: Path, lb_addr: str) -> str:
    return f"""\
# nginx LB of the fleetops test fleet; written by tests/fleet/fleetctl.py lb-add, do not edit.
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/tmp/body;
    proxy_temp_path {directory}/tmp/proxy;
    fastcgi_temp_path {directory}/tmp/fastcgi;
    uwsgi_temp_path {directory}/tmp/uwsgi;
    scgi_temp_path {directory}/tmp/scgi;
    upstream app {{
        include {directory}/upstream.conf;
    }}
    server {{
        listen {lb_addr}:{LB_PORT};
        location / {{
            proxy_pass http://app;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def render_inventory(paths: FleetPaths, hosts: list[Host], lb_address_base: str, ssh_port: int, blue_green: bool = False) -> str:
    """The fleet's inventory.  Blue/green adds fleet_strategy, the region's map and pools, and per host its pool
    (fleet_pool) and backend (fleet_lb_backend, then a host variable instead of a region one)."""
    fleet_vars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(paths.client_key),
        "ansible_python_interpreter": HOST_PYTHON,
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
    }
    if ssh_port != 22:
        fleet_vars["ansible_port"] = ssh_port
    fleet_vars.update({
        "fleet_app_root": "/srv/app",
        "fleet_restart_command": f"{paths.fleetapp_ctl} restart",
        "fleet_health_url": f"http://{{{{ ansible_host }}}}:{APP_PORT}/health",
        # Per fleet, so that fleets side by side never share audit records or the fleet-wide lock: the records on
        # the controller in the state directory, the lock in the first host's own /srv.
        "fleet_audit_dir": str(paths.state_dir / "audit"),
        "fleet_lock_path": "/srv/fleetops/fleet.lock",
    })
    if blue_green:
        fleet_vars["fleet_strategy"] = "blue_green"
    lines = [
        "# Inventory of the local fleetops test fleet; written by tests/fleet/fleetctl.py up, do not edit.",
        f"# State directory: {paths.state_dir}",
        "all:",
        "  hosts:",
        "    localhost:",
        "      ansible_connection: local",
        '      ansible_python_interpreter: "{{ ansible_playbook_python }}"',
        "  children:",
        "    fleet:",
        "      vars:",
        *_yaml_mapping(fleet_vars, 8),
        "      children:",
    ]
    for region in REGIONS:
        members = [h for h in hosts if h.region == region]
        if not members:
            continue
        region_vars = {
            "fleet_region": region,
            "fleet_lb_type": "haproxy",
            "fleet_lb_host": "localhost",
            "fleet_lb_socket": str(paths.lb_socket(region)),
            "fleet_lb_state_file": str(paths.lb_server_state(region)),
            "fleet_lb_backend": LB_BACKEND,
            "fleet_lb_url": f"http://{lb_address(lb_address_base, region)}:{LB_PORT}/",
        }
        pool_of = {h.name: pool for pool, pool_hosts in haproxy_backends(members, blue_green).items() for h in pool_hosts}
        if blue_green:
            del region_vars["fleet_lb_backend"]  # each host names its own pool's backend
            region_vars.update(fleet_lb_map=str(paths.lb_map(region)), fleet_lb_map_key=BLUE_GREEN_MAP_KEY,
                               fleet_lb_pools=list(BLUE_GREEN_POOLS))
        lines += [f"        {region}:", "          vars:", *_yaml_mapping(region_vars, 12), "          hosts:"]
        for host in members:
            host_vars = {"ansible_host": host.address, "fleet_lb_server": host.name}
            if blue_green:
                host_vars.update(fleet_pool=pool_of[host.name], fleet_lb_backend=pool_of[host.name])
            lines += [f"            {host.name}:", *_yaml_mapping(host_vars, 14)]
    return "\n".join(lines) + "\n"


def _write(path: Path, content, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = content.encode() if isinstance(content, str) else content
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, check=False, **kwargs)


def _must(cmd, what: str, **kwargs) -> subprocess.CompletedProcess:
    result = _run(cmd, **kwargs)
    if result.returncode != 0:
        raise FleetError(f"{what} failed ({' '.join(map(str, cmd))}, exit {result.returncode}): {(result.stderr or result.stdout).strip()}")
    return result


# --------------------------------------------------------------------------------------------------
# the controller: up, down, status, lb-reload

class FleetController:
    """Brings a fleet up and down.  Needs root (namespaces, sshd, users)."""

    def __init__(self, state_dir=None, out=None):
        self.paths = FleetPaths(state_dir if state_dir is not None else state_dir_from_env())
        self.out = out if out is not None else sys.stdout

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    # ---------------------------------------------------------------------------------------- up
    def up(self, count: int, ssh_port: int = 22, address_base: str = DEFAULT_ADDRESS_BASE,
           lb_address_base: str = DEFAULT_LB_ADDRESS_BASE, blue_green: bool = False) -> dict:
        """Start a fleet of ``count`` hosts.  blue_green: each region's HAProxy has two pools, app_blue (the region's 1st,
        3rd, ... host) and app_green (2nd, 4th, ...), picked through its map file (initially app_blue)."""
        started = time.monotonic()
        hosts = plan_hosts(count, address_base, ssh_port)
        _check_address_base(lb_address_base, "--lb-address-base")
        if address_base == lb_address_base:
            raise FleetError("--address-base and --lb-address-base must differ")
        if not 1 <= ssh_port <= 65535 or ssh_port in (APP_PORT, LB_PORT):
            raise FleetError(f"--ssh-port must be a free TCP port other than {APP_PORT} and {LB_PORT}, not {ssh_port}")
        self._check_prerequisites()
        paths = self.paths
        if paths.state_dir.exists():
            self.say(f"stale fleet state found in {paths.state_dir}: cleaning it up first")
            self.down()
        longest_socket = max(len(str(paths.lb_socket(r))) for r in REGIONS)
        if longest_socket > 100:
            raise FleetError(f"state directory {paths.state_dir} is too long for unix socket paths; use a shorter {STATE_DIR_ENV}")

        paths.state_dir.mkdir(parents=True, mode=0o755)
        os.chmod(paths.state_dir, 0o755)
        try:
            return self._up(hosts, ssh_port, address_base, lb_address_base, blue_green, started)
        except BaseException:
            self.say("fleet up failed: tearing down what was started")
            try:
                self.down()
            except FleetError as exc:
                self.say(f"cleanup after the failed up also failed: {exc}")
            raise

    def _check_prerequisites(self) -> None:
        if os.geteuid() != 0:
            raise FleetError("the test fleet needs root (mount namespaces, sshd on port 22, a user, sudoers)")
        missing = [p for p in (SSHD, HAPROXY, UNSHARE, SSH_KEYGEN, HOST_PYTHON, "/usr/bin/sudo", "/usr/bin/mount") if not os.access(p, os.X_OK)]
        if missing:
            raise FleetError(f"missing {', '.join(missing)}: apt-get install openssh-server openssh-client haproxy sudo util-linux mount python3")

    def _record_created(self, key: str, value) -> None:
        created = self._created()
        created[key] = value
        _write(self.paths.created_json, json.dumps(created, indent=2, sort_keys=True) + "\n")

    def _created(self) -> dict:
        data = _read_bytes(self.paths.created_json)
        return json.loads(data) if data else {}

    def _ensure_shared_resources(self) -> None:
        created_mounts = []
        for mount_point in MOUNT_POINTS:
            if not os.path.isdir(mount_point):
                os.makedirs(mount_point, mode=0o755)
                created_mounts.append(mount_point)
                self._record_created("mount_points", created_mounts)
        if not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, mode=0o755)
            self._record_created("privsep_dir", True)
        if _run(["getent", "passwd", FLEET_USER]).returncode != 0:
            _must(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", "fleetops test fleet", "--password", "*", FLEET_USER],
                  f"creating user {FLEET_USER}")
            self._record_created("user", True)
        else:
            shadow = _run(["getent", "shadow", FLEET_USER]).stdout.split(":")
            if len(shadow) > 1 and shadow[1].startswith("!"):
                # sshd without PAM refuses even key logins to a locked account ("!" password).
                _must(["usermod", "--password", "*", FLEET_USER], f"unlocking user {FLEET_USER}")
        if not os.path.exists(SUDOERS_FILE):
            tmp = Path(SUDOERS_FILE).with_name(".fleetops-fleet.tmp")  # a name with a dot is ignored by sudo
            _write(tmp, f"# passwordless sudo for the fleetops test fleet user; created by tests/fleet/fleetctl.py up\n"
                        f"{FLEET_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n", mode=0o440)
            try:
                _must(["visudo", "-c", "-q", "-f", str(tmp)], "checking the sudoers file")
                os.replace(tmp, SUDOERS_FILE)
            finally:
                if tmp.exists():
                    tmp.unlink()
            self._record_created("sudoers", True)

    def _up(self, hosts: list[Host], ssh_port: int, address_base: str, lb_address_base: str, blue_green: bool, started: float) -> dict:
        paths = self.paths
        self._record_created("state_dir", True)
        self._ensure_shared_resources()
        regions = [r for r in REGIONS if any(h.region == r for h in hosts)]

        paths.ssh_dir.mkdir(mode=0o755)
        _must([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "fleetops-fleet-client", "-f", str(paths.client_key)], "generating the client key")
        _must([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "fleetops-fleet-host", "-f", str(paths.host_key)], "generating the host key")
        _write(paths.authorized_keys, paths.client_key.with_suffix(".pub").read_text(), mode=0o644)
        _write(paths.fleetapp_ctl, FLEETAPP_CTL_SOURCE.read_bytes(), mode=0o755)

        for host in hosts:
            (paths.host_srv(host.name) / "run").mkdir(parents=True, mode=0o755)
            paths.host_etc(host.name).mkdir(parents=True, mode=0o755)
            _write(paths.host_etc(host.name) / "app.conf",
                   f"# fleetapp configuration of {host.name}; written by tests/fleet/fleetctl.py up\n"
                   f"host = {host.name}\nregion = {host.region}\nlisten = {host.address}:{APP_PORT}\n")
            _write(paths.sshd_config(host.name), render_sshd_config(paths, host))
        for region in regions:
            paths.lb_dir(region).mkdir(parents=True, mode=0o700)
            self._write_haproxy_node(region, lb_address(lb_address_base, region), [h for h in hosts if h.region == region], blue_green,
                                     title=f"HAProxy of fleet region {region}; written by tests/fleet/fleetctl.py up",
                                     server_weight=REGION_SERVER_WEIGHT)

        description = self._describe(hosts, regions, ssh_port, address_base, lb_address_base, blue_green)
        _write(paths.fleet_json, json.dumps(description, indent=2) + "\n")
        _write(paths.inventory, render_inventory(paths, hosts, lb_address_base, ssh_port, blue_green))

        sshds = {}
        for host in hosts:
            console = open(paths.host_dir(host.name) / "console.log", "ab")  # pylint: disable=consider-using-with
            try:
                sshds[host.name] = subprocess.Popen(  # pylint: disable=consider-using-with
                    [UNSHARE, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", HOST_LAUNCHER, f"fleet-host-{host.name}",
                     str(paths.host_srv(host.name)), str(paths.host_etc(host.name)),
                     SSHD, "-D", "-f", str(paths.sshd_config(host.name)), "-E", str(paths.sshd_log(host.name))],
                    stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            finally:
                console.close()
        haproxies = {}
        for region in regions:
            console = open(paths.lb_dir(region) / "console.log", "ab")  # pylint: disable=consider-using-with
            try:
                haproxies[region] = subprocess.Popen(  # pylint: disable=consider-using-with
                    [HAPROXY, "-W", "-D", "-p", str(paths.lb_pidfile(region)), "-f", str(paths.lb_config(region))],
                    stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            finally:
                console.close()

        self._wait_ready(hosts, regions, sshds, haproxies)
        elapsed = time.monotonic() - started
        self.say(f"fleet up: {len(hosts)} hosts in {', '.join(regions)}{' (blue/green)' if blue_green else ''}; "
                 f"ssh port {ssh_port}; state {paths.state_dir}")
        self.say(f"inventory: {paths.inventory}")
        self.say(f"up took {elapsed:.2f} s")
        return description

    def _write_haproxy_node(self, node: str, lb_addr: str, hosts: list[Host], blue_green: bool, *, title: str,
                            operator_socket: bool = False, tcp_admin: str | None = None,
                            server_weight: int | None = None) -> tuple[dict, str | None]:
        """Write the config (and for blue/green the map, pointing at app_blue) of a region's or an extra HAProxy node.

        Returns (backends, map file or None).
        """
        paths = self.paths
        backends = haproxy_backends(hosts, blue_green)
        map_file = str(paths.lb_map(node)) if blue_green else None
        if map_file:
            _write(Path(map_file), f"{BLUE_GREEN_MAP_KEY} {BLUE_GREEN_POOLS[0]}\n")
        config = render_haproxy_config(paths, node, lb_addr, backends, map_file, title=title,
                                       operator_socket=operator_socket, tcp_admin=tcp_admin, server_weight=server_weight)
        _write(paths.lb_config(node), config)
        return backends, map_file

    def _describe(self, hosts, regions, ssh_port, address_base, lb_address_base, blue_green) -> dict:
        paths = self.paths
        return {
            "state_dir": str(paths.state_dir),
            "ssh_port": ssh_port,
            "address_base": address_base,
            "lb_address_base": lb_address_base,
            "blue_green": blue_green,
            "app_port": APP_PORT,
            "user": FLEET_USER,
            "hosts": [
                dict(host.as_dict(), srv=str(paths.host_srv(host.name)), etc_fleetapp=str(paths.host_etc(host.name)),
                     sshd_pidfile=str(paths.sshd_pidfile(host.name)), sshd_log=str(paths.sshd_log(host.name)),
                     app_pidfile=str(paths.app_pidfile(host.name)))
                for host in hosts
            ],
            "regions": {
                region: {
                    "lb_address": lb_address(lb_address_base, region),
                    "lb_url": f"http://{lb_address(lb_address_base, region)}:{LB_PORT}/",
                    "socket": str(paths.lb_socket(region)),
                    "pidfile": str(paths.lb_pidfile(region)),
                    "config": str(paths.lb_config(region)),
                    "server_state": str(paths.lb_server_state(region)),
                    "servers": [h.name for h in hosts if h.region == region],
                    **self._describe_pools(region, [h for h in hosts if h.region == region], blue_green),
                }
                for region in regions
            },
            "paths": {
                "inventory": str(paths.inventory),
                "ssh_private_key": str(paths.client_key),
                "authorized_keys": str(paths.authorized_keys),
                "host_key": str(paths.host_key),
                "fleetapp_ctl": str(paths.fleetapp_ctl),
            },
        }

    def _describe_pools(self, region: str, hosts: list[Host], blue_green: bool) -> dict:
        """backends: {backend: [servers]}; plain: backend "app"; blue/green: map, map_key and pools instead."""
        backends = {name: [h.name for h in members] for name, members in haproxy_backends(hosts, blue_green).items()}
        if not blue_green:
            return {"backend": LB_BACKEND, "backends": backends}
        return {"backends": backends, "map": str(self.paths.lb_map(region)), "map_key": BLUE_GREEN_MAP_KEY, "pools": list(BLUE_GREEN_POOLS)}

    def _wait_ready(self, hosts, regions, sshds, haproxies) -> None:
        paths = self.paths
        deadline = time.monotonic() + START_TIMEOUT
        for region, proc in haproxies.items():
            try:
                rc = proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                rc = None
            if rc != 0:
                raise FleetError(f"haproxy of region {region} did not start (exit {rc}):\n{tail(paths.lb_dir(region) / 'console.log')}")
        pending_hosts = {h.name: h for h in hosts}
        pending_regions = set(regions)
        while pending_hosts or pending_regions:
            for name, host in list(pending_hosts.items()):
                proc = sshds[name]
                if proc.poll() is not None:
                    raise FleetError(f"sshd of {name} exited with {proc.returncode}:\n{tail(paths.host_dir(name) / 'console.log')}\n"
                                     f"{tail(paths.sshd_log(name))}")
                if read_pid(paths.sshd_pidfile(name)) == proc.pid and _ssh_banner_ok(host.address, host.port):
                    del pending_hosts[name]
            for region in list(pending_regions):
                master = read_pid(paths.lb_pidfile(region))
                if master and pid_alive(master) and haproxy_worker_pid(paths.lb_socket(region), timeout=1.0):
                    pending_regions.discard(region)
            if not (pending_hosts or pending_regions):
                break
            if time.monotonic() > deadline:
                details = [f"{n}: {tail(paths.sshd_log(n), 5)}" for n in pending_hosts]
                details += [f"haproxy {r}: {tail(paths.lb_dir(r) / 'console.log', 5)}" for r in pending_regions]
                raise FleetError(f"not ready after {START_TIMEOUT:.0f} s: {', '.join(list(pending_hosts) + sorted(pending_regions))}\n"
                                 + "\n".join(details))
            time.sleep(0.05)

    # ---------------------------------------------------------------------------------------- down
    def _verified_pid(self, pidfile: Path, needle: str) -> int | None:
        """PID from a pidfile, only if that process is alive and its command line names our file."""
        pid = read_pid(pidfile)
        if pid and pid_alive(pid) and needle in proc_cmdline(pid):
            return pid
        return None

    def down(self) -> None:
        paths = self.paths
        if not paths.state_dir.exists():
            self.say(f"no fleet state in {paths.state_dir}: nothing to stop")
            return
        if paths.state_dir.is_dir() and not any(paths.state_dir.iterdir()):
            paths.state_dir.rmdir()  # an up that stopped right after creating it
            self.say(f"removed the empty {paths.state_dir}")
            return
        created = self._created()
        if not created.get("state_dir") and not paths.fleet_json.exists():
            raise FleetError(f"{paths.state_dir} exists but was not made by fleetctl up (no created.json / fleet.json): not touching it")

        # Everything inside the hosts' namespaces: sshd listeners, SSH sessions, the apps, whatever they started.
        ns_members = fleet_namespace_pids(paths.state_dir)
        ns_of = {pid: proc_mnt_ns(pid) for pid in ns_members}
        sshd_pids = {}
        app_pids = {}
        for host_dir in sorted(paths.hosts_dir.glob("*")) if paths.hosts_dir.is_dir() else []:
            name = host_dir.name
            pid = self._verified_pid(paths.sshd_pidfile(name), str(paths.sshd_config(name)))
            if pid:
                sshd_pids[pid] = name
            pid = read_pid(paths.app_pidfile(name))
            if pid and pid_alive(pid) and "/srv/app/current/app.py" in proc_cmdline(pid) and ns_members.get(pid) == name:
                app_pids[pid] = name
        lb_pids = {}
        if paths.haproxy_dir.is_dir():
            for lb_dir in sorted(paths.haproxy_dir.glob("*")):
                cfg = str(paths.lb_config(lb_dir.name))
                for pid in [self._verified_pid(paths.lb_pidfile(lb_dir.name), cfg), *pids_with_cmdline_containing(cfg)]:
                    if pid:
                        lb_pids[pid] = cfg

        self._stop_nginxes()
        # Apps first (graceful SIGTERM), then the rest; one wait for everything.
        for pid in app_pids:
            _signal(pid, signal.SIGTERM)
        for pid in list(sshd_pids) + [p for p in ns_members if p not in app_pids]:
            _signal(pid, signal.SIGTERM)
        for pid in lb_pids:
            _signal(pid, signal.SIGTERM)
        everything = set(app_pids) | set(sshd_pids) | set(ns_members) | set(lb_pids)
        left = wait_gone(everything, STOP_TIMEOUT)
        for pid in left:
            # PIDs get reused: kill only what still is the process we identified.
            if (pid in ns_of and proc_mnt_ns(pid) == ns_of[pid]) or (pid in lb_pids and lb_pids[pid] in proc_cmdline(pid)) \
                    or (pid in sshd_pids and str(paths.sshd_config(sshd_pids[pid])) in proc_cmdline(pid)):
                self.say(f"pid {pid} ({proc_cmdline(pid)[:60]}) ignored SIGTERM for {STOP_TIMEOUT:.0f} s: SIGKILL")
                _signal(pid, signal.SIGKILL)
        left = wait_gone(left, 5.0)
        if left:
            raise FleetError(f"processes {left} of the fleet survived SIGKILL; state left in {paths.state_dir}")
        remaining = fleet_namespace_pids(paths.state_dir)
        if remaining:
            raise FleetError(f"processes still inside the fleet's namespaces: {sorted(remaining)}; state left in {paths.state_dir}")
        # The bind mounts lived only in the hosts' private namespaces, which are gone with their processes (checked
        # above through /proc/*/mountinfo).  The root namespace never had any: make sure before deleting the state.
        findmnt = _run(["findmnt", "-rn", "-o", "TARGET,SOURCE"])
        if str(paths.state_dir) in findmnt.stdout:
            raise FleetError(f"findmnt shows mounts under {paths.state_dir}; unmount them, then run down again")
        self.say(f"stopped {len(app_pids)} apps, {len(sshd_pids)} sshds, {len(lb_pids)} haproxy processes "
                 f"({len(ns_members)} processes in host namespaces); no fleet mounts remain")

        shutil.rmtree(paths.state_dir)
        self._remove_shared_resources(created)
        self.say(f"fleet down: removed {paths.state_dir}")

    def _remove_shared_resources(self, created: dict) -> None:
        if (created.get("user") or created.get("sudoers") or created.get("mount_points") or created.get("privsep_dir")) \
                and other_fleet_namespaces_exist():
            self.say("another fleet is still running: keeping /srv, /etc/fleetapp, /run/sshd, the fleetop user and its sudoers file")
            return
        if created.get("sudoers") and os.path.exists(SUDOERS_FILE):
            os.unlink(SUDOERS_FILE)
        if created.get("user") and _run(["getent", "passwd", FLEET_USER]).returncode == 0:
            result = _run(["userdel", "--force", "--remove", FLEET_USER])
            if result.returncode not in (0, 12):  # 12: could not remove the home directory or mail spool
                raise FleetError(f"userdel {FLEET_USER} failed (exit {result.returncode}): {result.stderr.strip()}")
        for mount_point in created.get("mount_points") or []:
            try:
                os.rmdir(mount_point)
            except FileNotFoundError:
                pass
            except OSError as exc:
                self.say(f"keeping {mount_point}: {exc.strerror}")
        if created.get("privsep_dir") and not any(_proc_exe(pid) == SSHD for pid in _all_pids() if pid_alive(pid)):
            try:
                os.rmdir(PRIVSEP_DIR)
            except OSError:
                pass

    # ---------------------------------------------------------------------------------------- status
    def status(self) -> int:
        """Print what runs; 0 when every sshd and haproxy is up, 1 when some are not, 3 when there is no fleet."""
        paths = self.paths
        data = _read_bytes(paths.fleet_json)
        if data is None:
            self.say(f"no fleet in {paths.state_dir}")
            return 3
        desc = json.loads(data)
        healthy = True
        self.say(f"fleet in {paths.state_dir}: {len(desc['hosts'])} hosts, ssh port {desc['ssh_port']}, inventory {paths.inventory}")
        self.say(f"{'HOST':<8} {'ADDRESS':<14} {'REGION':<6} {'SSHD':<16} APP")
        for host in desc["hosts"]:
            name = host["name"]
            sshd = self._verified_pid(paths.sshd_pidfile(name), str(paths.sshd_config(name)))
            healthy = healthy and bool(sshd)
            app = read_pid(paths.app_pidfile(name))
            app_text = f"pid {app}" if app and pid_alive(app) and "app.py" in proc_cmdline(app) else "-"
            self.say(f"{name:<8} {host['address']:<14} {host['region']:<6} {('pid ' + str(sshd)) if sshd else 'DOWN':<16} {app_text}")
        for region, info in desc["regions"].items():
            master = self._verified_pid(paths.lb_pidfile(region), str(paths.lb_config(region)))
            worker = haproxy_worker_pid(info["socket"], timeout=1.0) if master else None
            healthy = healthy and bool(master and worker)
            servers = ""
            if worker:
                backends = info.get("backends") or {LB_BACKEND: info["servers"]}
                stat_csv = haproxy_command(info["socket"], "show stat")
                servers = " ".join(f"{row[1]}={row[17]}" + (f"({row[0]})" if len(backends) > 1 else "")
                                   for row in _stat_rows(stat_csv) if row[0] in backends and row[1] not in ("FRONTEND", "BACKEND"))
                if info.get("map"):
                    servers = f"active {active_pool(info['socket'], info['map'], info['map_key']) or '?'}: {servers}"
            self.say(f"lb {region}: {info['lb_url']} master {master or 'DOWN'} worker {worker or '-'} {servers}")
        return 0 if healthy else 1

    # ---------------------------------------------------------------------------------------- lb-reload
    def lb_reload(self, region: str, timeout: float = 15.0) -> None:
        """Save the server states, reload a region's HAProxy (USR2 to the master) and wait for the new worker's socket."""
        if region not in REGIONS or not self.paths.lb_config(region).exists():
            raise FleetError(f"no load balancer for region {region!r} in {self.paths.state_dir}")
        self.lb_reload_node(region, save_state=True, timeout=timeout)

    # ---------------------------------------------------------------------------------------- lb-reload-node
    def lb_reload_node(self, node: str, save_state: bool = True, timeout: float = 15.0) -> None:
        """Reload one HAProxy (a region's or an extra node such as us-bg.1).

        save_state=False reloads without dumping the server states first: what survives then is only what the
        server-state file already held (what fleetops.release.lb_pool wrote), which is what the tests need to prove.
        """
        paths = self.paths
        if not paths.lb_config(node).exists():
            raise FleetError(f"no HAProxy {node!r} in {paths.state_dir}")
        master = self._verified_pid(paths.lb_pidfile(node), str(paths.lb_config(node)))
        if not master:
            raise FleetError(f"haproxy {node} is not running (pidfile {paths.lb_pidfile(node)})")
        sock = paths.lb_socket(node)
        old_worker = haproxy_worker_pid(sock)
        if save_state:
            _write(paths.lb_server_state(node), haproxy_command(sock, "show servers state"), mode=0o600)
        os.kill(master, signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while True:
            worker = haproxy_worker_pid(sock, timeout=1.0)
            if worker and worker != old_worker:
                break
            if time.monotonic() > deadline:
                raise FleetError(f"haproxy {node} did not come back within {timeout:.0f} s after the reload")
            time.sleep(0.05)
        self.say(f"haproxy {node} reloaded: worker {old_worker} -> {worker}")

    # ---------------------------------------------------------------------------------------- lb-add / lb-remove
    def _extra_lbs(self) -> dict:
        data = _read_bytes(self.paths.extra_lbs_json)
        return json.loads(data) if data else {}

    def lb_add(self, name: str, region: str, kind: str = "haproxy", blue_green: bool = False, nodes: int = 1) -> dict:
        """Start an extra LB for a region's hosts beside the fleet (opt-in layouts; the regions' own LBs stay as they are).

        kind haproxy: ``nodes`` HAProxies (an HA pair with 2) serving backend ``app`` with the region's hosts; node 1 has
        unix sockets only, further nodes also an admin socket on TCP ``ipv4@<address>:9999``.  With blue_green, one
        HAProxy with backends app_blue (the region's 1st, 3rd, ... host) and app_green (2nd, 4th, ...) chosen through
        the map file ``active.map`` (key ``active``).  kind nginx: one nginx whose upstream ``app`` includes
        ``upstream.conf`` (all the region's hosts, in the format lb_pool owns).  Returns the LB's description.
        """
        paths = self.paths
        desc = json.loads(_read_bytes(paths.fleet_json) or b"null")
        if not desc:
            raise FleetError(f"no fleet in {paths.state_dir}")
        if not re.match(r"^[a-z][a-z0-9-]{0,15}$", name):
            raise FleetError(f"LB name {name!r}: lowercase letters, digits and '-', at most 16 characters")
        if region not in desc["regions"]:
            raise FleetError(f"no region {region!r} in this fleet")
        if kind not in ("haproxy", "nginx") or (kind == "nginx" and (blue_green or nodes != 1)) or not 1 <= nodes <= 4 \
                or (blue_green and nodes != 1):
            raise FleetError("lb-add: kind haproxy (1-4 nodes, or blue/green with 1 node) or nginx (1 node)")
        extra = self._extra_lbs()
        if name in extra:
            raise FleetError(f"an extra LB {name!r} already exists; lb-remove it first")
        used = {n["slot"] for lb in extra.values() for n in lb["nodes"]}
        free = [k for k in range(EXTRA_LB_FIRST_OCTET, EXTRA_LB_FIRST_OCTET + EXTRA_LB_MAX) if k not in used]
        if len(free) < nodes:
            raise FleetError("no free address for another extra LB")
        hosts = [Host(name=h["name"], address=h["address"], region=h["region"], index=h["index"], port=h["port"])
                 for h in desc["hosts"] if h["region"] == region]
        lb_base = desc["lb_address_base"]
        lb = {"name": name, "kind": kind, "region": region, "blue_green": blue_green, "nodes": []}
        if blue_green:
            lb["pools"] = {pool: [h.name for h in members] for pool, members in haproxy_backends(hosts, blue_green=True).items()}
            lb["map_key"] = BLUE_GREEN_MAP_KEY
        extra[name] = lb
        try:
            for k in range(1, nodes + 1):
                slot = free[k - 1]
                address = f"{lb_base}.{slot}"
                node = {"slot": slot, "address": address, "url": f"http://{address}:{LB_PORT}/"}
                lb["nodes"].append(node)
                _write(paths.extra_lbs_json, json.dumps(extra, indent=2) + "\n")
                if kind == "nginx":
                    self._start_nginx(name, node, hosts)
                else:
                    self._start_extra_haproxy(f"{name}.{k}", node, hosts, blue_green, tcp=k > 1)
                _write(paths.extra_lbs_json, json.dumps(extra, indent=2) + "\n")
        except BaseException:
            try:
                self.lb_remove(name)
            except FleetError as exc:
                self.say(f"cleanup of the failed lb-add also failed: {exc}")
            raise
        self.say(f"extra LB {name} ({kind}{', blue/green' if blue_green else ''}) for region {region}: "
                 + " ".join(n["url"] for n in lb["nodes"]))
        return lb

    def _start_extra_haproxy(self, node_name: str, node: dict, hosts: list, blue_green: bool, tcp: bool) -> None:
        paths = self.paths
        directory = paths.lb_dir(node_name)
        directory.mkdir(parents=True, mode=0o700)
        tcp_admin = f"ipv4@{node['address']}:{LB_TCP_ADMIN_PORT}" if tcp else None
        backends, map_file = self._write_haproxy_node(
            node_name, node["address"], hosts, blue_green, operator_socket=True, tcp_admin=tcp_admin,
            title=f"Extra HAProxy {node_name} of the fleetops test fleet; written by tests/fleet/fleetctl.py lb-add")
        node.update(name=node_name, config=str(paths.lb_config(node_name)), socket=str(paths.lb_socket(node_name)),
                    operator_socket=str(directory / "operator.sock"), tcp_socket=tcp_admin, pidfile=str(paths.lb_pidfile(node_name)),
                    state_file=str(paths.lb_server_state(node_name)), map=map_file,
                    backends={b: [h.name for h in hs] for b, hs in backends.items()})
        with open(directory / "console.log", "ab") as console:
            rc = subprocess.run([HAPROXY, "-W", "-D", "-p", str(paths.lb_pidfile(node_name)), "-f", str(paths.lb_config(node_name))],
                                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, timeout=START_TIMEOUT, check=False).returncode
        if rc != 0:
            raise FleetError(f"haproxy {node_name} did not start (exit {rc}):\n{tail(directory / 'console.log')}")
        deadline = time.monotonic() + START_TIMEOUT
        while not haproxy_worker_pid(paths.lb_socket(node_name), timeout=1.0):
            if time.monotonic() > deadline:
                raise FleetError(f"haproxy {node_name} has no worker after {START_TIMEOUT:.0f} s:\n{tail(directory / 'console.log')}")
            time.sleep(0.05)

    def _start_nginx(self, name: str, node: dict, hosts: list) -> None:
        if not os.access(NGINX, os.X_OK):
            raise FleetError(f"{NGINX} is missing: apt-get install nginx-light (the system service is not used)")
        directory = self.paths.nginx_node_dir(name)
        for sub in ("tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi"):
            (directory / sub).mkdir(parents=True, exist_ok=True, mode=0o755)
        config = directory / "nginx.conf"
        _write(directory / "upstream.conf", render_nginx_upstream(hosts))
        _write(config, render_nginx_config(directory, node["address"]))
        node.update(name=name, config=str(config), pidfile=str(directory / "nginx.pid"), upstream_file=str(directory / "upstream.conf"),
                    error_log=str(directory / "error.log"), servers={h.name: f"{h.address}:{APP_PORT}" for h in hosts})
        _must([NGINX, "-t", "-q", "-e", str(directory / "error.log"), "-c", str(config)], f"checking the nginx config of {name}")
        _must([NGINX, "-e", str(directory / "error.log"), "-c", str(config)], f"starting nginx {name}",
              stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True, timeout=START_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._verified_pid(directory / "nginx.pid", str(config)):
            if time.monotonic() > deadline:
                raise FleetError(f"nginx {name} did not start:\n{tail(directory / 'error.log')}")
            time.sleep(0.05)

    def lb_remove(self, name: str) -> None:
        """Stop an extra LB (by the pids in its pidfiles, verified) and remove its files."""
        paths = self.paths
        extra = self._extra_lbs()
        lb = extra.get(name)
        if lb is None:
            raise FleetError(f"no extra LB {name!r} in {paths.state_dir}")
        pids = {}
        for node in lb["nodes"]:
            if node.get("config") and node.get("pidfile"):
                pid = self._verified_pid(Path(node["pidfile"]), node["config"])
                if pid:
                    pids[pid] = node["config"]
                if lb["kind"] == "haproxy":
                    for pid in pids_with_cmdline_containing(node["config"]):
                        pids[pid] = node["config"]
        self._stop_pids(pids)
        for node in lb["nodes"]:
            if node.get("name"):
                shutil.rmtree(paths.nginx_node_dir(node["name"]) if lb["kind"] == "nginx" else paths.lb_dir(node["name"]), ignore_errors=True)
        del extra[name]
        _write(paths.extra_lbs_json, json.dumps(extra, indent=2) + "\n")
        self.say(f"extra LB {name} removed")

    def _stop_pids(self, pids: dict) -> None:
        """SIGTERM, wait, then SIGKILL what still is the same process (its command line still names its config)."""
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        left = wait_gone(list(pids), STOP_TIMEOUT)
        for pid in left:
            if pids[pid] in proc_cmdline(pid):
                _signal(pid, signal.SIGKILL)
        left = wait_gone(left, 5.0)
        if left:
            raise FleetError(f"processes {left} survived SIGKILL")

    def _stop_nginxes(self) -> int:
        paths = self.paths
        pids = {}
        if paths.nginx_dir.is_dir():
            for directory in paths.nginx_dir.glob("*"):
                pid = self._verified_pid(directory / "nginx.pid", str(directory / "nginx.conf"))
                if pid:
                    pids[pid] = str(directory / "nginx.conf")
        self._stop_pids(pids)
        return len(pids)


def _stat_rows(stat_csv: str) -> list[list[str]]:
    return [line.split(",") for line in stat_csv.splitlines() if line and not line.startswith("#")]


def parse_show_stat(stat_csv: str) -> list[dict]:
    """Rows of HAProxy's ``show stat`` CSV as dicts keyed by the header (pxname, svname, status, ...)."""
    lines = [line for line in stat_csv.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"not a show stat answer: {stat_csv[:200]!r}")
    header = lines[0][2:].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


# --------------------------------------------------------------------------------------------------
# the handle used by tests

def run_fleetctl(*args: str, state_dir=None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run fleetctl.py in a child process (so the daemons it starts are not children of the caller)."""
    env = dict(os.environ)
    if state_dir is not None:
        env[STATE_DIR_ENV] = str(state_dir)
    result = subprocess.run([sys.executable, str(FLEETCTL), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise FleetError(f"fleetctl {' '.join(args)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def fleet_is_up(state_dir, size: int | None = None) -> bool:
    """True when a fleet (of that size) runs from state_dir: every sshd and haproxy alive."""
    paths = FleetPaths(state_dir)
    data = _read_bytes(paths.fleet_json)
    if data is None:
        return False
    desc = json.loads(data)
    if size is not None and len(desc["hosts"]) != size:
        return False
    for host in desc["hosts"]:
        pid = read_pid(paths.sshd_pidfile(host["name"]))
        if not (pid and pid_alive(pid) and str(paths.sshd_config(host["name"])) in proc_cmdline(pid)):
            return False
    return all(haproxy_worker_pid(info["socket"], timeout=1.0) for info in desc["regions"].values())


class Fleet:
    """A running fleet, as described by its fleet.json."""

    def __init__(self, state_dir=None, release_dir=None):
        self.paths = FleetPaths(state_dir if state_dir is not None else state_dir_from_env())
        data = _read_bytes(self.paths.fleet_json)
        if data is None:
            raise FleetError(f"no fleet in {self.paths.state_dir} (run: python3 tests/fleet/fleetctl.py up N)")
        self.description = json.loads(data)
        self.state_dir = self.paths.state_dir
        self.inventory = self.paths.inventory
        self.ssh_key = self.paths.client_key
        self.ssh_port = int(self.description["ssh_port"])
        self.hosts = [Host(name=h["name"], address=h["address"], region=h["region"], index=h["index"], port=h["port"])
                      for h in self.description["hosts"]]
        self.regions = [r for r in REGIONS if r in self.description["regions"]]
        self.blue_green = bool(self.description.get("blue_green"))
        self.fleetapp_ctl = self.paths.fleetapp_ctl
        self.release_dir = Path(release_dir) if release_dir is not None else self.state_dir / "releases"
        self.last_restored: list[str] = []  # the hosts the last restore_checkpoint put back (the others were as saved)

    def __repr__(self):
        return f"Fleet({str(self.state_dir)!r}, {len(self.hosts)} hosts)"

    def view(self, regions) -> "Fleet":
        """The same running fleet seen through an inventory of some whole regions only (hosts, LBs and state as they
        are; nothing is started): for a test whose point does not depend on the fleet's size, each run then costs
        what a smaller fleet costs.  Whole regions, so that each region's HAProxy backend has exactly the view's
        hosts.  The view's inventory is <state>/views/<regions>/inventory.yml (a directory that can stand for a state
        directory where only the inventory is read, as molecule does)."""
        regions = [r for r in self.regions if r in set(regions)]
        if not regions:
            raise FleetError(f"a view needs at least one region of {self.regions}")
        view = Fleet.__new__(Fleet)
        view.__dict__.update(self.__dict__)
        view.hosts = [h for h in self.hosts if h.region in regions]
        view.regions = regions
        view.description = dict(self.description, hosts=[h for h in self.description["hosts"] if h["region"] in regions],
                                regions={r: info for r, info in self.description["regions"].items() if r in regions})
        view.inventory = self.state_dir / "views" / "-".join(regions) / "inventory.yml"
        _write(view.inventory, render_inventory(self.paths, view.hosts, self.description["lb_address_base"], self.ssh_port,
                                                self.blue_green))
        return view

    # hosts and paths
    def host(self, name) -> Host:
        if isinstance(name, Host):
            return name
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no host {name!r} in the fleet")

    def hosts_in(self, region: str) -> list[Host]:
        return [h for h in self.hosts if h.region == region]

    def host_path(self, name, path: str) -> Path:
        """The controller-side path backing a path inside a host's /srv or /etc/fleetapp (symlinks are not followed)."""
        host = self.host(name)
        norm = os.path.normpath(path)
        for mount_point, backing in (("/srv", self.paths.host_srv(host.name)), ("/etc/fleetapp", self.paths.host_etc(host.name))):
            if norm == mount_point:
                return backing
            if norm.startswith(mount_point + "/"):
                return backing / norm[len(mount_point) + 1:]
        raise ValueError(f"{path} is neither below /srv nor below /etc/fleetapp: it is not per host")

    def host_realpath(self, name, path: str) -> Path:
        """Like host_path, but follows symlinks the way the host sees them (e.g. /srv/app/current -> releases/x1)."""
        parts = [p for p in path.split("/") if p]
        resolved = "/"
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = os.path.dirname(resolved)
                continue
            resolved = os.path.join(resolved, part)
            try:
                backing = self.host_path(name, resolved)
            except ValueError:
                continue  # "/etc" on the way to /etc/fleetapp: not per host
            if backing.is_symlink():
                hops += 1
                if hops > 40:
                    raise ValueError(f"too many levels of symlinks below {path}")
                target = os.readlink(backing)
                parts = [p for p in target.split("/") if p] + parts
                resolved = "/" if target.startswith("/") else os.path.dirname(resolved)
        return self.host_path(name, resolved)

    # ssh
    def ssh_command(self, name, user: str = "root") -> list[str]:
        host = self.host(name)
        return ["ssh", "-i", str(self.ssh_key), "-p", str(host.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes", f"{user}@{host.address}"]

    def wipe_apps(self, *paths: str) -> None:
        """Stop every host's app and remove its release layout (/srv/app, the fleet lock's /srv/fleetops, ``paths``): what
        a test module that deployed leaves for the next one, which expects an empty /srv/app."""
        self._on_every_host(lambda host: self.ssh(host.name, " ".join([str(self.fleetapp_ctl), "stop;", "rm", "-rf", "/srv/app",
                                                                      "/srv/fleetops", *paths])))

    def _on_every_host(self, action) -> list:
        """action(host) for every host at once (threads: each is an SSH round trip or a copy); returns the results in
        host order and raises the first error after all have finished."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(self.hosts) or 1)) as pool:
            futures = [pool.submit(action, host) for host in self.hosts]
            return [future.result() for future in futures]

    # checkpoints: a state of every host saved once and put back later without a deploy
    def checkpoint_dir(self, label: str) -> Path:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", label):
            raise FleetError(f"a checkpoint label is lower-case letters, digits and dashes, not {label!r}")
        return self.state_dir / "checkpoints" / label

    def save_checkpoint(self, label: str) -> Path:
        """Copy every host's /srv/app and /etc/fleetapp (owners, modes, symlinks and times kept: ``cp -a``) to
        <state>/checkpoints/<label>/<host>/.  Refused while a host lock or the fleet lock is held: a checkpoint is the
        state between two runs, never one in progress."""
        locked = [h.name for h in self.hosts if self.host_path(h.name, "/srv/app/.fleet/lock").exists()
                  or self.host_path(h.name, "/srv/fleetops/fleet.lock").exists()]
        if locked:
            raise FleetError(f"cannot save checkpoint {label}: a run's lock is held on {', '.join(locked)}")
        target = self.checkpoint_dir(label)
        shutil.rmtree(target, ignore_errors=True)

        def save(host):
            saved = target / host.name
            saved.mkdir(parents=True)
            if self.host_path(host.name, "/srv/app").exists():
                _must(["cp", "-a", str(self.host_path(host.name, "/srv/app")), str(saved / "app")], f"saving /srv/app of {host.name}")
            _must(["cp", "-a", str(self.host_path(host.name, "/etc/fleetapp")), str(saved / "etc-fleetapp")],
                  f"saving /etc/fleetapp of {host.name}")

        self._on_every_host(save)
        return target

    def _as_saved(self, host, saved: Path, release: str | None) -> bool:
        """The host is exactly as checkpointed in ``saved``: its /srv/app and /etc/fleetapp trees match the saved
        copies (tree_signature), no fleet lock (/srv/fleetops), and its app answers ``release`` on /health."""
        if release is None or self.host_path(host.name, "/srv/fleetops").exists():
            return False
        if tree_signature(self.host_path(host.name, "/srv/app")) != tree_signature(saved / "app"):
            return False
        if tree_signature(self.host_path(host.name, "/etc/fleetapp")) != tree_signature(saved / "etc-fleetapp"):
            return False
        return self._health_release(host) == release

    def restore_checkpoint(self, label: str, release: str | None, timeout: float = 30.0) -> None:
        """Put every host back to a saved checkpoint instead of deploying it again: stop the app (fleetapp-ctl), replace
        /srv/app and the content of /etc/fleetapp (a mount point: emptied, not replaced) with the saved copies, remove
        /srv/fleetops (the fleet lock), start the app again with fleetapp-ctl (when the checkpoint has a release), put
        every server back in rotation in its region's HAProxy (and its server-state file), then verify: each host
        answers ``release`` on /health and every server is UP (``release`` None: the checkpoint has no release, no
        app runs).  Only the hosts that differ from the checkpoint are put back (stop, copy, start): a host whose
        trees are as saved, without a fleet lock, and whose app answers ``release``, is left running (the modules
        before often changed only some hosts, or one region); self.last_restored names the hosts put back."""
        source = self.checkpoint_dir(label)
        if not source.is_dir():
            raise FleetError(f"no checkpoint {label} in {source.parent}: save_checkpoint({label!r}) first")

        def put_back(host):
            saved = source / host.name
            self.ssh(host.name, f"{self.fleetapp_ctl} stop; rm -rf /srv/app /srv/fleetops", check=True)
            if (saved / "app").exists():
                _must(["cp", "-a", str(saved / "app"), str(self.host_path(host.name, "/srv/app"))], f"restoring /srv/app of {host.name}")
            etc = self.host_path(host.name, "/etc/fleetapp")
            for entry in etc.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            _must(["cp", "-a", f"{saved / 'etc-fleetapp'}/.", str(etc)], f"restoring /etc/fleetapp of {host.name}")
            if release is not None:
                self.ssh(host.name, f"{self.fleetapp_ctl} start", check=True)

        changed = [host for host, same in zip(self.hosts, self._on_every_host(lambda host: self._as_saved(host, source / host.name, release)))
                   if not same]
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, len(changed) or 1)) as pool:
            for future in [pool.submit(put_back, host) for host in changed]:
                future.result()
        self.last_restored = [host.name for host in changed]
        for region in self.regions:
            for backend, servers in self.lb_backends(region).items():
                for server in servers:
                    self.lb_command(region, f"set server {backend}/{server} state ready")
                    self.lb_command(region, f"set weight {backend}/{server} 100%")  # its configured weight
            _write(self.paths.lb_server_state(region), self.lb_command(region, "show servers state"), mode=0o600)
        if release is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            seen = {h.name: self._health_release(h) for h in self.hosts}
            statuses = {server: status for region in self.regions for server, status in self.lb_servers(region).items()}
            if set(seen.values()) == {release} and set(statuses.values()) == {"UP"}:
                return
            if time.monotonic() > deadline:
                raise FleetError(f"checkpoint {label} restored, but after {timeout:.0f} s the hosts answer {seen} and the "
                                 f"load balancers say {statuses} (wanted {release} everywhere, every server UP)")
            time.sleep(0.2)

    def _health_release(self, host) -> str | None:
        try:
            status, body = http_get(self.app_url(host, "/health"), timeout=5)
        except OSError:
            return None
        return json.loads(body).get("release") if status == 200 else None

    def ssh(self, name, command: str, user: str = "root", *, input=None, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
        """Run a shell command on a host over SSH; stdout/stderr are text.  input may be str or bytes."""
        # pylint: disable=redefined-builtin
        cmd = self.ssh_command(name, user) + [command]
        binary = isinstance(input, bytes)
        result = subprocess.run(cmd, input=input, capture_output=True, text=not binary, timeout=timeout, check=False)
        if binary:
            result = subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                                 result.stderr.decode("utf-8", "replace"))
        if check and result.returncode != 0:
            raise FleetError(f"ssh {user}@{name} {command!r} failed (exit {result.returncode}): {result.stderr.strip()}")
        return result

    # load balancers
    def lb_url(self, region: str) -> str:
        return self.description["regions"][region]["lb_url"]

    def lb_socket(self, region: str) -> str:
        return self.description["regions"][region]["socket"]

    def lb_command(self, region: str, cmd: str) -> str:
        return haproxy_command(self.lb_socket(region), cmd)

    def lb_backends(self, region: str) -> dict[str, list[str]]:
        """Backend -> server names of the region's HAProxy: {"app": [...]}, or app_blue and app_green for blue/green."""
        info = self.description["regions"][region]
        return info.get("backends") or {LB_BACKEND: info["servers"]}

    def lb_servers(self, region: str) -> dict[str, str]:
        """Server name -> status (UP, DOWN, MAINT, ...) in the region's backend(s) (server names are unique in a region)."""
        backends = self.lb_backends(region)
        rows = parse_show_stat(self.lb_command(region, "show stat"))
        return {row["svname"]: row["status"] for row in rows if row["pxname"] in backends and row["svname"] not in ("FRONTEND", "BACKEND")}

    def lb_map(self, region: str) -> str | None:
        """The blue/green map file of the region's HAProxy (None for a plain fleet)."""
        return self.description["regions"][region].get("map")

    def lb_active_pool(self, region: str) -> str:
        """The pool a blue/green region sends new requests to, as its HAProxy's runtime map says."""
        if not self.lb_map(region):
            raise FleetError(f"region {region} of {self.state_dir} is not blue/green (fleetctl up N --blue-green)")
        return active_pool(self.lb_socket(region), self.lb_map(region))

    def lb_reload(self, region: str) -> None:
        FleetController(self.state_dir, out=io.StringIO()).lb_reload(region)

    def lb_reload_node(self, node: str, save_state: bool = True) -> None:
        """Reload one HAProxy by node name (a region, or an extra node such as ``us-bg.1``); see FleetController.lb_reload_node."""
        FleetController(self.state_dir, out=io.StringIO()).lb_reload_node(node, save_state=save_state)

    def lb_add(self, name: str, region: str, kind: str = "haproxy", blue_green: bool = False, nodes: int = 1) -> dict:
        """Start an extra LB (HA pair, blue/green or nginx) for a region's hosts; see FleetController.lb_add."""
        return FleetController(self.state_dir, out=io.StringIO()).lb_add(name, region, kind=kind, blue_green=blue_green, nodes=nodes)

    def lb_remove(self, name: str) -> None:
        FleetController(self.state_dir, out=io.StringIO()).lb_remove(name)

    # the app
    def app_url(self, name, path: str = "/") -> str:
        return f"http://{self.host(name).address}:{APP_PORT}{path}"

    # ansible
    def ansible_playbook(self, playbook_path, *extra_args, extra_vars=None, check=False, limit=None, inventory=None, env=None,
                         timeout=None) -> subprocess.CompletedProcess:
        """Run ansible-playbook (from the bin dir of sys.executable) from the repo root against this fleet."""
        bin_dir = Path(sys.executable).parent
        cmd = [str(bin_dir / "ansible-playbook"), "-i", str(inventory or self.inventory)]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        if check:
            cmd.append("--check")
        if limit:
            cmd += ["--limit", limit if isinstance(limit, str) else ",".join(limit)]
        cmd += [str(arg) for arg in extra_args]
        cmd.append(str(playbook_path))
        full_env = dict(os.environ)
        full_env["PATH"] = f"{bin_dir}{os.pathsep}{full_env.get('PATH', '')}"
        full_env.update(env or {})
        return subprocess.run(cmd, cwd=str(REPO_ROOT), env=full_env, capture_output=True, text=True, timeout=timeout, check=False)

    def ansible_module(self, pattern: str, module: str, args=None, *extra_args, check=False, diff=False, env=None,
                       timeout=300) -> tuple[dict, subprocess.CompletedProcess]:
        """Run one module on ``pattern`` of this fleet with the ``ansible`` CLI; see run_ansible_module."""
        return run_ansible_module(pattern, module, args, self.inventory, *extra_args, check=check, diff=diff, env=env, timeout=timeout)

    # releases
    def build_release(self, release_id: str, pad_bytes: int = 0, **behaviour) -> tuple[Path, str]:
        """Build <release_dir>/<id>.tar.gz with build_release.py; return (path, sha256)."""
        self.release_dir.mkdir(parents=True, exist_ok=True)
        out = self.release_dir / f"{release_id}.tar.gz"
        digest = build_release.build(release_id, out, behaviour=behaviour or None, pad_bytes=pad_bytes)
        return out, digest


MODULE_RESULT = re.compile(r"^(\S+) \| ([A-Z]+)!? => \{$", re.M)


def run_ansible_module(pattern: str, module: str, args, inventory, *extra_args, check=False, diff=False, env=None,
                       timeout=300) -> tuple[dict, subprocess.CompletedProcess]:
    """Run one module with the ``ansible`` CLI (the venv's, from the repo root); returns ({host: result}, process).

    The minimal callback prints "<host> | <STATUS> => {json}" per host; each result gets ``failed`` from that status
    (FAILED or UNREACHABLE). Raises FleetError when ansible printed no result at all.
    """
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "ansible"), pattern, "-i", str(inventory), "-m", module, "-a", json.dumps(args or {})]
    cmd += [str(arg) for arg in extra_args]
    cmd += ["--check"] if check else []
    cmd += ["--diff"] if diff else []
    full_env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.minimal", ANSIBLE_CALLBACK_RESULT_FORMAT="json",
                    ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"))
    full_env["PATH"] = f"{bin_dir}{os.pathsep}{full_env.get('PATH', '')}"
    full_env.update(env or {})
    proc = subprocess.run(cmd, cwd=str(REPO_ROOT), env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
    results = {}
    headers = list(MODULE_RESULT.finditer(proc.stdout))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(proc.stdout)
        # With --diff the callback prints the diff after the JSON: decode the JSON only.
        result = json.JSONDecoder().raw_decode(proc.stdout[header.end() - 1:end])[0]
        result["failed"] = header.group(2) in ("FAILED", "UNREACHABLE")
        results[header.group(1)] = result
    if not results:
        raise FleetError(f"no result from ansible {module} on {pattern}:\n{proc.stdout}\n{proc.stderr}")
    return results, proc

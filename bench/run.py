# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall-clock, CPU and task figures of rollback and deploy against the local test fleet (a benchmark, not a test).

    .venv/bin/python bench/run.py [--sizes 12,48] [--blue-green] [--ansistrano-roles DIR] [--json FILE] [--log-dir DIR]

For each fleet size N: bring up N hosts (regions us, eu, ap), deploy bench-1 then bench-2 (setup), then measure

  (a) playbooks/rollback.yml with fleet_waves=[1,"50%","100%"]: bench-2 -> bench-1 with everything we do;
  (b) bench/plain_flip.yml: bench-2 -> bench-1 as a bare symlink flip, the floor any rollback over SSH has;
  (c) playbooks/deploy.yml of bench-3, a release of about 1 MB;
  (d) bench/floor.yml: bench-2 -> bench-1 with only the steps every rollback that keeps our promises must make (read
      each host before any change, then one activation per host with restart and health check, in one batch);
  (f) with --ansistrano-roles: bench/ansistrano_rollback.yml, the ansistrano.rollback role, bench-2 -> bench-1;

each with cold SSH connections (a fresh, empty ControlPath directory) and 20 forks, then tear the fleet down.  Every
run gets its wall time, the controller CPU-seconds of its whole process tree (a cgroup of its own, read after its
ssh ControlPersist masters have exited), and the counts of bench/callback_plugins/bench_tasks.py (task executions
per host, run_once steps, SSH processes per host); (a) also its time to recover from the audit record.  With
--blue-green, a 6-host blue/green fleet measures the blue/green rollback (the flip back) the same way.
Prints the figures, then the issue's targets (judged at N=48); see bench/README.md.
Needs root (the test fleet and the cgroups do).  Run from anywhere; ansible runs from the repository root.
"""

from __future__ import annotations

import argparse
import configparser
import dataclasses
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = REPO_ROOT / ".venv" / "bin"
ANSIBLE_CONFIG = REPO_ROOT / "ansible.cfg"
BENCH_DIR = REPO_ROOT / "bench"
CALLBACK_DIR = BENCH_DIR / "callback_plugins"
CALLBACK_NAME = "bench_tasks"
DEPLOY = "playbooks/deploy.yml"
ROLLBACK = "playbooks/rollback.yml"
PLAIN_FLIP = "bench/plain_flip.yml"
FLOOR = "bench/floor.yml"
ANSISTRANO_ROLLBACK = "bench/ansistrano_rollback.yml"
ANSISTRANO_ROLE = "ansistrano.rollback"
APP_ROOT = "/srv/app"
WAVES = '[1,"50%","100%"]'
FORKS = "20"
OLD, NEW, BIG = "bench-1", "bench-2", "bench-3"
BIG_PAD_BYTES = 1 << 20  # incompressible, so the artifact really is ~1 MB on the wire
DEFAULT_STATE_DIR = "/var/tmp/fleet-bench"
BLUE_GREEN_SIZE = 6
TARGET_SIZE = 48
FAILURE_TAIL_LINES = 25

# Controller-side cgroups: v1's cpuacct hierarchy, else a cgroup v2 hierarchy (cpu.stat's usage_usec needs no
# controller enabled).  Each run gets a group of its own under this prefix.
CPUACCT_V1 = Path("/sys/fs/cgroup/cpuacct")
CGROUP_V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
CGROUP_PREFIX = "fleet-bench"
CGROUP_DRAIN_SECONDS = 15.0

# Actions that never reach the host (the controller evaluates them): a task of these is no SSH round trip.
CONTROLLER_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("set_fact", "debug", "assert", "fail", "meta", "include_tasks", "import_tasks", "include_role",
                 "import_role", "include_vars", "add_host", "group_by", "set_stats", "pause", "validate_argument_spec")
)


class Interrupted(Exception):
    """SIGTERM, turned into an exception so that the fleet still gets torn down."""


class SetupFailed(Exception):
    """An unmeasured step failed: the measurements of this size cannot be made."""


@dataclasses.dataclass
class Run:
    """One ansible-playbook run: wall seconds, exit code, full log, controller CPU-seconds and task counts."""

    label: str
    seconds: float
    rc: int
    log: str
    load_1m_start: float
    note: str = ""
    cpu_seconds: float | None = None
    tasks: dict | None = None

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.note


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------------------------------
# controller CPU time: one cgroup per run

class CpuGroup:
    """A cgroup that holds one ansible-playbook run and everything it starts (workers, ssh clients, the ssh
    ControlPersist masters, which leave the process tree but not the cgroup): its CPU time, then its removal."""

    def __init__(self, label: str):
        kind, root = cgroup_root()
        self.kind = kind
        self.root = root
        # unique: several bench runs (or a stale group of a killed one) must never share a group
        self.path = root / f"{CGROUP_PREFIX}-{os.getpid()}-{time.monotonic_ns()}-{label}"[:200]
        self.path.mkdir()

    def join(self) -> None:
        """preexec_fn of the run: the child moves itself into the group before it execs ansible-playbook."""
        with open(self.path / "cgroup.procs", "w", encoding="ascii") as procs:
            procs.write(str(os.getpid()))

    def pids(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text(encoding="ascii").split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float:
        if self.kind == "v1":
            return int((self.path / "cpuacct.usage").read_text(encoding="ascii")) / 1e9
        for line in (self.path / "cpu.stat").read_text(encoding="ascii").splitlines():
            key, _sep, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise OSError(f"no usage_usec in {self.path / 'cpu.stat'}")

    def drain(self, timeout: float = CGROUP_DRAIN_SECONDS) -> list[int]:
        """Wait until every process of the run has exited; return the PIDs still there after timeout."""
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.pids()

    def close(self) -> list[int]:
        """Stop what is left in the group (only its own members, by PID), move survivors to the root, remove it."""
        leftovers = self.pids()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if leftovers:
            self.drain(5.0)
        for pid in self.pids():
            try:
                (self.root / "cgroup.procs").write_text(str(pid), encoding="ascii")
            except OSError:
                pass  # it exited meanwhile
        try:
            self.path.rmdir()
        except OSError as exc:
            say(f"  warning: cgroup {self.path} not removed: {exc}")
        return leftovers


_CGROUP_ROOT: tuple[str, Path] | None = None


def cgroup_root() -> tuple[str, Path]:
    """('v1', /sys/fs/cgroup/cpuacct) when the cpuacct hierarchy is mounted, else ('v2', the unified hierarchy)."""
    global _CGROUP_ROOT  # pylint: disable=global-statement
    if _CGROUP_ROOT is None:
        if (CPUACCT_V1 / "cpuacct.usage").exists():
            _CGROUP_ROOT = ("v1", CPUACCT_V1)
        else:
            for root in CGROUP_V2_ROOTS:
                if (root / "cgroup.controllers").exists():
                    _CGROUP_ROOT = ("v2", root)
                    break
            else:
                raise OSError("no cgroup hierarchy for CPU accounting: neither /sys/fs/cgroup/cpuacct (v1) nor a cgroup v2 mount")
    return _CGROUP_ROOT


def check_cgroups() -> str:
    """'' when a run's CPU time can be measured here, else why not (the figures are then left out)."""
    try:
        group = CpuGroup("probe")
    except OSError as exc:
        return f"no controller CPU figures: cannot create a cgroup ({exc}); run as root on a machine with cgroups"
    try:
        group.cpu_seconds()
    except OSError as exc:
        return f"no controller CPU figures: cannot read the cgroup's usage ({exc})"
    finally:
        group.close()
    return ""


# --------------------------------------------------------------------------------------------------
# what a run executed: bench/callback_plugins/bench_tasks.py's lines

def spread(counter: Counter, names: list[str]) -> dict:
    """max/mean/min over every fleet host (a host without a line counts 0)."""
    values = [counter.get(name, 0) for name in names]
    if not values:
        return {"max": None, "mean": None, "min": None}
    return {"max": max(values), "mean": round(statistics.fmean(values), 2), "min": min(values)}


def count_tasks(task_log: Path, hosts: list) -> dict | None:
    """Task executions per host (tasks not run_once, skipped included), run_once steps and SSH processes per host.

    remote_tasks counts the executions that reach the host: not skipped, not delegated, not run_once, not an action
    the controller evaluates (set_fact, debug, includes, ...).  ssh counts every ssh/scp/sftp process that the ssh
    connection plugin started for the host, i.e. the real SSH round trips (an action plugin may make several).
    """
    if not task_log.exists():
        return None
    names = [host.name for host in hosts]
    name_of = {host.address: host.name for host in hosts}
    per_host, remote, ssh = Counter(), Counter(), Counter()
    by_task: dict[str, Counter] = {}
    statuses = Counter()
    run_once = run_once_run = other_hosts = meta = 0
    ssh_counted = True
    for line in task_log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        event = record.get("event")
        if event == "ssh":
            ssh[name_of.get(record.get("address"), record.get("address"))] += 1
            continue
        if event == "ssh-unavailable":
            ssh_counted = False
            continue
        if event != "task":
            continue
        statuses[record["status"]] += 1
        if record["action"] in ("meta", "ansible.builtin.meta"):
            meta += 1  # handled by the strategy itself, no worker
            continue
        if record["run_once"]:
            run_once += 1
            run_once_run += record["status"] != "skipped"
            continue
        host = record["host"]
        if host not in names:
            other_hosts += 1  # a play on localhost: controller work, counted apart
            continue
        per_host[host] += 1
        by_task.setdefault(host, Counter())[record["task"]] += 1
        if record["status"] != "skipped" and not record["delegate_to"] and record["action"] not in CONTROLLER_ACTIONS:
            remote[host] += 1
    busiest = max(names, key=lambda name: per_host.get(name, 0)) if names else None
    return {
        "results": sum(statuses.values()),
        "statuses": dict(statuses),
        "per_host": spread(per_host, names),
        "run_once": run_once,
        "run_once_not_skipped": run_once_run,
        "other_hosts_results": other_hosts,
        "meta": meta,
        "remote_tasks_per_host": spread(remote, names),
        "ssh_per_host": spread(ssh, names) if ssh_counted else None,
        "ssh_total": sum(ssh.values()) if ssh_counted else None,
        "busiest_host": busiest,
        "busiest_host_tasks": dict(by_task.get(busiest, Counter()).most_common()) if busiest else {},
    }


# --------------------------------------------------------------------------------------------------
# running ansible-playbook

def enabled_callbacks() -> str:
    """ansible.cfg's callbacks_enabled plus ours (the environment variable would replace the file's list)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ANSIBLE_CONFIG, encoding="utf-8")
    configured = config.get("defaults", "callbacks_enabled", fallback="") or config.get("defaults", "callback_whitelist", fallback="")
    names = [name.strip() for name in configured.split(",") if name.strip()]
    return ",".join(names + [CALLBACK_NAME])


def ansible_env(control_dir: str, ansible_log: Path, task_log: Path, extra_env: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ANSIBLE_CONFIG),
        ANSIBLE_FORKS=FORKS,
        # cold connections: no ControlMaster socket of an earlier run can be reused
        ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir,
        ANSIBLE_NOCOLOR="1",
        # timestamped task banners, for bench/task_times.py (where the time goes)
        ANSIBLE_LOG_PATH=str(ansible_log),
        # bench/callback_plugins/bench_tasks.py: a JSON line per task result and per SSH process
        ANSIBLE_CALLBACK_PLUGINS=str(CALLBACK_DIR),
        ANSIBLE_CALLBACKS_ENABLED=enabled_callbacks(),
        BENCH_TASK_LOG=str(task_log),
    )
    env.update(extra_env or {})
    return env


def close_ssh_masters(control_dir: str) -> None:
    """Stop the ControlPersist masters this run left (they would idle 120 s, weigh on the next run and keep its
    cgroup busy)."""
    for socket_path in Path(control_dir).iterdir():
        subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={socket_path}", "bench-master"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)


def wait_or_stop(proc: subprocess.Popen, timeout: float) -> int:
    """Wait for the playbook; on timeout or Ctrl-C stop its process group (it runs in its own session)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        return -1
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        raise


@dataclasses.dataclass
class RunContext:
    """What every run of one fleet needs: where logs go, the hosts (for the counts), whether CPU can be measured."""

    log_dir: Path
    hosts: list
    timeout: float
    measure_cpu: bool


def run_playbook(ctx: RunContext, label: str, playbook: str, inventory: Path, extra_vars: list[str],
                 extra_env: dict | None = None) -> Run:
    """Run one playbook from the repository root with cold SSH, in a cgroup of its own; return its wall time
    (time.monotonic), controller CPU-seconds and task counts."""
    cmd = [str(VENV_BIN / "ansible-playbook"), playbook, "-i", str(inventory)]
    for extra in extra_vars:
        cmd += ["-e", extra]
    log = ctx.log_dir / f"{label}.log"
    task_log = ctx.log_dir / f"{label}.tasks.jsonl"
    task_log.unlink(missing_ok=True)
    load = os.getloadavg()[0]  # the machine is shared: a figure means little without it
    control_dir = tempfile.mkdtemp(prefix="fleet-bench-cp-")  # short: ssh limits unix socket paths to ~104 bytes
    group = CpuGroup(label) if ctx.measure_cpu else None
    cpu_seconds, note = None, ""
    try:
        with open(log, "w", encoding="utf-8") as out:
            out.write("$ " + " ".join(cmd) + "\n\n")
            out.flush()
            env = ansible_env(control_dir, ctx.log_dir / f"{label}.ansible.log", task_log, extra_env)
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with,subprocess-popen-preexec-fn
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=group.join if group else None)
            rc = wait_or_stop(proc, ctx.timeout)
            seconds = time.monotonic() - started
    finally:
        close_ssh_masters(control_dir)
        shutil.rmtree(control_dir, ignore_errors=True)
        if group:
            # the masters exit after `ssh -O exit`; their CPU time belongs to the run
            left = group.drain()
            cpu_seconds = round(group.cpu_seconds(), 2)
            if left:
                note = f"{len(left)} processes still in the run's cgroup {CGROUP_DRAIN_SECONDS:.0f} s after it ended (stopped)"
                say(f"  warning: {label}: {note}: {left}")
            group.close()
    run = Run(label, seconds, rc, str(log), load, note=f"timed out after {ctx.timeout:.0f} s" if rc == -1 else "",
              cpu_seconds=cpu_seconds, tasks=count_tasks(task_log, ctx.hosts))
    if note:
        run.tasks = dict(run.tasks or {}, cgroup_note=note)
    return run


def failure_excerpt(run: Run) -> str:
    """The lines that say why a run failed: ansible's errors, then the end of the log (the recap)."""
    lines = Path(run.log).read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in lines if line.startswith(("fatal:", "ERROR!", "[ERROR]", "failed:"))][:5]
    shown = errors + ["..."] + lines[-FAILURE_TAIL_LINES:] if errors else lines[-FAILURE_TAIL_LINES:]
    return "\n".join("    " + line[:300] for line in shown)


def fmt(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report_run(run: Run) -> None:
    status = "ok" if run.ok else f"FAILED (exit {run.rc}{', ' + run.note if run.note else ''})"
    say(f"  {run.label}: {run.seconds:.1f} s, CPU {fmt(run.cpu_seconds)} s, {status}, load {run.load_1m_start:.2f} at start  [{run.log}]")
    tasks = run.tasks
    if tasks:
        ssh = tasks["ssh_per_host"] or {}
        say(f"    task executions per host (not run_once, skipped included) max {fmt(tasks['per_host']['max'])} "
            f"mean {fmt(tasks['per_host']['mean'])}; run_once steps {tasks['run_once']} ({tasks['run_once_not_skipped']} not skipped); "
            f"SSH processes per host max {fmt(ssh.get('max'))} mean {fmt(ssh.get('mean'))}; "
            f"remote module tasks per host max {fmt(tasks['remote_tasks_per_host']['max'])}")
    if not run.ok:
        say(failure_excerpt(run))


# --------------------------------------------------------------------------------------------------
# the hosts' release state, read from the controller side of their bind mounts (no SSH, nothing timed)

def current_links(fleet: fleetlib.Fleet, names: list[str] | None = None) -> dict[str, str]:
    links = {}
    for name in names if names is not None else [host.name for host in fleet.hosts]:
        try:
            links[name] = os.path.basename(os.readlink(fleet.host_path(name, f"{APP_ROOT}/current")))
        except OSError:
            links[name] = "(none)"
    return links


def state_currents(fleet: fleetlib.Fleet) -> dict[str, str]:
    currents = {}
    for host in fleet.hosts:
        try:
            state = json.loads(fleet.host_path(host.name, f"{APP_ROOT}/.fleet/state.json").read_text(encoding="utf-8"))
            currents[host.name] = str(state.get("current"))
        except (OSError, ValueError):
            currents[host.name] = "(none)"
    return currents


def mismatches(found: dict[str, str], release: str) -> str:
    """'' when every host has release, else a short list of the hosts that do not."""
    wrong = {name: value for name, value in found.items() if value != release}
    if not wrong:
        return ""
    sample = ", ".join(f"{name}={value}" for name, value in list(wrong.items())[:4])
    return f"{len(wrong)}/{len(found)} hosts not on {release} ({sample}{', ...' if len(wrong) > 4 else ''})"


def check_hosts(fleet: fleetlib.Fleet, release: str, state_too: bool) -> str:
    problems = [mismatches(current_links(fleet), release)]
    if state_too:
        problems.append(mismatches(state_currents(fleet), release).replace("not on", "with state.json current not"))
    return "; ".join(p for p in problems if p)


def last_run_record(audit_dir: Path, operation: str) -> dict | None:
    """The newest audit record of a run of ``operation`` (the day files are YYYY-MM-DD.jsonl, oldest first)."""
    for path in sorted(audit_dir.glob("*.jsonl"), reverse=True):
        for line in reversed(path.read_text(encoding="utf-8").splitlines()):
            record = json.loads(line)
            if record.get("event") == "run" and record.get("operation") == operation:
                return record
    return None


# --------------------------------------------------------------------------------------------------
# one fleet size

class SizeBench:
    """Everything measured for one fleet size; the fleet lives from up() to down()."""

    blue_green = False

    def __init__(self, size: int, args: argparse.Namespace, log_dir: Path, measure_cpu: bool):
        self.size = size
        self.args = args
        self.log_dir = log_dir / f"{'bg' if self.blue_green else 'n'}{size}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(args.state_dir)
        self.measure_cpu = measure_cpu
        self.fleet: fleetlib.Fleet | None = None
        self.ctx: RunContext | None = None
        self.artifacts: dict[str, Path] = {}
        self.result: dict = {"n": size, "blue_green": self.blue_green, "load_average_start": list(os.getloadavg()),
                             "runs": {}, "errors": []}

    def up(self) -> None:
        say(f"N={self.size}{' blue/green' if self.blue_green else ''}: fleet up in {self.state_dir} (hosts "
            f"{self.args.address_base}.1-{self.size}, LBs {self.args.lb_address_base}.1-3)")
        started = time.monotonic()
        fleetlib.run_fleetctl("up", str(self.size), "--address-base", self.args.address_base,
                              "--lb-address-base", self.args.lb_address_base, *(["--blue-green"] if self.blue_green else []),
                              state_dir=self.state_dir, timeout=600)
        self.result["fleet_up_seconds"] = round(time.monotonic() - started, 2)
        self.fleet = fleetlib.Fleet(self.state_dir)
        self.ctx = RunContext(self.log_dir, self.fleet.hosts, self.args.timeout, self.measure_cpu)
        say(f"  fleet up: {len(self.fleet.hosts)} hosts in {self.result['fleet_up_seconds']:.1f} s")

    def down(self) -> None:
        result = fleetlib.run_fleetctl("down", state_dir=self.state_dir, check=False, timeout=600)
        if result.returncode != 0:
            say(f"  fleet down FAILED (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
            self.result["errors"].append(f"fleet down failed: {result.stderr.strip()[-500:]}")
        else:
            say(f"  fleet down ({self.state_dir} removed)")

    def build_releases(self) -> None:
        for release, pad in ((OLD, 0), (NEW, 0), (BIG, BIG_PAD_BYTES)):
            path, _digest = self.fleet.build_release(release, pad_bytes=pad)
            self.artifacts[release] = path
        self.result["big_artifact_bytes"] = self.artifacts[BIG].stat().st_size

    def playbook(self, label: str, playbook: str, *extra_vars: str, extra_env: dict | None = None) -> Run:
        return run_playbook(self.ctx, label, playbook, self.fleet.inventory, list(extra_vars), extra_env)

    def deploy(self, label: str, release: str) -> Run:
        return self.playbook(label, DEPLOY, f"fleet_release={release}", f"fleet_artifact={self.artifacts[release]}")

    def plain_flip(self, label: str, release: str) -> Run:
        return self.playbook(label, PLAIN_FLIP, f"flip_release={release}")

    def floor(self, label: str, release: str) -> Run:
        return self.playbook(label, FLOOR, f"floor_release={release}")

    def ansistrano(self, label: str, release: str) -> Run:
        # JSON, so that the booleans are booleans (ansible-core 2.19 refuses a string as a conditional).  The target
        # is named: ansistrano's default picks the previous release by directory mtime, which our activations touch.
        # The rolled-back release is kept, as later runs need it; no anonymous stats (no network beyond loopback).
        extra = {"ansistrano_deploy_to": APP_ROOT, "ansistrano_rollback_to_release": release,
                 "ansistrano_remove_rolled_back": False, "ansistrano_allow_anonymous_stats": False}
        return self.playbook(label, ANSISTRANO_ROLLBACK, json.dumps(extra),
                             extra_env={"ANSIBLE_ROLES_PATH": str(Path(self.args.ansistrano_roles).resolve())})

    def setup_step(self, run: Run, release: str) -> None:
        """An unmeasured step must succeed and leave every host on release, or nothing after it means anything."""
        report_run(run)
        problem = "" if run.ok else f"exit {run.rc}"
        problem = problem or check_hosts(self.fleet, release, state_too=False)
        if problem:
            raise SetupFailed(f"setup step {run.label} failed: {problem} (log {run.log})")

    def measured(self, key: str, run: Run, release: str, state_too: bool) -> None:
        """Record a measured run; a run that exits 0 but leaves hosts elsewhere is reported as failed."""
        if run.rc == 0:
            run.note = check_hosts(self.fleet, release, state_too)
        report_run(run)
        self.result["runs"][key] = dataclasses.asdict(run)

    def recovery_seconds(self, run: Run):
        """What the operator waits for, from the run's audit record: from the first switch until every host is
        healthy and back in its pool.  The record goes into the JSON too (the fleet's state directory, where it
        lives, is removed with the fleet)."""
        record = last_run_record(self.state_dir / "audit", "rollback") if run.ok else None
        self.result["rollback_audit_record"] = record
        return record.get("recovery_seconds") if record else None

    def measure(self) -> None:
        self.setup_step(self.deploy("setup-deploy-bench-1", OLD), OLD)
        self.setup_step(self.deploy("setup-deploy-bench-2", NEW), NEW)
        # Order: every measured rollback must do the same switch, bench-2 -> bench-1, on the same hosts.
        # (b) first: the plain flip moves only the symlinks and leaves state.json saying bench-2 (stale).  Flipping
        # back to bench-2 (unmeasured) makes symlinks and state files agree again, so that (a), the real rollback,
        # starts from the consistent state a deploy leaves and ends consistent on bench-1; (c) then deploys from there.
        self.measured("plain_flip", self.plain_flip("b-plain-flip-bench-2-to-bench-1", OLD), OLD, state_too=False)
        self.setup_step(self.plain_flip("setup-plain-flip-back-to-bench-2", NEW), NEW)
        # (d) makes the same switch with real activations (state.json stays consistent); back to bench-2 the same way.
        self.measured("floor", self.floor("d-floor-bench-2-to-bench-1", OLD), OLD, state_too=True)
        self.setup_step(self.floor("setup-floor-back-to-bench-2", NEW), NEW)
        if self.args.ansistrano_roles:
            # (f) moves the symlinks only, like (b), so it leaves state.json stale: back with a plain flip.
            self.measured("ansistrano", self.ansistrano("f-ansistrano-rollback-bench-2-to-bench-1", OLD), OLD, state_too=False)
            self.setup_step(self.plain_flip("setup-plain-flip-back-to-bench-2-after-f", NEW), NEW)
        rollback = self.playbook("a-rollback-bench-2-to-bench-1", ROLLBACK, f"fleet_waves={WAVES}")
        self.measured("rollback", rollback, OLD, state_too=True)
        self.result["rollback_recovery_seconds"] = self.recovery_seconds(rollback)
        self.measured("deploy_big", self.deploy("c-deploy-bench-3-1MB", BIG), BIG, state_too=True)

    def run(self) -> dict:
        try:
            self.up()
            self.build_releases()
            self.measure()
        except (fleetlib.FleetError, SetupFailed, subprocess.SubprocessError, OSError) as exc:
            say(f"  N={self.size}: {exc}")
            self.result["errors"].append(str(exc))
        finally:
            # a second Ctrl-C or a SIGTERM must not leave sshds, apps and haproxies behind
            previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
            try:
                self.down()
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
        return self.result


class BlueGreenBench(SizeBench):
    """The blue/green rollback (the flip back) on a 6-host blue/green fleet: each region's HAProxy serves app_blue
    (the region's 1st host) or app_green (its 2nd) through a map (tests/fleet/fleetctl.py up N --blue-green)."""

    blue_green = True

    def pool_hosts(self, pool: str) -> list[str]:
        return [name for region in self.fleet.regions for name in self.fleet.lb_backends(region)[pool]]

    def check_serving(self, pool: str, release: str) -> str:
        """'' when every region's HAProxy sends new requests to pool and its hosts run release."""
        pools = {region: self.fleet.lb_active_pool(region) for region in self.fleet.regions}
        problems = [f"{region} serves {active}, not {pool}" for region, active in pools.items() if active != pool]
        problems.append(mismatches(current_links(self.fleet, self.pool_hosts(pool)), release))
        return "; ".join(p for p in problems if p)

    def measure(self) -> None:
        # bench-1 goes to the idle green pool, which then serves; bench-2 to blue, which then serves.  The rollback
        # flips every region back to green, which still runs bench-1: no host is touched.
        self.bg_setup("setup-deploy-bench-1", OLD, "app_green")
        self.bg_setup("setup-deploy-bench-2", NEW, "app_blue")
        rollback = self.playbook("bg-rollback-flip-back", ROLLBACK, "fleet_strategy=blue_green", "fleet_reason=bench")
        if rollback.rc == 0:
            rollback.note = self.check_serving("app_green", OLD)
        report_run(rollback)
        self.result["runs"]["blue_green_rollback"] = dataclasses.asdict(rollback)
        self.result["rollback_recovery_seconds"] = self.recovery_seconds(rollback)

    def bg_setup(self, label: str, release: str, pool: str) -> None:
        run = self.deploy(label, release)
        report_run(run)
        problem = "" if run.ok else f"exit {run.rc}"
        problem = problem or self.check_serving(pool, release)
        if problem:
            raise SetupFailed(f"setup step {run.label} failed: {problem} (log {run.log})")


# --------------------------------------------------------------------------------------------------
# the report

RUN_COLUMNS = (("rollback", "(a) rollback"), ("plain_flip", "(b) plain flip"), ("floor", "(d) floor"),
               ("ansistrano", "(f) ansistrano"), ("deploy_big", "(c) deploy 1MB"))

# The targets, judged at N=TARGET_SIZE: (key, what, comparison, limit).
TARGETS = (
    ("a_over_d", "(a)/(d) rollback over the floor of the required steps", "<=", 1.2),
    ("a_over_b", "(a)/(b) rollback over the plain flip", "<=", 2.5),
    ("cpu_a_over_b", "CPU(a)/CPU(b) controller CPU-seconds", "<=", 2.5),
    ("tasks_per_host", "(a) task executions per host (max; run_once apart)", "<=", 3),
    ("ttr", "(a) time to recover, s", "<=", 20),
    ("deploy_1mb", "(c) deploy of 1 MB, s", "<", 60),
)
# judged on the blue/green fleet of BLUE_GREEN_SIZE hosts, whatever the sizes
BLUE_GREEN_TARGET = ("blue_green_rollback", f"blue/green rollback, {BLUE_GREEN_SIZE} hosts, whole command, s", "<", 5)


def run_ok(run) -> bool:
    return bool(run) and run["rc"] == 0 and not run["note"]


def ok_run(result: dict | None, key: str):
    run = (result or {}).get("runs", {}).get(key)
    return run if run_ok(run) else None


def ratio_of(result: dict, top: str = "rollback", bottom: str = "plain_flip", field: str = "seconds"):
    """top/bottom of field ((a)/(b) wall seconds by default), only when both runs succeeded: the figure of a failed
    run compares to nothing."""
    over, under = ok_run(result, top), ok_run(result, bottom)
    if over and under and over.get(field) is not None and under.get(field):
        return over[field] / under[field]
    return None


def figures(result: dict) -> dict:
    """Every figure a target of one size is judged on, None where a run failed or did not happen."""
    rollback, deploy = ok_run(result, "rollback"), ok_run(result, "deploy_big")
    return {
        "a_over_d": ratio_of(result, "rollback", "floor"),
        "a_over_b": ratio_of(result, "rollback", "plain_flip"),
        "cpu_a_over_b": ratio_of(result, "rollback", "plain_flip", "cpu_seconds"),
        "tasks_per_host": ((rollback or {}).get("tasks") or {}).get("per_host", {}).get("max"),
        "ttr": result.get("rollback_recovery_seconds") if rollback else None,
        "deploy_1mb": deploy["seconds"] if deploy else None,
    }


def judge(value, comparison: str, limit: float):
    if value is None:
        return None
    return value <= limit if comparison == "<=" else value < limit


def target_rows(results: list[dict], blue_green: dict | None) -> list[dict]:
    def row(n, target, value, judged):
        key, what, comparison, limit = target
        return {"n": n, "key": key, "what": what, "target": f"{comparison} {limit:g}", "value": value,
                "met": judge(value, comparison, limit), "judged": judged}

    rows = []
    for result in results:
        values = figures(result)
        rows += [row(result["n"], target, values[target[0]], result["n"] == TARGET_SIZE) for target in TARGETS]
    if blue_green:
        run = ok_run(blue_green, "blue_green_rollback")
        rows.append(row(blue_green["n"], BLUE_GREEN_TARGET, run["seconds"] if run else None, True))
    return rows


def cell(result: dict, key: str, field: str = "seconds") -> str:
    run = result["runs"].get(key)
    if not run:
        return "-"
    flag = "" if run_ok(run) else " FAIL"
    value = run.get(field)
    return (f"{value:.1f}" if value is not None else "-") + (f" (rc {run['rc']})" if run["rc"] else "") + flag


def count_cell(result: dict, key: str) -> str:
    """'max/mean tasks per host | run_once | max/mean SSH per host' of a run."""
    tasks = (result["runs"].get(key) or {}).get("tasks")
    if not tasks:
        return "-"
    ssh = tasks.get("ssh_per_host") or {}
    return (f"{fmt(tasks['per_host']['max'])}/{fmt(tasks['per_host']['mean'])} | {tasks['run_once']} | "
            f"{fmt(ssh.get('max'))}/{fmt(ssh.get('mean'))}")


def print_tables(results: list[dict], blue_green: dict | None) -> None:
    columns = [(key, title) for key, title in RUN_COLUMNS if any(key in r["runs"] for r in results)]
    for title, field in (("wall seconds", "seconds"), ("controller CPU-seconds", "cpu_seconds")):
        header = f"{'N':>3}  {'load 1/5/15 at start':<20}  " + "  ".join(f"{t:<16}" for _k, t in columns)
        if field == "seconds":
            header += f"  {'TTR (a) s':>9}  {'a/b':>5}  {'a/d':>5}  {'d/b':>5}"
        else:
            header += f"  {'CPU a/b':>7}  {'CPU a/d':>7}"
        say(f"\n{title}\n{header}\n{'-' * len(header)}")
        for result in results:
            load = "/".join(f"{x:.2f}" for x in result["load_average_start"])
            line = f"{result['n']:>3}  {load:<20}  " + "  ".join(f"{cell(result, k, field):<16}" for k, _t in columns)
            if field == "seconds":
                line += (f"  {fmt(result.get('rollback_recovery_seconds')):>9}  {fmt(ratio_of(result), 2):>5}  "
                         f"{fmt(ratio_of(result, 'rollback', 'floor'), 2):>5}  {fmt(ratio_of(result, 'floor'), 2):>5}")
            else:
                line += (f"  {fmt(ratio_of(result, field=field), 2):>7}  "
                         f"{fmt(ratio_of(result, 'rollback', 'floor', field), 2):>7}")
            say(line)
    say("\ntask executions per host max/mean (tasks not run_once, skipped included) | run_once steps | SSH processes per host max/mean")
    for result in results:
        say(f"{result['n']:>3}  " + "  ".join(f"{title}: {count_cell(result, key)}" for key, title in columns if key in result["runs"]))
    for result in results + ([blue_green] if blue_green else []):
        for error in result["errors"]:
            say(f"     N={result['n']}: {error.splitlines()[0][:200]}")
        for run in result["runs"].values():
            if run["note"]:
                say(f"     N={result['n']} {run['label']}: {run['note']}")
    if blue_green:
        run = blue_green["runs"].get("blue_green_rollback")
        say(f"\nblue/green rollback (flip back), {blue_green['n']} hosts: {cell(blue_green, 'blue_green_rollback')} s wall, "
            f"CPU {cell(blue_green, 'blue_green_rollback', 'cpu_seconds')} s, time to recover "
            f"{fmt(blue_green.get('rollback_recovery_seconds'))} s; counts {count_cell(blue_green, 'blue_green_rollback')}"
            if run else f"\nblue/green rollback: no figure ({'; '.join(blue_green['errors']) or 'not run'})")
    say("TTR: (a)'s time to recover from its audit record, from the first switch until every host is healthy and back in its pool")


def print_targets(rows: list[dict]) -> None:
    header = f"{'N':>3}  {'target':<62}  {'value':>8}  {'verdict':<8}"
    say(f"\ntargets of issue 15 (judged at N={TARGET_SIZE}; blue/green on its {BLUE_GREEN_SIZE}-host fleet)\n{header}\n{'-' * len(header)}")
    for row in rows:
        value = row["value"]
        shown = "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
        if row["met"] is None:
            verdict = "no figure"
        elif not row["judged"]:
            verdict = "(would meet)" if row["met"] else "(would miss)"
        else:
            verdict = "met" if row["met"] else "NOT met"
        say(f"{row['n']:>3}  {row['what'] + ' ' + row['target']:<62}  {shown:>8}  {verdict}")


# --------------------------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes wants numbers separated by commas, not {text!r}") from exc
    if not sizes or any(not 1 <= n <= fleetlib.MAX_HOSTS for n in sizes):
        raise argparse.ArgumentTypeError(f"every size must be between 1 and {fleetlib.MAX_HOSTS}")
    return sizes


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[12, 48], help="fleet sizes, comma-separated (default 12,48)")
    parser.add_argument("--blue-green", action="store_true",
                        help=f"also measure the blue/green rollback (flip back) on a {BLUE_GREEN_SIZE}-host blue/green fleet, after the sizes")
    parser.add_argument("--no-sizes", action="store_true", help="measure no fleet size (with --blue-green: only the blue/green rollback)")
    parser.add_argument("--ansistrano-roles", metavar="DIR",
                        help=f"a roles directory holding {ANSISTRANO_ROLE} (as `ansible-galaxy role install {ANSISTRANO_ROLE} -p DIR` "
                             "makes it): also measure (f), its rollback, on the same fleet")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--log-dir", help="where the ansible-playbook logs go (default: a new /tmp/fleet-bench-logs-* directory)")
    parser.add_argument("--state-dir", default=os.environ.get(fleetlib.STATE_DIR_ENV) or DEFAULT_STATE_DIR,
                        help=f"fleet state directory (default ${fleetlib.STATE_DIR_ENV} or {DEFAULT_STATE_DIR})")
    parser.add_argument("--address-base", default="127.0.21", help="host K gets BASE.K (default %(default)s)")
    parser.add_argument("--lb-address-base", default="127.0.22", help="region LBs on BASE.1-3 (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before one playbook run is stopped (default %(default)s)")
    args = parser.parse_args(argv)
    if args.ansistrano_roles and not (Path(args.ansistrano_roles) / ANSISTRANO_ROLE / "tasks" / "main.yml").is_file():
        parser.error(f"--ansistrano-roles {args.ansistrano_roles}: no {ANSISTRANO_ROLE}/tasks/main.yml there; install the role with "
                     f"`ansible-galaxy role install {ANSISTRANO_ROLE} -p DIR` (or copy it to DIR/{ANSISTRANO_ROLE}) and pass DIR")
    if args.no_sizes and not args.blue_green:
        parser.error("--no-sizes leaves nothing to measure without --blue-green")
    return args


def raise_interrupted(signum, _frame):
    raise Interrupted(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (VENV_BIN / "ansible-playbook").exists():
        print(f"bench: {VENV_BIN}/ansible-playbook not found: run `make deps` first", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, raise_interrupted)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="fleet-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    cpu_problem = check_cgroups()
    report = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "load_average_start": list(os.getloadavg()), "forks": int(FORKS), "waves": json.loads(WAVES),
              "log_dir": str(log_dir), "cpu_accounting": cpu_problem or f"cgroup {cgroup_root()[0]} at {cgroup_root()[1]}",
              "sizes": [], "blue_green": None}
    say(f"bench: sizes {[] if args.no_sizes else args.sizes}{' + blue/green' if args.blue_green else ''}, load average "
        f"{' '.join(f'{x:.2f}' for x in report['load_average_start'])} on {report['cpus']} CPUs, logs in {log_dir}; "
        f"CPU: {report['cpu_accounting']}")
    interrupted = False
    try:
        for size in [] if args.no_sizes else args.sizes:
            report["sizes"].append(SizeBench(size, args, log_dir, not cpu_problem).run())
        if args.blue_green:
            report["blue_green"] = BlueGreenBench(BLUE_GREEN_SIZE, args, log_dir, not cpu_problem).run()
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
        say("bench: interrupted; the fleet was torn down")
    print_tables(report["sizes"], report["blue_green"])
    report["targets"] = target_rows(report["sizes"], report["blue_green"])
    print_targets(report["targets"])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        say(f"figures written to {args.json}")
    if interrupted:
        return 130
    everything = report["sizes"] + ([report["blue_green"]] if report["blue_green"] else [])
    failed = any(r["errors"] or not all(run_ok(run) for run in r["runs"].values()) for r in everything)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

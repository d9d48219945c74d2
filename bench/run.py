# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall-clock figures of rollback and deploy against the local test fleet (a benchmark, not a test).

    .venv/bin/python bench/run.py [--sizes 12,48] [--json FILE] [--log-dir DIR]

For each fleet size N: bring up N hosts (regions us, eu, ap), deploy bench-1 then bench-2 (setup), then measure

  (a) playbooks/rollback.yml with fleet_waves=[1,"50%","100%"]: bench-2 -> bench-1 with everything we do;
  (b) bench/plain_flip.yml: bench-2 -> bench-1 as a bare symlink flip, the floor any rollback over SSH has;
  (c) playbooks/deploy.yml of bench-3, a release of about 1 MB;
  (d) bench/floor.yml: bench-2 -> bench-1 with only the steps every rollback that keeps our promises must make (read
      each host before any change, then one activation per host with restart and health check, in one batch);

each with cold SSH connections (a fresh, empty ControlPath directory) and 20 forks, then tear the fleet down.
Prints one table row per N (seconds and exit codes) and the load average; see bench/README.md for the targets.
Needs root (the test fleet does).  Run from anywhere; ansible runs from the repository root.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "fleet"))

import fleetlib  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = REPO_ROOT / ".venv" / "bin"
ANSIBLE_CONFIG = REPO_ROOT / "ansible.cfg"
DEPLOY = "playbooks/deploy.yml"
ROLLBACK = "playbooks/rollback.yml"
PLAIN_FLIP = "bench/plain_flip.yml"
FLOOR = "bench/floor.yml"
APP_ROOT = "/srv/app"
WAVES = '[1,"50%","100%"]'
FORKS = "20"
OLD, NEW, BIG = "bench-1", "bench-2", "bench-3"
BIG_PAD_BYTES = 1 << 20  # incompressible, so the artifact really is ~1 MB on the wire
DEFAULT_STATE_DIR = "/var/tmp/fleet-bench"
TARGET_SIZE = 48
TARGET_RATIO = 2.0
TARGET_DEPLOY_SECONDS = 90.0
FAILURE_TAIL_LINES = 25


class Interrupted(Exception):
    """SIGTERM, turned into an exception so that the fleet still gets torn down."""


class SetupFailed(Exception):
    """An unmeasured step failed: the measurements of this size cannot be made."""


@dataclasses.dataclass
class Run:
    """One ansible-playbook run: wall seconds, exit code, full log."""

    label: str
    seconds: float
    rc: int
    log: str
    load_1m_start: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.note


# --------------------------------------------------------------------------------------------------
# running ansible-playbook

def ansible_env(control_dir: str, ansible_log: Path) -> dict:
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
    )
    return env


def close_ssh_masters(control_dir: str) -> None:
    """Stop the ControlPersist masters this run left (they would idle 120 s and weigh on the next run)."""
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


def run_playbook(label: str, playbook: str, inventory: Path, extra_vars: list[str], log_dir: Path, timeout: float) -> Run:
    """Run one playbook from the repository root with cold SSH; return its wall time (time.monotonic)."""
    cmd = [str(VENV_BIN / "ansible-playbook"), playbook, "-i", str(inventory)]
    for extra in extra_vars:
        cmd += ["-e", extra]
    log = log_dir / f"{label}.log"
    load = os.getloadavg()[0]  # the machine is shared: a figure means little without it
    control_dir = tempfile.mkdtemp(prefix="fleet-bench-cp-")  # short: ssh limits unix socket paths to ~104 bytes
    try:
        with open(log, "w", encoding="utf-8") as out:
            out.write("$ " + " ".join(cmd) + "\n\n")
            out.flush()
            started = time.monotonic()
            env = ansible_env(control_dir, log_dir / f"{label}.ansible.log")
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            rc = wait_or_stop(proc, timeout)
            seconds = time.monotonic() - started
    finally:
        close_ssh_masters(control_dir)
        shutil.rmtree(control_dir, ignore_errors=True)
    return Run(label, seconds, rc, str(log), load, note=f"timed out after {timeout:.0f} s" if rc == -1 else "")


def failure_excerpt(run: Run) -> str:
    """The lines that say why a run failed: ansible's errors, then the end of the log (the recap)."""
    lines = Path(run.log).read_text(encoding="utf-8", errors="replace").splitlines()
    errors = [line for line in lines if line.startswith(("fatal:", "ERROR!", "[ERROR]", "failed:"))][:5]
    shown = errors + ["..."] + lines[-FAILURE_TAIL_LINES:] if errors else lines[-FAILURE_TAIL_LINES:]
    return "\n".join("    " + line[:300] for line in shown)


def say(message: str) -> None:
    print(message, flush=True)


def report_run(run: Run) -> None:
    status = "ok" if run.ok else f"FAILED (exit {run.rc}{', ' + run.note if run.note else ''})"
    say(f"  {run.label}: {run.seconds:.1f} s, {status}, load {run.load_1m_start:.2f} at start  [{run.log}]")
    if not run.ok:
        say(failure_excerpt(run))


# --------------------------------------------------------------------------------------------------
# the hosts' release state, read from the controller side of their bind mounts (no SSH, nothing timed)

def current_links(fleet: fleetlib.Fleet) -> dict[str, str]:
    links = {}
    for host in fleet.hosts:
        try:
            links[host.name] = os.path.basename(os.readlink(fleet.host_path(host.name, f"{APP_ROOT}/current")))
        except OSError:
            links[host.name] = "(none)"
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

    def __init__(self, size: int, args: argparse.Namespace, log_dir: Path):
        self.size = size
        self.args = args
        self.log_dir = log_dir / f"n{size}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(args.state_dir)
        self.fleet: fleetlib.Fleet | None = None
        self.artifacts: dict[str, Path] = {}
        self.result: dict = {"n": size, "load_average_start": list(os.getloadavg()), "runs": {}, "errors": []}

    def up(self) -> None:
        say(f"N={self.size}: fleet up in {self.state_dir} (hosts {self.args.address_base}.1-{self.size}, "
            f"LBs {self.args.lb_address_base}.1-3)")
        started = time.monotonic()
        fleetlib.run_fleetctl("up", str(self.size), "--address-base", self.args.address_base,
                              "--lb-address-base", self.args.lb_address_base, state_dir=self.state_dir, timeout=600)
        self.result["fleet_up_seconds"] = round(time.monotonic() - started, 2)
        self.fleet = fleetlib.Fleet(self.state_dir)
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

    def playbook(self, label: str, playbook: str, *extra_vars: str) -> Run:
        return run_playbook(label, playbook, self.fleet.inventory, list(extra_vars), self.log_dir, self.args.timeout)

    def deploy(self, label: str, release: str) -> Run:
        return self.playbook(label, DEPLOY, f"fleet_release={release}", f"fleet_artifact={self.artifacts[release]}")

    def plain_flip(self, label: str, release: str) -> Run:
        return self.playbook(label, PLAIN_FLIP, f"flip_release={release}")

    def floor(self, label: str, release: str) -> Run:
        return self.playbook(label, FLOOR, f"floor_release={release}")

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

    def measure(self) -> None:
        self.setup_step(self.deploy("setup-deploy-bench-1", OLD), OLD)
        self.setup_step(self.deploy("setup-deploy-bench-2", NEW), NEW)
        # Order: both measured runs must do the same switch, bench-2 -> bench-1, on the same hosts.
        # (b) first: the plain flip moves only the symlinks and leaves state.json saying bench-2 (stale).  Flipping
        # back to bench-2 (unmeasured) makes symlinks and state files agree again, so that (a), the real rollback,
        # starts from the consistent state a deploy leaves and ends consistent on bench-1; (c) then deploys from there.
        self.measured("plain_flip", self.plain_flip("b-plain-flip-bench-2-to-bench-1", OLD), OLD, state_too=False)
        self.setup_step(self.plain_flip("setup-plain-flip-back-to-bench-2", NEW), NEW)
        # (d) makes the same switch with real activations (state.json stays consistent); back to bench-2 the same way.
        self.measured("floor", self.floor("d-floor-bench-2-to-bench-1", OLD), OLD, state_too=True)
        self.setup_step(self.floor("setup-floor-back-to-bench-2", NEW), NEW)
        rollback = self.playbook("a-rollback-bench-2-to-bench-1", ROLLBACK, f"fleet_waves={WAVES}")
        self.measured("rollback", rollback, OLD, state_too=True)
        # What the operator waits for: from the first switch until every host is healthy and back in its pool.
        record = last_run_record(self.state_dir / "audit", "rollback") if rollback.ok else None
        self.result["rollback_recovery_seconds"] = record.get("recovery_seconds") if record else None
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


# --------------------------------------------------------------------------------------------------
# the report

def run_ok(run) -> bool:
    return bool(run) and run["rc"] == 0 and not run["note"]


def ratio_of(result: dict, top: str = "rollback", bottom: str = "plain_flip"):
    """top/bottom ((a)/(b) by default), only when both runs succeeded: the time of a failed run compares to nothing."""
    over, under = result["runs"].get(top), result["runs"].get(bottom)
    if run_ok(over) and run_ok(under) and under["seconds"] > 0:
        return over["seconds"] / under["seconds"]
    return None


def ratio_cell(ratio) -> str:
    return f"{ratio:.2f}" if ratio else "-"


def cell(result: dict, key: str) -> str:
    run = result["runs"].get(key)
    if not run:
        return "-"
    flag = "" if run_ok(run) else " FAIL"
    return f"{run['seconds']:.1f} (rc {run['rc']}){flag}"


def print_table(results: list[dict]) -> None:
    header = (f"{'N':>3}  {'load 1/5/15 at start':<20}  {'(a) rollback s':<20}  {'recover s':>9}  {'(b) plain flip s':<20}  "
              f"{'a/b':>5}  {'(d) floor s':<20}  {'d/b':>5}  {'(c) deploy 1MB s':<20}")
    say("\n" + header)
    say("-" * len(header))
    for result in results:
        load = "/".join(f"{x:.2f}" for x in result["load_average_start"])
        recover = result.get("rollback_recovery_seconds")
        say(f"{result['n']:>3}  {load:<20}  {cell(result, 'rollback'):<20}  {(f'{recover:.1f}' if recover else '-'):>9}  "
            f"{cell(result, 'plain_flip'):<20}  {ratio_cell(ratio_of(result)):>5}  {cell(result, 'floor'):<20}  {ratio_cell(ratio_of(result, 'floor')):>5}  "
            f"{cell(result, 'deploy_big'):<20}")
        for error in result["errors"]:
            say(f"     N={result['n']}: {error.splitlines()[0][:200]}")
        for run in result["runs"].values():
            if run["note"]:
                say(f"     N={result['n']} {run['label']}: {run['note']}")
    say("recover: (a)'s time to recover from its audit record, from the first switch until every host is healthy and "
        "back in its pool")


def target_verdicts(results: list[dict]) -> list[str]:
    verdicts = []
    for result in results:
        if result["n"] != TARGET_SIZE:
            continue
        deploy = result["runs"].get("deploy_big")
        ratio = ratio_of(result)
        rollback_ok = bool(ratio and ratio <= TARGET_RATIO)
        deploy_ok = run_ok(deploy) and deploy["seconds"] < TARGET_DEPLOY_SECONDS
        ratio_text = f"{ratio:.2f}x" if ratio else "no figure: a run failed"
        deploy_text = f"{deploy['seconds']:.1f} s" if run_ok(deploy) else "no figure: the run failed"
        verdicts.append(f"target N={TARGET_SIZE} (a) within {TARGET_RATIO:g}x of (b): {'met' if rollback_ok else 'NOT met'} ({ratio_text})")
        verdicts.append(f"target N={TARGET_SIZE} (c) under {TARGET_DEPLOY_SECONDS:g} s: {'met' if deploy_ok else 'NOT met'} ({deploy_text})")
        floor_ratio = ratio_of(result, "floor")
        if floor_ratio:
            # Not a target: what the (a) target can be measured against. Above 2x, no rollback that keeps the
            # required steps can meet it on this machine.
            verdicts.append(f"floor N={TARGET_SIZE} (d), the required steps alone: {floor_ratio:.2f}x (b); (a) is "
                            f"{ratio_cell(ratio_of(result, 'rollback', 'floor'))}x (d)")
    return verdicts


# --------------------------------------------------------------------------------------------------

def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--sizes wants numbers separated by commas, not {text!r}") from exc
    if not sizes or any(not 1 <= n <= 250 for n in sizes):
        raise argparse.ArgumentTypeError("every size must be between 1 and 250")
    return sizes


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[12, 48], help="fleet sizes, comma-separated (default 12,48)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--log-dir", help="where the ansible-playbook logs go (default: a new /tmp/fleet-bench-logs-* directory)")
    parser.add_argument("--state-dir", default=os.environ.get(fleetlib.STATE_DIR_ENV) or DEFAULT_STATE_DIR,
                        help=f"fleet state directory (default ${fleetlib.STATE_DIR_ENV} or {DEFAULT_STATE_DIR})")
    parser.add_argument("--address-base", default="127.0.21", help="host K gets BASE.K (default %(default)s)")
    parser.add_argument("--lb-address-base", default="127.0.22", help="region LBs on BASE.1-3 (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before one playbook run is stopped (default %(default)s)")
    return parser.parse_args(argv)


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
    report = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "load_average_start": list(os.getloadavg()), "forks": int(FORKS), "waves": json.loads(WAVES),
              "log_dir": str(log_dir), "sizes": []}
    say(f"bench: sizes {args.sizes}, load average {' '.join(f'{x:.2f}' for x in report['load_average_start'])} "
        f"on {report['cpus']} CPUs, logs in {log_dir}")
    interrupted = False
    try:
        for size in args.sizes:
            report["sizes"].append(SizeBench(size, args, log_dir).run())
    except (KeyboardInterrupt, Interrupted):
        interrupted = True
        say("bench: interrupted; the fleet was torn down")
    print_table(report["sizes"])
    report["verdicts"] = target_verdicts(report["sizes"])
    for verdict in report["verdicts"]:
        say(verdict)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        say(f"figures written to {args.json}")
    if interrupted:
        return 130
    failed = any(r["errors"] or not all(run_ok(run) for run in r["runs"].values()) for r in report["sizes"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

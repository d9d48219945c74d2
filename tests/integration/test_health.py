# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Health checks and gates against the real test fleet: real releases of the demo app, real HTTP, real SSH.

Bad releases are made bad by their own content (behaviour.json built into the artifact): reporting another release,
failing /health, answering slowly, failing a fraction of the requests, exiting at start. The hosts of one region get these releases
under /srv/app; what was there before (current link, state, history) is put back at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml

import fleetlib

pytestmark = pytest.mark.fleet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us"
APP_ROOT = "/srv/app"
RELEASES = {
    "hc-ok": {},
    "hc-wrong": {"report_release": "hc-other"},
    "hc-fail": {"health": "fail"},
    "hc-slow": {"delay_seconds": 1.5},
    "hc-err10": {"error_rate": 0.1},
    "hc-crash": {"crash": True},
}
PROMETHEUS = "/usr/bin/prometheus"
PROMETHEUS_ADDRESS = os.environ.get("FLEET_PROMETHEUS_ADDRESS", "127.0.33.1")


# -- helpers ------------------------------------------------------------------------------------------

def adhoc(fleet, pattern, module, args, extra=()):
    """Run one module (here: an action plugin) for ``pattern``; returns ({host: result}, output)."""
    results, proc = fleet.ansible_module(pattern, module, args, *extra)
    return results, proc.stdout + proc.stderr


def one(fleet, host, module, args):
    results, output = adhoc(fleet, host, module, args)
    return results[host], output


def health_check(fleet, host, **args):
    return one(fleet, host, "fleetops.release.health_check", args)


def switch(fleet, host, release_id):
    result, output = one(fleet, host, "fleetops.release.release_switch",
                         {"release": release_id, "app_root": APP_ROOT, "restart_command": "{{ fleet_restart_command }}",
                          "reason": "test_health"})
    assert not result["failed"], output


def app(fleet, host, path="/health"):
    return "http://%s:8000%s" % (fleet.host(host).address, path)


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


@pytest.fixture(scope="module", name="region")
def fixture_region(fleet, tmp_path_factory):
    """The hosts of one region carry every test release; their /srv/app is restored afterwards."""
    hosts = [h.name for h in fleet.hosts_in(REGION)]
    saved = {}
    for name in hosts:
        link = fleet.host_path(name, APP_ROOT + "/current")
        saved[name] = {
            "current": os.readlink(link) if os.path.islink(link) else None,
            "had_root": fleet.host_path(name, APP_ROOT).exists(),
            "state": read_bytes(fleet.host_path(name, APP_ROOT + "/.fleet/state.json")),
            "history": read_bytes(fleet.host_path(name, APP_ROOT + "/.fleet/history.jsonl")),
        }
    # Every release unpacked by the module in one playbook run (a loop), not one ansible run per release.
    unpacks = []
    for release_id, behaviour in RELEASES.items():
        path, sha = fleet.build_release(release_id, **behaviour)
        unpacks.append({"release": release_id, "artifact": str(path), "sha256": sha, "app_root": APP_ROOT})
    playbook = tmp_path_factory.mktemp("health-unpack") / "unpack.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Unpack the test releases", "hosts": ",".join(hosts), "gather_facts": False,
                                         "tasks": [{"name": "Unpack", "loop": unpacks, "fleetops.release.release": {
                                             "release": "{{ item.release }}", "artifact": "{{ item.artifact }}",
                                             "sha256": "{{ item.sha256 }}", "app_root": "{{ item.app_root }}"}}]}]))
    proc = fleet.ansible_playbook(playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in hosts:
        for release_id in RELEASES:
            assert fleet.host_path(name, APP_ROOT + "/releases/%s/.fleet-release.json" % release_id).exists(), (name, release_id)
    for name in hosts:
        switch(fleet, name, "hc-ok")
    yield hosts
    for name in hosts:
        before = saved[name]
        fleet.ssh(name, "%s stop" % fleet.fleetapp_ctl, check=True)
        if not before["had_root"]:
            shutil.rmtree(fleet.host_path(name, APP_ROOT))
            continue
        link = fleet.host_path(name, APP_ROOT + "/current")
        if before["current"] is None:
            os.unlink(link)
        else:
            tmp = link.with_name(".current.test-health")
            os.symlink(before["current"], tmp)
            os.replace(tmp, link)
        for key, rel in (("state", "state.json"), ("history", "history.jsonl")):
            path = fleet.host_path(name, APP_ROOT + "/.fleet/" + rel)
            if before[key] is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(before[key])
        for release_id in RELEASES:
            shutil.rmtree(fleet.host_path(name, APP_ROOT + "/releases/" + release_id), ignore_errors=True)
        if before["current"] is not None:
            fleet.ssh(name, "%s start" % fleet.fleetapp_ctl, check=True)


def on_release(fleet, host, release_id):
    """The host's current is ``release_id`` and its app answers that release on /health."""
    link = fleet.host_path(host, APP_ROOT + "/current")
    if not os.path.islink(link) or os.path.basename(os.readlink(link)) != release_id:
        return False
    try:
        status, body = fleetlib.http_get(app(fleet, host), timeout=5)
    except OSError:
        return False
    return status == 200 and json.loads(body).get("release") == release_id


@pytest.fixture(name="host")
def fixture_host(fleet, region):
    """The first host of the region, on hc-ok again after the test (switched back only when the test left it elsewhere:
    half of the tests only probe it, and a switch is one more ansible run)."""
    yield region[0]
    if not on_release(fleet, region[0], "hc-ok"):
        switch(fleet, region[0], "hc-ok")


# -- health_check --------------------------------------------------------------------------------------


def test_healthy_release_passes_every_kind_of_check(fleet, host):
    result, output = health_check(
        fleet, host, url="http://{{ ansible_host }}:8000/health", expected_release="hc-ok",
        wait={"successes": 3, "interval": 0.2, "timeout": 10},
        checks=[
            {"name": "root page", "url": "http://{{ ansible_host }}:8000/", "body_regex": "^release hc-ok on ", "max_latency_ms": 2000,
             "expect_headers": {"Server": "^fleetapp/"}},
            {"name": "app port", "type": "tcp", "host": "{{ ansible_host }}", "port": 8000},
            {"name": "app running", "type": "command", "command": "%s status" % fleet.fleetapp_ctl},
            {"name": "from the host", "url": "http://{{ ansible_host }}:8000/health", "run_on": "host", "json_field": "status",
             "json_value": "ok"},
        ])
    assert not result["failed"], output
    assert result["passed"] and result["probes"] == 3 and result["successes"] == 3
    assert [c["ok"] for c in result["checks"]] == [True] * 5
    assert result["checks"][0]["seen"] == "HTTP 200, release=hc-ok"
    assert result["changed"] is False


def test_wrong_release_fails_naming_host_expected_and_seen(fleet, host):
    switch(fleet, host, "hc-wrong")
    started = time.monotonic()
    result, output = health_check(fleet, host, url=app(fleet, host), expected_release="hc-wrong",
                                  wait={"interval": 0.5, "timeout": 2, "failure_limit": 100})
    assert result["failed"], output
    assert time.monotonic() - started < 30
    msg = result["msg"]
    assert msg.startswith("%s: check 'http %s' expected HTTP 200, release=hc-wrong but saw HTTP 200, release=hc-other; not healthy "
                          "within wait.timeout of 2 s (" % (host, app(fleet, host))), msg
    assert result["reason"] == "timeout" and result["probes"] >= 4 and result["successes"] == 0
    # The defaults: another release is a wrong answer, counted at once; the 4th one ends the wait.
    result, output = health_check(fleet, host, url=app(fleet, host), expected_release="hc-wrong")
    assert result["failed"] and result["reason"] == "failure_limit" and result["probes"] == 4, output
    assert result["elapsed"] < 5 and "4 failed rounds (more than wait.failure_limit 3)" in result["msg"]


def test_failing_health_stops_at_the_failure_limit(fleet, host):
    switch(fleet, host, "hc-fail")
    result, output = health_check(fleet, host, url=app(fleet, host), wait={"interval": 0.2, "timeout": 30, "failure_limit": 2})
    assert result["failed"], output
    assert result["probes"] == 3 and result["elapsed"] < 10
    assert "expected HTTP 200 but saw HTTP 503" in result["msg"]
    assert "3 failed rounds (more than wait.failure_limit 2)" in result["msg"]
    assert [f["seen"] for f in result["last_failures"]] == ["HTTP 503"] * 3


def test_shadow_mode_reports_without_failing(fleet, host):
    switch(fleet, host, "hc-wrong")
    result, output = health_check(fleet, host, url=app(fleet, host), expected_release="hc-wrong", wait={"timeout": 0}, mode="shadow")
    assert not result["failed"], output
    assert result["passed"] is False and result["would_fail"] is True and result["mode"] == "shadow"
    assert result["msg"].startswith("shadow mode, not failing: %s: check " % host)
    assert "release=hc-other" in result["msg"]
    assert "[WARNING]: shadow mode, not failing" in output


def test_slow_release_breaks_the_latency_ceiling_and_the_request_timeout(fleet, host):
    switch(fleet, host, "hc-slow")
    result, output = health_check(fleet, host, checks=[{"url": app(fleet, host), "max_latency_ms": 500}], wait={"timeout": 0})
    assert result["failed"], output
    assert "expected HTTP 200, an answer within 500 ms but saw HTTP 200, an answer after 1" in result["msg"]
    result, output = health_check(fleet, host, url=app(fleet, host), wait={"request_timeout": 0.5, "timeout": 0})
    assert result["failed"], output
    assert "but saw no answer (no answer within 0.5 s (timed out))" in result["msg"]


def test_unreachable_url_and_closed_port_give_clear_errors(fleet, host):
    closed = "http://%s:1/health" % fleet.host(host).address
    result, output = health_check(fleet, host, url=closed, wait={"interval": 0.2, "timeout": 0.5})
    assert result["failed"], output
    assert "check 'http %s' expected HTTP 200 but saw no answer (connection refused)" % closed in result["msg"]
    result, output = health_check(fleet, host, checks=[{"type": "tcp", "host": fleet.host(host).address, "port": 1}], wait={"timeout": 0})
    assert "but saw no connection (connection refused)" in result["msg"], output
    result, output = health_check(fleet, host, checks=[{"type": "http"}])
    assert result["failed"] and "checks[0] (type http) needs url" in result["msg"], output
    result, output = health_check(fleet, host, url=closed, wait={"interval": 0})
    assert result["failed"] and "%s: wait.interval must be more than 0 seconds, not 0" % host in result["msg"], output


def test_command_check_on_the_host_reports_exit_code_and_output(fleet, host):
    result, output = health_check(fleet, host, checks=[{"name": "smoke", "type": "command", "command": "echo broken >&2; exit 3"}],
                                  wait={"timeout": 0})
    assert result["failed"], output
    assert "check 'smoke' expected exit code 0 but saw exit code 3, output 'broken'" in result["msg"]


# -- release_activate: the host's own health wait -------------------------------------------------------


def activate(fleet, host, release_id):
    """release_activate with the default wait, timed. Its restart launches the app and returns without waiting for an
    answer (like systemctl restart of a simple unit), so that the health wait alone judges the release."""
    args = {"release": release_id, "app_root": APP_ROOT, "restart_command": "%s launch" % fleet.fleetapp_ctl,
            "health_url": app(fleet, host), "reason": "test_health"}
    started = time.monotonic()
    result, output = one(fleet, host, "fleetops.release.release_activate", args)
    took = time.monotonic() - started
    health = result.get("health") or {}
    print("release_activate %s: failed=%s reason=%s health.elapsed=%s s probes=%s not_up=%s failures=%s (task %.1f s)" % (
        release_id, result["failed"], health.get("reason"), health.get("elapsed"), health.get("probes"), health.get("not_up"),
        health.get("failures"), took))
    return result, output, took


def test_activation_of_a_release_whose_health_fails_fails_within_seconds(fleet, host):
    result, output, took = activate(fleet, host, "hc-fail")
    assert result["failed"], output
    health = result["health"]
    assert health["reason"] == "failure_limit" and health["failures"] == 4 and not health["passed"], output
    assert health["elapsed"] < 20 and took < 60, output
    assert [f["seen"] for f in health["last_failures"]] == ["HTTP 503"] * 4
    assert result["msg"].startswith(
        "release hc-fail is live on this host but did not become healthy: check 'http %s' expected HTTP 200, release=hc-fail but "
        "saw HTTP 503; 4 failed rounds (more than wait.failure_limit 3) after " % app(fleet, host)), result["msg"]
    assert "Fix the release, or raise wait.failure_limit" in result["msg"]
    assert result["to"] == "hc-fail" and result["switched"] and result["pending"] is True  # left for a revert or a re-run


def test_activation_of_a_release_that_crashes_at_start_fails_after_the_start_period(fleet, host):
    result, output, took = activate(fleet, host, "hc-crash")
    assert result["failed"], output
    health = result["health"]
    assert health["reason"] == "failure_limit" and health["failures"] == 4 and health["not_up"] > 0, output
    # start_period 10 s + failure_limit 3 x interval 0.5 s = 11.5 s, not the 60 s timeout
    assert 10 <= health["elapsed"] < 20 and took < 60, output
    assert all(f["not_up"] and f["seen"] == "no answer (connection refused)" for f in health["last_failures"]), health
    assert "Nothing answered after wait.start_period of 10 s" in result["msg"], result["msg"]
    running = fleet.ssh(host, "%s status" % fleet.fleetapp_ctl, check=False)
    assert running.returncode == 3, running  # it really exited


def test_activation_of_a_healthy_release_passes(fleet, host):
    result, output, took = activate(fleet, host, "hc-err10")  # /health is fine; only other paths fail sometimes
    assert not result["failed"], output
    health = result["health"]
    assert health["passed"] and health["reason"] == "passed" and health["failures"] == 0, health
    assert health["elapsed"] < 20 and result["to"] == "hc-err10" and result["restarted"]
    assert health["checks"][0]["seen"] == "HTTP 200, release=hc-err10"


# -- traffic_gate --------------------------------------------------------------------------------------


def traffic_gate(fleet, host, **args):
    return one(fleet, host, "fleetops.release.traffic_gate", args)


def test_ten_percent_errors_fail_a_five_percent_gate_and_pass_a_twenty_percent_gate(fleet, host):
    switch(fleet, host, "hc-err10")
    url = app(fleet, host, "/")
    result, output = traffic_gate(fleet, host, url=url, rate=25, duration=6, window=2, sustained_for=1.5, max_error_rate=0.05)
    assert result["failed"], output
    assert result["elapsed"] < 5.5  # stopped at the sustained breach, before the end of the duration
    assert result["errors"] > 0 and 0.05 < result["max_window_error_rate"] <= 0.2
    assert result["longest_breach"] >= 1.5
    msg = result["msg"]
    assert msg.startswith("%s: traffic gate on %s expected an error rate of at most 5%% (over 2 s windows) but saw " % (host, url)), msg
    assert "sustained_for 1.5 s" in msg and "p95" in msg

    result, output = traffic_gate(fleet, host, url=url, rate=25, duration=3, window=2, sustained_for=1.5, max_error_rate=0.2)
    assert not result["failed"], output
    assert result["passed"] and result["samples"] == 75
    assert result["errors"] == result["statuses"]["500"] and abs(result["error_rate"] - 0.1) < 0.02
    assert result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]

    result, output = traffic_gate(fleet, host, url=url, rate=25, duration=3, window=2, sustained_for=1, max_error_rate=0.05, mode="shadow")
    assert not result["failed"], output
    assert result["would_fail"] and result["samples"] == 75  # shadow mode samples the whole duration
    assert result["msg"].startswith("shadow mode, not failing: ")


def test_gate_through_the_region_load_balancer(fleet, region):
    lb = fleet.lb_url(REGION)
    result, output = traffic_gate(fleet, region[0], url=lb, rate=20, duration=2, window=1, sustained_for=1)
    assert not result["failed"], output
    assert result["errors"] == 0 and result["samples"] == 40 and result["statuses"] == {"200": 40}


def test_gate_counts_unreachable_and_refuses_impossible_settings(fleet, host):
    closed = "http://%s:1/" % fleet.host(host).address
    result, output = traffic_gate(fleet, host, url=closed, rate=20, duration=2, window=1, sustained_for=0.5, min_samples=5)
    assert result["failed"], output
    assert result["statuses"].get("no answer", 0) == result["samples"] > 0
    assert "but saw 100%" in result["msg"]
    result, output = traffic_gate(fleet, host, url=closed, duration=2, sustained_for=120)
    assert result["failed"] and "the gate could never fail" in result["msg"], output


# -- metric_gate against a real Prometheus ----------------------------------------------------------------


def free_port(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def prometheus_server(targets, workdir):
    """A Prometheus of our own (Debian package) scraping ``targets`` (host:port) every second; yields its URL and is
    stopped by its PID. Also used by test_baseline_gate.py."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("%s is missing: install the Debian package prometheus (scripts/bootstrap.sh does)" % PROMETHEUS)
    (workdir / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n  - job_name: fleetapp\n    static_configs:\n      - targets: [%s]\n"
        % ", ".join('"%s"' % target for target in targets))
    address = "%s:%d" % (PROMETHEUS_ADDRESS, free_port(PROMETHEUS_ADDRESS))
    log = open(workdir / "prometheus.log", "wb")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [PROMETHEUS, "--config.file", str(workdir / "prometheus.yml"), "--storage.tsdb.path", str(workdir / "data"),
         "--web.listen-address", address, "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    (workdir / "prometheus.pid").write_text(str(process.pid))
    url = "http://%s" % address
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("prometheus did not become ready within 30 s:\n%s" % (workdir / "prometheus.log").read_text()[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module", name="prometheus")
def fixture_prometheus(fleet, region, tmp_path_factory):
    """A Prometheus of our own scraping the region's apps every second."""
    with prometheus_server(["%s:8000" % fleet.host(name).address for name in region], tmp_path_factory.mktemp("prometheus")) as url:
        yield url


class Traffic:
    """Background GET requests at a steady rate (what real users would send)."""

    def __init__(self, url, rate):
        self.url, self.rate, self._stop = url, rate, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while not self._stop.wait(1.0 / self.rate):
            try:
                opener.open(self.url, timeout=2).close()
            except OSError:
                pass  # 500s are the point

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def test_metric_gate_on_a_real_prometheus(fleet, host, prometheus):
    switch(fleet, host, "hc-err10")
    instance = "%s:8000" % fleet.host(host).address
    ratio = ('sum(rate(fleetapp_http_requests_total{instance="%s",code=~"5.."}[5s])) '
             '/ sum(rate(fleetapp_http_requests_total{instance="%s"}[5s]))' % (instance, instance))
    gate = {"url": prometheus, "query": ratio, "comparison": "<=", "interval": 0.5, "duration": 2, "sustained_for": 1}
    with Traffic(app(fleet, host, "/"), rate=40):
        # wait until Prometheus has scraped the new release's counters for a whole rate() window
        deadline = time.monotonic() + 30
        while True:
            result, output = one(fleet, host, "fleetops.release.metric_gate", dict(gate, threshold=0.2, duration=0, sustained_for=0))
            if not result["failed"] or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not result["failed"], output
        result, output = one(fleet, host, "fleetops.release.metric_gate", dict(gate, threshold=0.05))
        assert result["failed"], output
        assert 0.05 < result["value"] <= 0.2
        assert result["msg"].startswith("%s: metric gate %r expected value <= 0.05 but saw {} 0." % (host, ratio)), result["msg"]
        assert "sustained_for 1 s" in result["msg"]
        result, output = one(fleet, host, "fleetops.release.metric_gate", dict(gate, threshold=0.2))
        assert not result["failed"] and result["passed"] and result["evaluations"] >= 4, output
        result, output = one(fleet, host, "fleetops.release.metric_gate", dict(gate, threshold=0.05, mode="shadow"))
        assert not result["failed"] and result["would_fail"], output

    result, output = one(fleet, host, "fleetops.release.metric_gate",
                         {"url": prometheus, "query": 'up{instance="%s"}' % instance, "comparison": "==", "threshold": 1})
    assert result["passed"], output
    result, output = one(fleet, host, "fleetops.release.metric_gate", {"url": prometheus, "query": "sum(rate(", "threshold": 1})
    assert result["failed"] and "Prometheus rejected the query 'sum(rate(' (HTTP 400)" in result["msg"], output
    result, output = one(fleet, host, "fleetops.release.metric_gate", {"url": prometheus, "query": 'up{job="nothing"}', "threshold": 1})
    assert result["failed"] and "but saw no series (empty result)" in result["msg"], output

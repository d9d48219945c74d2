# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._activate import (
    ActivationFailed,
    activate,
    health_check_spec,
    wait_healthy,
)
from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import SnapshotStore
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseNotFound, ReleaseStore


def tarball(path, name):
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("VERSION")
        info.size = len(name)
        archive.addfile(info, io.BytesIO(name.encode()))
    return str(path)


@pytest.fixture(name="host")
def fixture_host(tmp_path):
    """A host's app root with releases v1 and v2 (v1 current), a live config file and snapshots of both releases."""
    store = ReleaseStore(str(tmp_path / "app"))
    snapshots = SnapshotStore(store.root)
    live = tmp_path / "etc" / "app.conf"
    live.parent.mkdir()
    for release in ("v1", "v2"):
        store.create_release(release, artifact=tarball(tmp_path / (release + ".tar.gz"), release))
        live.write_text("greeting = %s\n" % release)
        roots, entries = snapshots.capture_plan([str(live.parent)])
        snapshots.create(release, roots, entries, "live")
    live.write_text("greeting = v1\n")
    store.switch("v1")
    return store, snapshots, live


class Restarts:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def __call__(self, previous):
        self.calls.append(previous)
        if self.fail:
            raise FleetError("restart command failed with exit code 1")
        return {"rc": 0, "stdout": "", "stderr": ""}


def healthy(passed=True):
    return lambda: {"passed": passed, "reason": "passed" if passed else "failure_limit", "probes": 3, "elapsed": 1.0,
                    "msg": "check 'http x' expected HTTP 200 but saw HTTP 503"}


def test_activation_restores_config_switches_restarts_and_stays_pending(host):
    store, snapshots, live = host
    restarts = Restarts()
    result = activate(store, snapshots, "v2", operation="deploy", restart=restarts, health=healthy(), run_id="r1")
    assert result["changed"] and result["switched"] and result["restarted"] and result["pending"]
    assert result["from"] == "v1" and result["config_changes"] == [str(live)]
    assert live.read_text() == "greeting = v2\n" and store.current() == "v2"
    assert restarts.calls == ["v1"]
    assert store.status()["pending"]["to"] == "v2"


def test_confirmed_activation_closes_the_operation_and_a_second_call_changes_nothing(host):
    store, snapshots, dummy = host
    first = activate(store, snapshots, "v2", restart=Restarts(), health=healthy(), confirmed=True)
    assert first["changed"] and not first["pending"] and store.status()["pending"] is None
    restarts = Restarts()
    again = activate(store, snapshots, "v2", restart=restarts, health=healthy(), confirmed=True)
    assert not again["changed"] and not again["restarted"] and restarts.calls == []


def test_a_pending_operation_is_finished_by_the_next_call(host):
    store, snapshots, dummy = host
    activate(store, snapshots, "v2", restart=Restarts(), confirmed=False)
    restarts = Restarts()
    result = activate(store, snapshots, "v2", restart=restarts, health=healthy(), confirmed=True)
    assert result["changed"] and restarts.calls == ["v1"] and store.status()["pending"] is None


def test_config_change_alone_restarts(host):
    store, snapshots, live = host
    live.write_text("edited by hand\n")
    restarts = Restarts()
    result = activate(store, snapshots, "v1", restart=restarts, confirmed=True)
    assert result["changed"] and not result["switched"] and result["config_restored"] and restarts.calls == ["v1"]
    assert live.read_text() == "greeting = v1\n"
    assert result["drift_folder"] and os.path.isdir(result["drift_folder"])


def test_failed_health_keeps_the_host_on_the_release_and_pending(host):
    store, snapshots, dummy = host
    with pytest.raises(ActivationFailed, match="did not become healthy: check 'http x' expected HTTP 200 but saw HTTP 503") as caught:
        activate(store, snapshots, "v2", restart=Restarts(), health=healthy(False), confirmed=True)
    assert caught.value.result["switched"] and caught.value.result["health"]["passed"] is False
    assert store.current() == "v2"
    pending = store.status()["pending"]
    assert pending["from"] == "v1" and pending["to"] == "v2"
    assert store.rollback_target() == ("v1", "the release this host had before the unfinished deploy")


def test_failed_restart_keeps_the_operation_pending(host):
    store, snapshots, dummy = host
    with pytest.raises(ActivationFailed, match="exit code 1"):
        activate(store, snapshots, "v2", restart=Restarts(fail=True), confirmed=True)
    assert store.status()["pending"]["to"] == "v2"


def test_check_mode_changes_nothing(host):
    store, snapshots, live = host
    restarts = Restarts()
    result = activate(store, snapshots, "v2", restart=restarts, health=healthy(False), check_mode=True)
    assert result["changed"] and result["config_changes"] == [str(live)]
    assert store.current() == "v1" and live.read_text() == "greeting = v1\n" and restarts.calls == []


def test_missing_release_and_required_config_are_refused_before_any_change(host):
    store, snapshots, live = host
    with pytest.raises(ReleaseNotFound, match="does not exist"):
        activate(store, snapshots, "v9", restart=Restarts())
    os.rename(snapshots.path("v2"), snapshots.path("v2") + ".gone")
    with pytest.raises(FleetError, match="no configuration snapshot"):
        activate(store, snapshots, "v2", config="required", restart=Restarts())
    with pytest.raises(FleetError, match="config must be one of"):
        activate(store, snapshots, "v2", config="maybe")
    assert store.current() == "v1" and live.read_text() == "greeting = v1\n" and store.status()["pending"] is None


def test_config_skip_leaves_live_files(host):
    store, snapshots, live = host
    result = activate(store, snapshots, "v2", config="skip", confirmed=True)
    assert result["switched"] and not result["config_restored"] and live.read_text() == "greeting = v1\n"


# -- wait_healthy -----------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def answers(*releases):
    """A probe answering each given release in turn (None: connection refused), then the last one forever."""
    queue = list(releases)

    def probe(url, timeout):
        release = queue.pop(0) if len(queue) > 1 else queue[0]
        if release is None:
            return {"status": None, "headers": {}, "body": "", "latency_ms": 1.0, "error": "connection refused", "not_up": True}
        return {"status": 200, "headers": {}, "body": json.dumps({"release": release}), "latency_ms": 1.0, "error": None, "not_up": False}
    return probe


def test_wait_healthy_waits_for_the_expected_release():
    clock = Clock()
    check = health_check_spec("http://127.0.0.1:1/health", expected_release="v2")
    result = wait_healthy(check, {"timeout": 10, "interval": 1}, probe=answers(None, "v1", "v2"), clock=clock, sleep=clock.sleep)
    assert result["passed"] and result["probes"] == 3 and result["failures"] == 1 and result["not_up"] == 1
    assert result["checks"][0]["seen"] == "HTTP 200, release=v2"


def test_wait_healthy_needs_consecutive_successes_and_gives_up_at_the_timeout():
    clock = Clock()
    check = health_check_spec("http://127.0.0.1:1/health", expected_release="v2")
    flapping = answers("v2", None, "v2", None, "v2", None, "v2", None, "v2", None, "v2", None)
    result = wait_healthy(check, {"timeout": 5, "interval": 1, "successes": 2}, probe=flapping, clock=clock, sleep=clock.sleep)
    assert not result["passed"] and result["reason"] == "timeout" and result["probes"] == 6 and clock.now == 5


def test_wait_healthy_without_release_check_accepts_any_release():
    clock = Clock()
    check = health_check_spec("http://127.0.0.1:1/health")
    result = wait_healthy(check, {"timeout": 5, "interval": 1}, probe=answers("v7"), clock=clock, sleep=clock.sleep)
    assert result["passed"] and result["probes"] == 1


def test_a_failed_wait_fails_the_activation_with_its_message(host):
    store, snapshots, dummy = host
    clock = Clock()
    check = health_check_spec("http://127.0.0.1:1/health", expected_release="v2")

    def health():
        return wait_healthy(check, {}, probe=answers("v1"), clock=clock, sleep=clock.sleep)
    with pytest.raises(ActivationFailed) as caught:
        activate(store, snapshots, "v2", restart=Restarts(), health=health, confirmed=True)
    assert str(caught.value).startswith(
        "release v2 is live on this host but did not become healthy: check 'http http://127.0.0.1:1/health' expected HTTP 200, "
        "release=v2 but saw HTTP 200, release=v1; 4 failed rounds (more than wait.failure_limit 3) after 1.5 s")
    assert str(caught.value).endswith("The operation stays pending; revert the host or re-run once it is fixed.")
    assert caught.value.result["health"]["reason"] == "failure_limit" and store.status()["pending"]["to"] == "v2"


def test_a_confirmed_rollback_marks_the_release_it_left_bad_once(host):
    store, snapshots, dummy = host
    activate(store, snapshots, "v2", restart=Restarts(), health=healthy(), confirmed=True)
    back = activate(store, snapshots, "v1", operation="rollback", restart=Restarts(), health=healthy(), confirmed=True,
                    run_id="r9", actor="alice", reason="500s in checkout", mark_left_bad=True)
    assert back["marked_bad"] == "v2"
    mark = store.status()["bad"]["v2"]
    assert (mark["by"], mark["reason"], mark["run_id"]) == ("alice", "500s in checkout", "r9")
    again = activate(store, snapshots, "v1", operation="rollback", restart=Restarts(), health=healthy(), confirmed=True,
                     mark_left_bad=True)
    assert again["marked_bad"] is None and not again["changed"]


def test_no_mark_for_a_deploy_a_roll_forward_a_failed_rollback_or_without_the_option(host):
    store, snapshots, dummy = host
    assert activate(store, snapshots, "v2", restart=Restarts(), confirmed=True, mark_left_bad=True)["marked_bad"] is None
    assert activate(store, snapshots, "v1", operation="rollback", confirmed=True)["marked_bad"] is None
    assert activate(store, snapshots, "v2", operation="rollback", confirmed=True, mark_left_bad=True)["marked_bad"] is None
    with pytest.raises(ActivationFailed):
        activate(store, snapshots, "v1", operation="rollback", health=healthy(False), confirmed=True, mark_left_bad=True)
    assert store.status()["bad"] == {}
    # The next call finishes the interrupted rollback and then marks what the host came from.
    done = activate(store, snapshots, "v1", operation="rollback", health=healthy(), confirmed=True, mark_left_bad=True)
    assert done["marked_bad"] == "v2"

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet stdout callback: progress lines, the summary, quiet and full output, robustness, and real runs."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import uuid

import pytest
import yaml
from ansible import constants as C
from ansible import context
from ansible.executor.stats import AggregateStats
from ansible.module_utils.common.collections import ImmutableDict
from ansible.plugins.loader import fragment_loader
from ansible.utils.plugin_docs import add_fragments
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.callback import fleet
from ansible_collections.fleetops.release.plugins.callback.fleet import (
    FleetProgress, find_report, format_seconds, summary_lines)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS = os.path.join(REPO, "build", "collections")
BIN = os.path.dirname(sys.executable)
ANSI_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


# --- reports: a deploy of v2 over eu and us in two waves, whose us-2 fails, that is reverted --------------------------

def host(region, wave, outcome="pending", started=None, finished=None, from_="v1", to="v2"):
    return {"region": region, "from": from_, "to": to, "wave": wave, "outcome": outcome, "started": started, "finished": finished}


def planned():
    return {"run_id": "r-1", "operation": "deploy", "actor": "alice", "reason": "fix", "limit": "", "strategy": "rolling",
            "mode": "lockstep", "started": 1000.0, "updated": 1000.0, "finished": None, "status": "running", "waves": 2,
            "position": None,
            "hosts": {"eu-1": host("eu", 1), "eu-2": host("eu", 2), "us-1": host("us", 1), "us-2": host("us", 2),
                      "us-3": host("us", None, "unchanged", from_="v2")},
            "gates": [], "failures": [], "first_switch": None, "failed_at": None, "recovered_at": None,
            "recovery_seconds": None}


def deploy_story():
    """The successive reports of the run, each with the lines it must add."""
    story = []
    report = planned()
    story.append((report, ["[fleet] deploy r-1 by alice: 4 host(s) to change in 2 wave(s) (rolling, lockstep), 1 unchanged;"
                           " reason: fix"]))
    report = copy.deepcopy(report)
    report.update(position={"phase": "forward", "wave": 1, "batch": 1, "batches": 1}, first_switch=1001.0, updated=1010.0)
    report["hosts"]["eu-1"].update(outcome="switched", started=1001.0, finished=1010.0)
    report["hosts"]["us-1"].update(outcome="switched", started=1001.0, finished=1009.0)
    story.append((report, ["[fleet] wave 1/2  eu  1/1 hosts switched, 0 failed",
                           "[fleet] wave 1/2  us  1/1 hosts switched, 0 failed"]))
    report = copy.deepcopy(report)
    report["gates"] = [{"wave": 1, "region": "eu", "passed": True, "message": ""},
                       {"wave": 1, "region": "us", "passed": True, "message": ""}]
    story.append((report, ["[fleet] gate wave 1 eu: passed", "[fleet] gate wave 1 us: passed"]))
    report = copy.deepcopy(report)
    report.update(position={"phase": "forward", "wave": 2, "batch": 1, "batches": 1}, failed_at=1031.0, updated=1031.0)
    report["hosts"]["eu-2"].update(outcome="switched", started=1020.0, finished=1030.0)
    report["hosts"]["us-2"].update(outcome="switch failed", started=1020.0, finished=1031.0)
    report["failures"] = [{"host": "us-2", "region": "us", "phase": "forward switch", "wave": 2,
                           "message": "health check failed:\n  503 from /health"}]
    story.append((report, ["[fleet] wave 2/2  eu  2/2 hosts switched, 0 failed",
                           "[fleet] wave 2/2  us  1/2 hosts switched, 1 failed",
                           "[fleet] failure: wave 2 us us-2 (forward switch): health check failed: 503 from /health"]))
    report = copy.deepcopy(report)
    report.update(status="reverting", updated=1032.0)
    story.append((report, ["[fleet] reverting 4 host(s) (eu 2, us 2) after 1 failure(s)"]))
    report = copy.deepcopy(report)
    report.update(position={"phase": "revert", "wave": 1, "batch": 1, "batches": 2}, updated=1040.0)
    for name in ("eu-1", "us-1"):
        report["hosts"][name].update(outcome="reverted", finished=1040.0)
    story.append((report, ["[fleet] revert batch 1/2  eu  1/2 hosts reverted, 0 failed",
                           "[fleet] revert batch 1/2  us  1/2 hosts reverted, 0 failed"]))
    report = copy.deepcopy(report)
    report.update(position={"phase": "revert", "wave": 1, "batch": 2, "batches": 2}, updated=1050.0, recovered_at=1050.0,
                  recovery_seconds=19.0)
    for name in ("eu-2", "us-2"):
        report["hosts"][name].update(outcome="reverted", finished=1050.0)
    story.append((report, ["[fleet] revert batch 2/2  eu  2/2 hosts reverted, 0 failed",
                           "[fleet] revert batch 2/2  us  2/2 hosts reverted, 0 failed"]))
    report = copy.deepcopy(report)
    report.update(status="failed", finished=1055.0, updated=1055.0,
                  phases=[{"name": "preflight", "started": 995.0, "finished": 1000.0},
                          {"name": "waves", "started": 1000.0, "finished": 1032.0},
                          {"name": "revert", "started": 1032.0, "finished": 1050.0}])
    story.append((report, []))
    return story


STORY_SUMMARY = [
    "region  hosts  from -> to    result                   time",
    "eu      2      v1 -> v2      2 reverted               49.0s",
    "us      3      v1 -> v2 (2)  2 reverted, 1 unchanged  49.0s",
    "               v2 -> v2 (1)",
    "",
    "run r-1: deploy by alice, failed, 55.0s, time to recover 19.0s",
    "  started 1970-01-01 00:16:40 UTC, rolling, lockstep, 2 wave(s); reason: fix",
    "  phases: preflight 5.0s, waves 32.0s, revert 18.0s",
    "  failure: wave 2 us us-2 (forward switch): health check failed: 503 from /health",
]


# --- the pure part ------------------------------------------------------------------------------------------------------

def lines_of(progress, report):
    return [line for dummy, line in progress.update(report)]


def test_the_story_of_a_reverted_deploy_line_by_line():
    progress = FleetProgress()
    for report, expected in deploy_story():
        assert lines_of(progress, report) == expected
    assert summary_lines(progress.runs["r-1"]) == STORY_SUMMARY


def test_levels_mark_failures_and_the_revert():
    progress = FleetProgress()
    levels = {}
    for report, dummy in deploy_story():
        levels.update({line: level for level, line in progress.update(report)})
    assert levels["[fleet] reverting 4 host(s) (eu 2, us 2) after 1 failure(s)"] == "warn"
    assert levels["[fleet] failure: wave 2 us us-2 (forward switch): health check failed: 503 from /health"] == "error"
    assert levels["[fleet] gate wave 1 eu: passed"] == "ok"


def test_no_line_is_printed_twice():
    progress = FleetProgress()
    story = deploy_story()
    for report, dummy in story:
        progress.update(report)
    # the same reports again (a second play re-sets the fact), in any order: the regions go back to counts they had
    # shown, and nothing is new
    for report, dummy in reversed(story):
        assert progress.update(copy.deepcopy(report)) == []


def test_a_failed_gate_and_its_failure_make_one_line():
    report = copy.deepcopy(deploy_story()[1][0])
    report["gates"] = [{"wave": 1, "region": "eu", "passed": False, "message": "error rate 12%\nabove 5% for 2m"}]
    report["failures"] = [{"host": "eu-1", "region": "eu", "phase": "gate", "wave": 1, "message": "error rate 12%"}]
    progress = FleetProgress()
    assert progress.update(report)[-1] == ("error", "[fleet] gate wave 1 eu: failed: error rate 12% above 5% for 2m")
    summary = summary_lines(report)
    assert "  gate failed: wave 1 eu: error rate 12% above 5% for 2m" in summary
    assert not [line for line in summary if line.startswith("  failure:")]


def test_a_report_that_lists_the_hosts_to_revert_is_followed():
    # the report says which hosts still go back (key revert); here its first report of the revert comes after the first
    # revert batch (us-2 reverted, eu-2's revert failed, us-1 still to go) and eu-1, which stays, is not counted
    report = copy.deepcopy(deploy_story()[3][0])
    report["hosts"]["eu-2"]["outcome"] = "switch failed"
    report["failures"].append({"host": "eu-2", "region": "eu", "phase": "forward switch", "wave": 2, "message": "x"})
    progress = FleetProgress()
    progress.update(report)
    report = copy.deepcopy(report)
    report.update(status="reverting", position={"phase": "revert", "wave": 1, "batch": 1, "batches": 2}, revert=["us-1"])
    report["hosts"]["us-2"]["outcome"] = "reverted"
    report["failures"].append({"host": "eu-2", "region": "eu", "phase": "revert switch", "wave": 1, "message": "y"})
    assert lines_of(progress, report) == [
        "[fleet] reverting 3 host(s) (eu 1, us 2) after 3 failure(s)",
        "[fleet] revert batch 1/2  eu  0/1 hosts reverted, 1 failed",
        "[fleet] revert batch 1/2  us  1/2 hosts reverted, 0 failed",
        "[fleet] failure: wave 1 eu eu-2 (revert switch): y",
    ]


def test_sequential_regions_speak_in_their_turn_only():
    report = planned()
    report.update(mode="sequential", waves=4, position={"phase": "forward", "wave": 1, "batch": 1, "batches": 1})
    for name, wave in (("eu-1", 1), ("eu-2", 2), ("us-1", 3), ("us-2", 4)):
        report["hosts"][name]["wave"] = wave
    report["hosts"]["eu-1"]["outcome"] = "switched"
    progress = FleetProgress()
    assert lines_of(progress, report)[1:] == ["[fleet] wave 1/4  eu  1/1 hosts switched, 0 failed"]
    report = copy.deepcopy(report)
    report["position"]["wave"] = 2
    report["hosts"]["eu-2"]["outcome"] = "switched"
    assert lines_of(progress, report) == ["[fleet] wave 2/4  eu  2/2 hosts switched, 0 failed"]
    report = copy.deepcopy(report)
    report["position"]["wave"] = 3
    report["hosts"]["us-1"]["outcome"] = "switched"
    # eu did not change: only us speaks
    assert lines_of(progress, report) == ["[fleet] wave 3/4  us  1/1 hosts switched, 0 failed"]


def test_a_rollback_and_the_first_report_arriving_late():
    report = planned()
    report.update(run_id="r-2", operation="automatic_rollback", actor="monitoring", reason="", status="ok", finished=1030.0,
                  position={"phase": "forward", "wave": 2, "batch": 1, "batches": 1}, first_switch=1001.0,
                  recovered_at=1030.0, recovery_seconds=29.0)
    for name, entry in report["hosts"].items():
        if entry["outcome"] == "pending":
            entry.update(outcome="switched", started=1001.0, finished=1030.0, **{"from": "v2", "to": "v1"})
    assert lines_of(FleetProgress(), report) == [
        "[fleet] automatic rollback r-2 by monitoring: 4 host(s) to change in 2 wave(s) (rolling, lockstep), 1 unchanged",
        "[fleet] wave 2/2  eu  2/2 hosts switched, 0 failed",
        "[fleet] wave 2/2  us  2/2 hosts switched, 0 failed",
    ]
    assert summary_lines(report)[5] == "run r-2: automatic rollback by monitoring, ok, 30.0s, time to recover 29.0s"


def test_two_runs_are_summarised_apart():
    progress = FleetProgress()
    first = planned()
    second = dict(planned(), run_id="r-2")
    progress.update(first)
    assert lines_of(progress, second)[0].startswith("[fleet] deploy r-2 by alice")
    assert list(progress.runs) == ["r-1", "r-2"]


def test_find_report():
    report = planned()
    assert find_report({"ansible_facts": {"fleet_run_report": report}}) is report
    assert find_report({"results": [{"ansible_facts": {"fleet_run_report": {"run_id": "a"}}},
                                    {"ansible_facts": {"fleet_run_report": report}}, {"skipped": True}]}) is report
    for result in ({}, {"ansible_facts": {"fleet_run_report": "x"}}, {"ansible_facts": None}, {"results": "x"}, None):
        assert find_report(result) is None


@pytest.mark.parametrize("seconds, text", [(None, "-"), ("x", "-"), (-1, "-"), (0, "0.0s"), (59.9, "59.9s"), (60, "1m 00s"),
                                           ("125.4", "2m 05s"), (3600, "1h 00m"), (7322, "2h 02m"), (True, "-"),
                                           (float("inf"), "-"), (float("nan"), "-")])
def test_format_seconds(seconds, text):
    assert format_seconds(seconds) == text


def test_an_empty_report_still_has_a_summary():
    assert summary_lines({}) == ["no hosts in the run report", "", "run -: - by -, -, -",
                                 "  started -, -, -, ? wave(s)"]


# Anything in any key: the callback is read during incidents and must never be the thing that breaks.
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                       lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                       max_leaves=8)
KEYS = st.sampled_from(["run_id", "operation", "actor", "reason", "limit", "strategy", "mode", "started", "updated", "finished",
                        "status", "waves", "position", "hosts", "gates", "failures", "first_switch", "failed_at",
                        "recovered_at", "recovery_seconds", "phases", "unknown"])
HOST_KEYS = ("region", "from", "to", "wave", "outcome", "started", "finished")
HOST = st.fixed_dictionaries({}, optional={key: JSONISH for key in HOST_KEYS})
REPORTS = st.dictionaries(KEYS, JSONISH) | st.fixed_dictionaries(
    {"hosts": st.dictionaries(st.text(max_size=3), HOST | JSONISH, max_size=4),
     "position": st.fixed_dictionaries({}, optional={key: JSONISH for key in ("phase", "wave", "batch", "batches")}) | JSONISH,
     "gates": st.lists(st.dictionaries(st.sampled_from(["wave", "region", "passed", "message"]), JSONISH), max_size=2) | JSONISH,
     "failures": st.lists(st.dictionaries(st.sampled_from(["host", "region", "phase", "wave", "message"]), JSONISH),
                          max_size=2) | JSONISH,
     "phases": st.lists(st.dictionaries(st.sampled_from(["name", "started", "finished"]), JSONISH), max_size=2) | JSONISH},
    optional={"status": st.sampled_from(["running", "reverting", "ok", "failed"]) | JSONISH, "run_id": JSONISH})


@settings(max_examples=150, deadline=None)
@given(reports=st.lists(REPORTS, min_size=1, max_size=3))
def test_any_report_shape_is_read_without_an_error(reports):
    progress = FleetProgress()
    seen = set()
    for report in reports:
        run = fleet._text(report.get("run_id"))
        for level, line in progress.update(report):
            assert level in ("info", "ok", "warn", "error") and line.startswith("[fleet] ") and "\n" not in line
            assert (run, line) not in seen
            seen.add((run, line))
        assert all("\n" not in line for line in summary_lines(report))


# --- the callback, fed with TaskResult-like objects ----------------------------------------------------------------------

class FakeDisplay:
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, color=None, stderr=False, screen_only=False, log_only=False, newline=True):
        if not log_only:
            self.lines.extend(str(msg).split("\n"))

    def banner(self, msg, color=None, cows=True):
        self.lines.append(msg.strip() + " ***")

    def warning(self, msg, formatted=False):
        self.lines.append("[WARNING]: " + msg)

    def _warning(self, warning):
        self.lines.append("[WARNING]: %s" % getattr(warning, "msg", warning))

    def _deprecated(self, deprecation):
        self.lines.append("[DEPRECATION WARNING]: %s" % getattr(deprecation, "msg", deprecation))

    def _error(self, error, stderr=False):
        self.lines.append("[ERROR]: %s" % getattr(error, "msg", error))


class FakeTask:
    def __init__(self, name, action="ansible.builtin.set_fact", ignore_errors=False):
        self.name, self.action, self.ignore_errors = name, action, ignore_errors
        self._uuid = uuid.uuid4().hex
        self.loop = None
        self.delegate_to = None
        self.no_log = False
        self.check_mode = False
        self.args = {}
        self.ignore_unreachable = False

    def get_name(self):
        return self.name

    def get_path(self):
        return "playbook.yml:1"


class FakeHost:
    def get_name(self):
        return "localhost"


class FakeResult:
    def __init__(self, task, result):
        self.task, self.result, self.host, self.task_name = task, result, FakeHost(), task.name
        self.warnings, self.deprecations, self.exception = list(result.get("warnings", [])), [], None


class FakePlay:
    strategy = "linear"
    check_mode = False

    def get_name(self):
        return "deploy"


def callback(monkeypatch, task_output=False, load_name=fleet.PLUGIN_NAME):
    doc = yaml.safe_load(fleet.DOCUMENTATION)
    add_fragments(doc, fleet.__file__, fragment_loader=fragment_loader, is_module=False)
    C.config.initialize_plugin_configuration_definitions("callback", fleet.PLUGIN_NAME, doc["options"])
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=False, args=()))
    monkeypatch.setenv(fleet.OPTION_ENV, str(task_output).lower())
    plugin = fleet.CallbackModule()
    plugin._display = FakeDisplay()
    plugin._load_name = load_name
    # the repository's ansible.cfg asks for YAML results; these tests read the default JSON
    plugin.set_options(direct={"result_format": "json"})
    plugin.v2_playbook_on_play_start(FakePlay())
    return plugin


def run_tasks(plugin, tasks):
    for task, outcome, result in tasks:
        plugin.v2_playbook_on_task_start(task, False)
        # the task queue manager sets the result being dispatched (warnings are read from it)
        plugin._current_task_result = FakeResult(task, result)
        if outcome == "failed":
            plugin.v2_runner_on_failed(plugin._current_task_result, ignore_errors=task.ignore_errors)
        else:
            getattr(plugin, "v2_runner_on_%s" % outcome)(plugin._current_task_result)
    stats = AggregateStats()
    stats.increment("ok", "localhost")
    plugin.v2_playbook_on_stats(stats)
    return plugin._display.lines


def story_tasks():
    tasks = [(FakeTask("Plan"), "ok", {"changed": False, "ansible_facts": {"fleet_run_report": deploy_story()[0][0]}}),
             (FakeTask("Change something", "ansible.builtin.copy"), "ok", {"changed": True}),
             (FakeTask("Skip something", "ansible.builtin.copy"), "skipped", {"skipped": True}),
             (FakeTask("Warn", "ansible.builtin.command"), "ok", {"changed": False, "warnings": ["mind the gap"]}),
             (FakeTask("Show the plan", "ansible.builtin.debug"), "ok", {"msg": "2 wave(s)", "_ansible_verbose_always": True}),
             (FakeTask("Put the release live", "fleetops.release.release_activate", ignore_errors=True), "failed",
              {"failed": True, "msg": "health check failed"})]
    tasks += [(FakeTask("Report %d" % index), "ok", {"ansible_facts": {"fleet_run_report": report}})
              for index, (report, dummy) in enumerate(deploy_story()[1:], 1)]
    tasks.append((FakeTask("Fail the run", "ansible.builtin.fail"), "failed", {"failed": True, "msg": "deploy run r-1 failed"}))
    return tasks


def fleet_lines():
    return [line for dummy, lines in deploy_story() for line in lines]


def test_quiet_output_is_fleet_lines_messages_warnings_failures_and_the_recap(monkeypatch):
    lines = run_tasks(callback(monkeypatch), story_tasks())
    recap = lines.index("PLAY RECAP ***")
    summary = lines.index("FLEET SUMMARY [r-1] ***")
    assert lines[:summary] == (["PLAY [deploy] ***", fleet_lines()[0], "[WARNING]: mind the gap", "TASK [Show the plan] ***",
                                'ok: [localhost] => {', '    "msg": "2 wave(s)"', '}'] + fleet_lines()[1:]
                               + ["TASK [Fail the run] ***",
                                  'fatal: [localhost]: FAILED! => {"failed": true, "msg": "deploy run r-1 failed"}'])
    assert lines[summary + 1:recap] == STORY_SUMMARY
    assert lines[recap + 1].startswith("localhost")


def test_task_output_adds_the_fleet_lines_to_the_default_output(monkeypatch):
    lines = run_tasks(callback(monkeypatch, task_output=True), story_tasks())
    for expected in ("TASK [Plan] ***", "ok: [localhost]", "changed: [localhost]", "TASK [Skip something] ***",
                     "skipping: [localhost]", "...ignoring", "[WARNING]: mind the gap"):
        assert expected in lines
    assert [line for line in lines if line.startswith("[fleet]")] == fleet_lines()
    assert lines.index("[fleet] wave 1/2  eu  1/1 hosts switched, 0 failed") == lines.index("TASK [Report 1] ***") + 2


def test_the_option_is_found_when_ansible_runner_loads_the_callback_under_its_own_name(monkeypatch):
    # awx_display subclasses this callback; the options it loads under its own name may lack ours
    plugin = callback(monkeypatch, task_output=True, load_name="awx_display_does_not_exist")
    assert plugin._fleet_task_output is True


def test_an_unreadable_report_costs_one_warning_and_the_run_goes_on(monkeypatch):
    plugin = callback(monkeypatch)

    def broken(self, report):
        raise RuntimeError("boom")

    monkeypatch.setattr(FleetProgress, "update", broken)
    monkeypatch.setattr(fleet, "summary_lines", lambda report: 1 / 0)
    tasks = [(FakeTask("Report %d" % index), "ok", {"ansible_facts": {"fleet_run_report": dict(planned(), updated=index)}})
             for index in range(3)]
    lines = run_tasks(plugin, tasks)
    warnings = [line for line in lines if line.startswith("[WARNING]")]
    assert warnings == [
        "[WARNING]: fleetops.release.fleet callback: could not read the fleet run report (RuntimeError: boom);"
        " the run itself is not affected"]
    assert "PLAY RECAP ***" in lines


def test_results_without_a_report_print_no_fleet_summary(monkeypatch):
    lines = run_tasks(callback(monkeypatch), [(FakeTask("Copy", "ansible.builtin.copy"), "ok", {"changed": True})])
    assert lines[:2] == ["PLAY [deploy] ***", "PLAY RECAP ***"]
    assert not [line for line in lines if "FLEET" in line or "[fleet]" in line]


# --- real runs -------------------------------------------------------------------------------------------------------

def write_playbook(tmp_path, directory=None):
    tasks = [{"name": "Report %d" % index, "ansible.builtin.set_fact": {"fleet_run_report": report}, "run_once": True}
             for index, (report, dummy) in enumerate(deploy_story())]
    tasks.insert(1, {"name": "Show a message", "ansible.builtin.debug": {"msg": "hello from the playbook"}})
    tasks.insert(1, {"name": "Fail and be ignored", "ansible.builtin.fail": {"msg": "ignored failure"}, "ignore_errors": True})
    # a second play sets the last report again: nothing is printed twice
    plays = [{"name": "Waves", "hosts": "all", "gather_facts": False, "tasks": tasks},
             {"name": "Again", "hosts": "all", "gather_facts": False, "tasks": [tasks[-1]]}]
    path = (directory or tmp_path) / "run.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    (tmp_path / "ansible.cfg").write_text("[defaults]\n")
    return path


def environment(tmp_path, **extra):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="fleetops.release.fleet", ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    env.update(extra)
    return env


def run_playbook(tmp_path, **extra):
    playbook = write_playbook(tmp_path)
    done = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)],
                          cwd=str(tmp_path), env=environment(tmp_path, **extra), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def without_stars(lines):
    return [line.rstrip("*").rstrip() for line in lines if line.strip()]


def test_a_real_run_prints_the_progress_and_the_summary(tmp_path):
    lines = without_stars(run_playbook(tmp_path))
    summary = lines.index("FLEET SUMMARY [r-1]")
    assert lines[:summary] == (["PLAY [Waves]", fleet_lines()[0], "TASK [Show a message]", "ok: [localhost] => {",
                                '    "msg": "hello from the playbook"', "}"] + fleet_lines()[1:] + ["PLAY [Again]"])
    recap = lines.index("PLAY RECAP")
    assert lines[summary + 1:recap] == [line for line in STORY_SUMMARY if line]
    assert lines[recap + 1].split() == ["localhost", ":", "ok=11", "changed=0", "unreachable=0", "failed=0", "skipped=0",
                                        "rescued=0", "ignored=1"]


def test_a_real_run_with_task_output(tmp_path):
    lines = without_stars(run_playbook(tmp_path, ANSIBLE_FLEET_TASK_OUTPUT="true"))
    assert [line for line in lines if line.startswith("[fleet]")] == fleet_lines()
    assert lines[lines.index("TASK [Report 1]"):lines.index("TASK [Report 2]")] == [
        "TASK [Report 1]", "ok: [localhost]", "[fleet] wave 1/2  eu  1/1 hosts switched, 0 failed",
        "[fleet] wave 1/2  us  1/1 hosts switched, 0 failed"]
    assert "...ignoring" in lines and "FLEET SUMMARY [r-1]" in lines


def test_ansible_runner_events_carry_the_fleet_lines(tmp_path, monkeypatch):
    ansible_runner = pytest.importorskip("ansible_runner")
    (tmp_path / "project").mkdir()
    playbook = write_playbook(tmp_path, tmp_path / "project")
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    env = environment(tmp_path)
    envvars = {key: env[key] for key in ("ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_CONFIG", "ANSIBLE_LOCAL_TEMP",
                                         "ANSIBLE_HOME")}
    run = ansible_runner.run(private_data_dir=str(tmp_path), playbook=playbook.name, inventory="localhost ansible_connection=local",
                             envvars=envvars, quiet=True, timeout=120)
    assert run.rc == 0, run.stdout.read()
    event_lines = [line for event in run.events for line in event.get("stdout", "").splitlines()]
    assert [ANSI_ESCAPES.sub("", line) for line in event_lines if "[fleet]" in line] == fleet_lines()
    assert "FLEET SUMMARY [r-1]" in " ".join(event_lines)


def test_a_blue_green_plan_counts_the_regions_it_flips():
    report = planned()
    report.update(strategy="blue_green", waves=0, flips=["eu", "us"])
    assert lines_of(FleetProgress(), report)[0] == (
        "[fleet] deploy r-1 by alice: 2 region(s) to flip (eu, us), 4 host(s) to change (blue_green), 1 unchanged; reason: fix")

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A blue/green rollback in the run ledger: its outcomes are final after the flip, and a known-bad mark that also
closed the host's part of the run (release_mark unlock) leaves nothing for the run's last play on that host."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils import _run_ledger as ledger
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report

HOSTS = {"eu-1": "eu", "eu-2": "eu", "us-1": "us", "us-2": "us"}
REGIONS = {"eu": {"flip": True, "serving": ["eu-1"], "idle": ["eu-2"]},
           "us": {"flip": True, "serving": ["us-1"], "idle": ["us-2"]}}


def report():
    rows = {host: {"region": region, "from": "v2", "to": "v1", "needed": True} for host, region in HOSTS.items()}
    return _wave_report.start({"run_id": "r1", "operation": "rollback", "strategy": "blue_green"}, rows, None, 100.0)


def mark(outcome):
    return {"changed": True, "unlocked": True, "history": {"event": "run", "outcome": outcome}}


def test_a_mark_that_closed_the_host_with_its_final_outcome_leaves_it_out_of_the_last_play():
    flips = {"eu": {"changed": True}, "us": {"changed": True}}
    after_flip = ledger.bg_done(report(), REGIONS, flips, {}, 101.0)
    outcomes = {host: row["outcome"] for host, row in after_flip["hosts"].items()}
    assert outcomes == {"eu-1": "idle now", "eu-2": "serving now", "us-1": "idle now", "us-2": "serving now"}
    marks = {host: mark(outcome) for host, outcome in outcomes.items() if host != "us-2"}
    marks["us-2"] = {"skipped": True}
    done = ledger.bg_done(after_flip, REGIONS, flips, {}, 102.0, marks=marks)
    assert done["failures"] == []
    # us-2 was not marked (the release it left is not installed there): the last play unlocks it.
    assert ledger.still_locked(done, list(HOSTS)) == ["us-2"]


def test_a_run_line_with_another_outcome_is_written_again_and_a_failed_mark_is_a_failure():
    flips = {"eu": {"changed": True}, "us": {"changed": True}}
    after_flip = ledger.bg_done(report(), REGIONS, flips, {}, 101.0)
    marks = {"eu-1": mark("switched"), "eu-2": mark("serving now"), "us-1": {"failed": True, "msg": "disk full"},
             "us-2": mark("serving now")}
    done = ledger.bg_done(after_flip, REGIONS, flips, {}, 102.0, marks=marks)
    assert [(row["host"], row["phase"], row["message"]) for row in done["failures"]] == [("us-1", "mark", "disk full")]
    assert ledger.still_locked(done, list(HOSTS)) == ["eu-1", "us-1"]

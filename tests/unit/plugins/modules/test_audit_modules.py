# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""audit_record and audit_info as modules: arguments in, JSON result out, check mode, errors that write nothing."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetops.release.plugins.modules import audit_info, audit_record


def call_module(module, args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_record_then_read_back(tmp_path, capsys):
    directory = str(tmp_path / "audit")
    record = {"run_id": "r1", "operation": "rollback", "reason": "error rate", "started": "2026-11-26T21:00:00Z"}
    result = call_module(audit_record, {"directory": directory, "record": record, "_ansible_diff": True}, capsys)
    assert result["changed"] and os.path.dirname(result["path"]) == directory
    assert result["record"]["recorded_at"] and result["diff"]["after"].startswith('{"operation": "rollback"')
    again = call_module(audit_record, {"directory": directory, "record": record}, capsys)
    assert not again["changed"] and again["record"] == result["record"]

    info = call_module(audit_info, {"directory": directory, "since": "2026-11-26T00:00:00Z", "operation": ["rollback"]}, capsys)
    assert not info["changed"] and [r["run_id"] for r in info["records"]] == ["r1"]
    assert info["files"] == [result["path"]] and info["problems"] == []


def test_record_check_mode_writes_nothing(tmp_path, capsys):
    directory = str(tmp_path / "audit")
    result = call_module(audit_record, {"directory": directory, "record": {"run_id": "r1", "operation": "deploy"}}, capsys,
                         check_mode=True)
    assert result["changed"] and result["path"].startswith(directory) and not os.path.exists(directory)


def test_record_refusal_fails_and_writes_nothing(tmp_path, capsys):
    directory = str(tmp_path / "audit")
    result = call_module(audit_record, {"directory": directory, "record": {"operation": "deploy"}}, capsys)
    assert result["failed"] and "lacks run_id" in result["msg"]
    assert not os.path.exists(directory)


def test_record_unwritable_directory_is_a_clear_error(tmp_path, capsys, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(audit_record, "append_record", refuse)
    result = call_module(audit_record, {"directory": str(tmp_path), "record": {"run_id": "r", "operation": "x"}}, capsys)
    assert result["failed"] and "Permission denied" in result["msg"] and "become: true?" in result["msg"]


def test_info_reports_corrupt_lines_and_warns(tmp_path, capsys, monkeypatch):
    (tmp_path / "2026-11-26.jsonl").write_text('{"run_id": "a", "operation": "deploy"}\n{torn\n')
    warned = []
    monkeypatch.setattr(audit_info.AnsibleModule, "warn", lambda self, text: warned.append(text))
    result = call_module(audit_info, {"directory": str(tmp_path)}, capsys)
    assert not result.get("failed") and [r["run_id"] for r in result["records"]] == ["a"]
    assert len(result["problems"]) == 1 and ":2: not valid JSON" in result["problems"][0]
    assert warned == result["problems"]


def test_info_bad_since_fails_clearly(tmp_path, capsys):
    result = call_module(audit_info, {"directory": str(tmp_path), "since": "last tuesday"}, capsys)
    assert result["failed"] and "neither a time" in result["msg"]


def test_info_missing_directory_is_empty(tmp_path, capsys):
    result = call_module(audit_info, {"directory": str(tmp_path / "none"), "since": "7d"}, capsys)
    assert result["records"] == [] and result["files"] == [] and not result.get("failed")


def test_info_warns_about_the_first_problems_only(tmp_path, capsys, monkeypatch):
    (tmp_path / "2026-11-26.jsonl").write_text("{torn\n" * 8)
    warned = []
    monkeypatch.setattr(audit_info.AnsibleModule, "warn", lambda self, text: warned.append(text))
    result = call_module(audit_info, {"directory": str(tmp_path)}, capsys)
    assert len(result["problems"]) == 8 and warned[:5] == result["problems"][:5]
    assert warned[5:] == ["3 more problems reading the audit trail; see the result's problems"]

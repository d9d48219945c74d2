# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""schema_info's refusals that need no database (the rest: tests/integration/test_schema_info.py, real PostgreSQL)."""

from __future__ import annotations

import sys

ARGS = {"tool": "flyway", "host": "127.0.0.1", "port": 1, "dbname": "shop", "user": "shop", "password": "unit-s3cret"}


def test_missing_psycopg_says_what_to_install(run_module, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    result = run_module("schema_info", ARGS)
    assert result["failed"] and "Failed to import the required Python library (psycopg" in result["msg"]
    assert "pip install 'psycopg[binary]'" in result["msg"] and "unit-s3cret" not in str(result)


def test_unknown_tool_is_refused(run_module):
    result = run_module("schema_info", dict(ARGS, tool="redgate"))
    assert result["failed"] and "value of tool must be one of: flyway, liquibase, alembic, sqitch, got: redgate" in result["msg"]


def test_sqitch_takes_no_history_table(run_module):
    result = run_module("schema_info", dict(ARGS, tool="sqitch", history_table="changes"))
    assert result["failed"] and "history_table does not apply to Sqitch" in result["msg"]


def test_unreachable_server_in_check_mode(run_module):
    result = run_module("schema_info", dict(ARGS, connect_timeout=2), check_mode=True)
    assert result["failed"] and "cannot reach PostgreSQL at 127.0.0.1:1, database shop, user shop" in result["msg"]
    assert "unit-s3cret" not in str(result)

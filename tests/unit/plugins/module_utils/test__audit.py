# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit trail: durations and times, day files, append-only idempotent writes, tolerant reads, host summaries."""

from __future__ import annotations

import datetime
import json
import os
import stat
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._audit import (
    SUMMARY_FIELDS,
    AuditError,
    append_record,
    day_file_name,
    day_of_file,
    history_line,
    parse_duration,
    parse_lines,
    parse_since,
    parse_time,
    read_records,
    record_time,
    serialise,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 26, 21, 4, 5, tzinfo=UTC)


def lines_of(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# -- durations and times ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [
    (0, 0), (90, 90), ("90", 90), ("45s", 45), ("30m", 1800), ("2h", 7200), ("7d", 604800), ("1h30m", 5400),
    ("1d2h3m4s", 93784), (" 30M ", 1800), (60.0, 60),
])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [None, True, False, "", "abc", "30x", "1.5h", "-5", -5, 1.5, "1h30", "30m2h", "m", [30]])
def test_bad_durations_are_refused_with_the_accepted_forms(value):
    with pytest.raises(AuditError, match="duration|negative|seconds"):
        parse_duration(value, "auto_rollback_cooldown")


@given(st.integers(0, 10 ** 6), st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]))
def test_a_number_with_a_unit_is_that_many_units(number, unit):
    assert parse_duration("%d%s" % (number, unit[0])) == number * unit[1]


@given(st.integers(0, 400), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_combined_units_add_up(days, hours, minutes, seconds):
    text = "%dd%dh%dm%ds" % (days, hours, minutes, seconds)
    assert parse_duration(text) == ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@pytest.mark.parametrize("text, expected", [
    ("2026-11-26T21:04:05Z", NOW),
    ("2026-11-26T22:04:05+01:00", NOW),
    ("2026-11-26T21:04:05", NOW),
    ("2026-11-26 21:04:05Z", NOW),
    ("2026-11-26", datetime.datetime(2026, 11, 26, tzinfo=UTC)),
])
def test_times(text, expected):
    assert parse_time(text) == expected


def test_yaml_dates_and_datetimes_are_times_too():
    assert parse_time(datetime.date(2026, 11, 26)) == datetime.datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_time(datetime.datetime(2026, 11, 26, 21, 4, 5)) == NOW
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    assert parse_time(datetime.date(2026, 11, 26), berlin) == datetime.datetime(2026, 11, 25, 23, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z", None, 5])
def test_bad_times(text):
    with pytest.raises(AuditError, match="ISO-8601"):
        parse_time(text)


def test_since_is_a_time_or_a_duration_back_from_now():
    assert parse_since("24h", NOW) == NOW - datetime.timedelta(hours=24)
    assert parse_since("30m", NOW) == NOW - datetime.timedelta(minutes=30)
    assert parse_since("2026-11-20T00:00:00Z", NOW) == datetime.datetime(2026, 11, 20, tzinfo=UTC)
    with pytest.raises(AuditError, match="neither a time .* nor a duration"):
        parse_since("last week", NOW)


def test_record_time_prefers_started():
    assert record_time({"started": "2026-11-26T21:00:00Z", "recorded_at": "2026-11-26T21:09:00Z"}).minute == 0
    assert record_time({"recorded_at": "2026-11-26T21:09:00Z"}).minute == 9
    assert record_time({"time": "2026-11-26T21:07:00Z"}).minute == 7
    assert record_time({"started": "soon"}) is None
    assert record_time({}) is None


# -- day files --------------------------------------------------------------------------------------------


def test_day_file_is_the_utc_date():
    assert day_file_name(NOW) == "2026-11-26.jsonl"
    # 00:30 in Berlin on the 27th is still the 26th in UTC.
    berlin_half_past_midnight = datetime.datetime(2026, 11, 27, 0, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert day_file_name(berlin_half_past_midnight) == "2026-11-26.jsonl"
    assert day_of_file("2026-11-26.jsonl") == datetime.date(2026, 11, 26)
    assert day_of_file("2026-02-30.jsonl") is None
    assert day_of_file("notes.txt") is None and day_of_file("2026-11-26.jsonl.tmp") is None


# -- serialising --------------------------------------------------------------------------------------------


def test_serialise_gives_one_line():
    line = serialise({"run_id": "r1", "operation": "deploy", "reason": "multi\nline"})
    assert "\n" not in line and json.loads(line)["reason"] == "multi\nline"


@pytest.mark.parametrize("record, error", [
    ({"operation": "deploy"}, "lacks run_id"),
    ({"run_id": "r1"}, "lacks operation"),
    ({"run_id": "", "operation": " "}, "lacks run_id and operation"),
    ({"run_id": 5, "operation": "deploy"}, "lacks run_id"),
    ({"run_id": "r1", "operation": "deploy", "x": {1, 2}}, "not JSON-serialisable"),
    ({"run_id": "r1", "operation": "deploy", "x": float("nan")}, "not JSON-serialisable"),
    ({"run_id": "r1", "operation": "deploy", "x": object()}, "not JSON-serialisable"),
    (["run_id", "operation"], "must be a dict"),
])
def test_bad_records_are_refused(record, error):
    with pytest.raises(AuditError, match=error):
        serialise(record)


# -- appending ----------------------------------------------------------------------------------------------


def test_append_creates_directory_and_file_with_their_modes(tmp_path):
    directory = str(tmp_path / "var" / "audit")
    old_umask = os.umask(0o077)  # the modes must not depend on the umask
    try:
        changed, path, record = append_record(directory, {"run_id": "r1", "operation": "deploy"}, now=NOW)
    finally:
        os.umask(old_umask)
    assert changed and path == os.path.join(directory, "2026-11-26.jsonl")
    assert record["recorded_at"] == "2026-11-26T21:04:05Z"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(os.path.dirname(directory)).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert lines_of(path) == [record]


def test_append_only_and_idempotent_per_run_and_event(tmp_path):
    directory = str(tmp_path)
    first = {"run_id": "r1", "operation": "rollback", "event": "start", "started": "2026-11-26T21:00:00Z"}
    assert append_record(directory, first, now=NOW)[0]
    assert append_record(directory, {"run_id": "r1", "operation": "rollback", "outcome": "ok"}, now=NOW)[0]
    # The same finishing task again: not written twice; the record already there is returned.
    changed, path, record = append_record(directory, {"run_id": "r1", "operation": "rollback", "outcome": "failed"}, now=NOW)
    assert not changed and record["outcome"] == "ok"
    assert append_record(directory, {"run_id": "r2", "operation": "deploy"}, now=NOW)[0]
    assert [(r["run_id"], r.get("event")) for r in lines_of(path)] == [("r1", "start"), ("r1", None), ("r2", None)]
    # The next UTC day has its own file.
    changed, other, _record = append_record(directory, {"run_id": "r1", "operation": "rollback"}, now=NOW + datetime.timedelta(hours=3))
    assert changed and other.endswith("2026-11-27.jsonl")


def test_refused_record_writes_nothing(tmp_path):
    directory = str(tmp_path / "audit")
    with pytest.raises(AuditError):
        append_record(directory, {"run_id": "r1"}, now=NOW)
    assert not os.path.exists(directory)
    append_record(directory, {"run_id": "r1", "operation": "deploy"}, now=NOW)
    with pytest.raises(AuditError):
        append_record(directory, {"run_id": "r2", "operation": "deploy", "bad": float("inf")}, now=NOW)
    assert len(lines_of(os.path.join(directory, "2026-11-26.jsonl"))) == 1


def test_check_mode_writes_nothing_and_predicts(tmp_path):
    directory = str(tmp_path / "audit")
    changed, path, _record = append_record(directory, {"run_id": "r1", "operation": "deploy"}, now=NOW, check_mode=True)
    assert changed and path.endswith("2026-11-26.jsonl") and not os.path.exists(directory)
    append_record(directory, {"run_id": "r1", "operation": "deploy"}, now=NOW)
    assert append_record(directory, {"run_id": "r1", "operation": "deploy"}, now=NOW, check_mode=True)[0] is False
    with pytest.raises(AuditError):
        append_record(directory, {"operation": "deploy"}, now=NOW, check_mode=True)


def test_a_file_where_the_directory_should_be_is_a_clear_error(tmp_path):
    (tmp_path / "audit").write_text("x")
    with pytest.raises(AuditError, match="not a directory"):
        append_record(str(tmp_path / "audit"), {"run_id": "r1", "operation": "deploy"}, now=NOW)


def test_concurrent_writers_never_interleave_or_duplicate(tmp_path):
    directory = str(tmp_path)
    barrier = threading.Barrier(8)
    errors = []
    big = "x" * 20000  # longer than a pipe buffer: one write per line must still be whole

    def write(number):
        barrier.wait()
        try:
            for run in range(5):
                append_record(directory, {"run_id": "r%d" % run, "operation": "deploy", "writer": number, "big": big}, now=NOW)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    records = lines_of(os.path.join(directory, "2026-11-26.jsonl"))
    assert sorted(r["run_id"] for r in records) == ["r%d" % run for run in range(5)]


# -- reading -------------------------------------------------------------------------------------------------


def test_corrupt_lines_are_reported_not_fatal():
    records, problems = parse_lines([b'{"run_id": "a", "operation": "deploy"}', b"{torn", b"", b"[1, 2]", b"\xff\xfe",
                                     b'{"run_id": "b", "operation": "rollback"}'], "f.jsonl")
    assert [r["run_id"] for r in records] == ["a", "b"]
    assert [p.split(":")[1] for p in problems] == ["2", "4", "5"]
    assert "not valid JSON" in problems[0] and "not an object" in problems[1] and "not UTF-8" in problems[2]


def write_day(directory, day, records, extra=""):
    with open(os.path.join(directory, day + ".jsonl"), "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        handle.write(extra)


def test_read_filters_and_orders_oldest_first(tmp_path):
    directory = str(tmp_path)
    write_day(directory, "2026-11-24", [{"run_id": "old", "operation": "deploy", "started": "2026-11-24T10:00:00Z"}])
    write_day(directory, "2026-11-26", [
        {"run_id": "late", "operation": "automatic_rollback", "started": "2026-11-26T20:00:00Z"},
        {"run_id": "early", "operation": "rollback", "started": "2026-11-26T08:00:00Z"},
        {"run_id": "timeless", "operation": "drill"},
    ], extra="{torn line\n")
    (tmp_path / "README").write_text("not a day file")
    records, files, problems = read_records(directory)
    assert [r["run_id"] for r in records] == ["old", "timeless", "early", "late"]
    assert [os.path.basename(f) for f in files] == ["2026-11-24.jsonl", "2026-11-26.jsonl"]
    assert len(problems) == 1 and "2026-11-26.jsonl:4" in problems[0]

    since = parse_since("24h", NOW)
    records, files, problems = read_records(directory, since=since)
    assert [r["run_id"] for r in records] == ["early", "late"]
    assert [os.path.basename(f) for f in files] == ["2026-11-26.jsonl"]  # the 24th cannot hold newer records
    assert any("timeless" in p and "no usable time" in p for p in problems)

    assert [r["run_id"] for r in read_records(directory, operations=["rollback", "automatic_rollback"])[0]] == ["early", "late"]
    assert [r["run_id"] for r in read_records(directory, run_id="old")[0]] == ["old"]


def test_reading_a_missing_directory_finds_nothing(tmp_path):
    assert read_records(str(tmp_path / "nothing-yet")) == ([], [], [])


def test_what_is_appended_is_read_back(tmp_path):
    directory = str(tmp_path)
    record = {"run_id": "r1", "operation": "rollback", "reason": "error rate", "started": "2026-11-26T21:00:00Z",
              "hosts": {"eu-1": {"from": "v2", "to": "v1", "outcome": "ok"}}}
    append_record(directory, record, now=NOW)
    records = read_records(directory, since=parse_since("1h", NOW))[0]
    assert records == [dict(record, recorded_at="2026-11-26T21:04:05Z")]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "run_id": st.text(alphabet="abcXYZ019-_ é", min_size=1, max_size=8).filter(str.strip),
    "operation": st.sampled_from(["deploy", "rollback", "drill"]),
    "event": st.sampled_from(["run", "start"]), "note": st.text(max_size=20),
}), max_size=12))
def test_property_each_run_and_event_is_written_once_in_order(tmp_path_factory, records):
    directory = str(tmp_path_factory.mktemp("audit"))
    for record in records:
        append_record(directory, record, now=NOW)
    written = read_records(directory)[0]
    expected, seen = [], set()
    for record in records:
        if (record["run_id"], record["event"]) not in seen:
            seen.add((record["run_id"], record["event"]))
            expected.append(dict(record, recorded_at="2026-11-26T21:04:05Z"))
    assert written == expected


# -- host history lines ---------------------------------------------------------------------------------------


def test_history_line_from_a_run_report_entry():
    summary = {"run_id": "r1", "operation": "automatic_rollback", "actor": "alice", "reason": "error rate 7%",
               "from": "v2", "to": "v1", "outcome": "switched", "started": 1795000000.5, "finished": 1795000060,
               "region": "eu", "wave": 2}
    assert history_line(summary, NOW) == {
        "time": "2026-11-26T21:04:05Z", "event": "run", "run_id": "r1", "operation": "automatic_rollback",
        "actor": "alice", "reason": "error rate 7%", "from": "v2", "to": "v1", "outcome": "switched",
        "started": "2026-11-18T11:06:40Z", "finished": "2026-11-18T11:07:40Z",
    }


def test_history_line_keeps_text_times_names_the_operator_and_fills_in_what_is_missing():
    line = history_line({"run_id": "r3", "operation": "deploy", "actor": {"name": "carol", "source": "awx"},
                         "started": "2026-11-26T21:00:00Z", "finished": None}, NOW)
    # Without its finish time, the host's part of the run finished when the line was written (its last call's unlock).
    assert line["actor"] == "carol" and line["started"] == "2026-11-26T21:00:00Z" and line["finished"] == line["time"]
    assert line["from"] is None and line["outcome"] is None and set(line) == {"time", "event", *SUMMARY_FIELDS}
    assert history_line({"started": 1e300}, NOW)["started"] is None


def test_record_time_reads_epoch_seconds_of_the_run_report():
    moment = record_time({"started": 1795000000.5})
    assert moment == datetime.datetime.fromtimestamp(1795000000.5, datetime.timezone.utc)
    assert record_time({"started": 1e300}) is None

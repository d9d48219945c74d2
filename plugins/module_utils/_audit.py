# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit trail: one JSON document per line, one file per UTC day, append-only.

    <directory>/<YYYY-MM-DD>.jsonl     records written on that UTC day, in the order they were written

A record names at least its ``run_id`` and ``operation``. ``event`` (default ``run``) tells records of one run apart
(for example a ``start`` and a final ``run`` record): a run id and event already in today's file are not written
again, so re-running the task that finishes a run does not duplicate its record.

A record's time (for ``since`` filters and ordering) is its ``started`` field, else ``recorded_at`` (added by
``append_record`` when the record has none), else ``time``.

Runs on the audit host with whatever Python 3 it has: no zoneinfo, no 3.11-only parsing here.
"""

from __future__ import annotations

import datetime
import json
import os
import re

from ansible_collections.fleetops.release.plugins.module_utils._atomic import fsync_dir
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, isoformat, utc_now

DEFAULT_DIRECTORY = "/var/lib/fleetops/audit"
DEFAULT_EVENT = "run"
DIR_MODE = 0o750
FILE_MODE = 0o640
REQUIRED_FIELDS = ("run_id", "operation")
TIME_FIELDS = ("started", "recorded_at", "time")
SUMMARY_FIELDS = ("run_id", "operation", "actor", "reason", "from", "to", "outcome", "started", "finished")

_DAY_FILE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})\.jsonl")
# Units in descending order, each at most once; a bare number (seconds) only on its own, so "1h30" is refused.
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNIT_SECONDS = (86400, 3600, 60, 1)


class AuditError(FleetError):
    """A record, duration or time the audit helpers cannot use; the message says what to give instead."""


# -- time ---------------------------------------------------------------------------------------------------


def parse_duration(value, what="duration"):
    """Seconds (int) of ``30``, ``"30"``, ``"45s"``, ``"30m"``, ``"2h"``, ``"7d"`` or combinations such as ``"1h30m"``.

    Negative numbers, fractions and booleans are refused: a guard rail with a mistyped limit must not silently
    become "off".
    """
    if isinstance(value, bool) or value is None:
        raise AuditError("%s must be a number of seconds or a duration such as 30m, 2h or 7d, got %r" % (what, value))
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        match = _DURATION_RE.fullmatch(text + "s" if text.isdigit() else text) if text else None
        if not match or not any(match.groups()):
            raise AuditError("%s %r is not a duration: give seconds (90) or a number with a unit, such as 45s, 30m, "
                             "2h, 7d or 1h30m" % (what, value))
        seconds = sum(int(part) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS) if part)
    if seconds < 0:
        raise AuditError("%s must not be negative, got %r" % (what, value))
    return seconds


def parse_time(text, default_tz=None, what="time"):
    """An aware datetime from ISO-8601 text (``2026-11-26T21:04:05Z``, ``...+01:00``, a date alone).

    Text without an offset is in ``default_tz`` (UTC unless given). Accepts ``Z`` on every Python 3, and the datetime
    and date objects YAML makes of unquoted times and dates.
    """
    if isinstance(text, datetime.datetime):
        moment = text
    elif isinstance(text, datetime.date):
        moment = datetime.datetime(text.year, text.month, text.day)
    else:
        if not isinstance(text, str) or not text.strip():
            raise AuditError("%s must be an ISO-8601 time such as 2026-11-26T21:04:05Z, got %r" % (what, text))
        raw = text.strip()
        if raw[-1:] in ("Z", "z"):
            raw = raw[:-1] + "+00:00"
        if len(raw) > 10 and raw[10] == " ":
            raw = raw[:10] + "T" + raw[11:]
        try:
            moment = datetime.datetime.fromisoformat(raw)
        except ValueError:
            raise AuditError("%s %r is not an ISO-8601 time; write it like 2026-11-26T21:04:05Z or "
                             "2026-11-26T22:04:05+01:00" % (what, text))
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=default_tz or datetime.timezone.utc)
    return moment


def parse_since(value, now=None):
    """The moment a ``since`` filter starts: an ISO-8601 time, or a duration back from ``now`` (``24h``, ``7d``)."""
    now = now or utc_now()
    try:
        return now - datetime.timedelta(seconds=parse_duration(value, "since"))
    except AuditError:
        pass
    try:
        return parse_time(value, what="since")
    except AuditError:
        raise AuditError("since %r is neither a time (2026-11-26T21:04:05Z) nor a duration back from now (30m, 24h, 7d)"
                         % (value,))


def record_time(record):
    """The time of a record (see the module docstring), or None when it has no usable one."""
    for field in TIME_FIELDS:
        value = record.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            # The run report keeps its times as seconds since the epoch.
            try:
                return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
            except (OverflowError, OSError, ValueError):
                return None
        if value:
            try:
                return parse_time(value, what=field)
            except AuditError:
                return None
    return None


# -- files --------------------------------------------------------------------------------------------------


def day_file_name(moment):
    """``YYYY-MM-DD.jsonl`` of the UTC date of ``moment``."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d") + ".jsonl"


def day_file_path(directory, moment):
    return os.path.join(directory, day_file_name(moment))


def day_of_file(name):
    """The date a day file holds, or None for any other file name."""
    match = _DAY_FILE_RE.fullmatch(name)
    if not match:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def record_key(record):
    return (str(record.get("run_id")), str(record.get("event") or DEFAULT_EVENT))


def serialise(record):
    """The record as one JSON line (without newline); refuses what is not a loggable audit record."""
    if not isinstance(record, dict):
        raise AuditError("an audit record must be a dict (a JSON object), got %s" % type(record).__name__)
    missing = [field for field in REQUIRED_FIELDS if not isinstance(record.get(field), str) or not record[field].strip()]
    if missing:
        raise AuditError("the audit record lacks %s (a non-empty string each); set them, for example run_id: "
                         "\"{{ fleet_run_id }}\" and operation: \"{{ fleet_operation }}\"" % " and ".join(missing))
    try:
        # allow_nan=False: NaN/Infinity are not JSON, and other readers of the trail would choke on them.
        return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise AuditError("the audit record is not JSON-serialisable (%s); pass plain strings, numbers, booleans, "
                         "lists and dicts only" % exc)


def parse_lines(lines, source):
    """Records of the lines of one file, and a problem text per line that is not a JSON object (never raises)."""
    records, problems = [], []
    for number, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("%s:%d: not UTF-8 text; line skipped" % (source, number))
                continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append("%s:%d: not valid JSON (%s); line skipped" % (source, number, exc))
            continue
        if not isinstance(record, dict):
            problems.append("%s:%d: a JSON %s, not an object; line skipped" % (source, number, type(record).__name__))
            continue
        records.append(record)
    return records, problems


def read_day_file(path):
    """``(records, problems)`` of one day file; a missing file has no records."""
    try:
        with open(path, "rb") as handle:
            return parse_lines(handle.read().split(b"\n"), path)
    except FileNotFoundError:
        return [], []


def filter_records(records, since=None, operations=None, run_id=None):
    """Records matching every filter given, oldest first.

    ``records`` is a list of ``(record, fallback_time)``; ``fallback_time`` (the start of its file's day) places a
    record without a time of its own; equal times keep the order of ``records``. Returns ``(records, problems)``; with ``since``, a record without a usable
    time cannot be placed and is left out with a problem.
    """
    kept, problems = [], []
    for index, (record, fallback) in enumerate(records):
        if operations and record.get("operation") not in operations:
            continue
        if run_id is not None and record.get("run_id") != run_id:
            continue
        moment = record_time(record)
        if since is not None:
            if moment is None:
                problems.append("record of run %s (%s) has no usable time (%s); left out by the since filter"
                                % (record.get("run_id"), record.get("operation"), "/".join(TIME_FIELDS)))
                continue
            if moment < since:
                continue
        kept.append(((moment or fallback), index, record))
    kept.sort(key=lambda item: (item[0], item[1]))
    return [record for _moment, _index, record in kept], problems


def read_records(directory, since=None, operations=None, run_id=None):
    """Read the day files of ``directory`` (only those that can hold records since ``since``).

    Returns ``(records, files, problems)``: matching records oldest first, the files read, and a text per line or file
    that could not be read. Never raises for bad content; a missing directory has no records.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return [], [], []
    except OSError as exc:
        raise AuditError("cannot list the audit directory %s (%s); check that it is a directory the task's user may "
                         "read (become?)" % (directory, exc))
    # A record written on day D has a time <= D's end, so files of days before since's date hold nothing newer.
    first_day = since.astimezone(datetime.timezone.utc).date() if since is not None else None
    entries, files, problems = [], [], []
    for day, name in sorted((day_of_file(name), name) for name in names if day_of_file(name) is not None):
        if first_day is not None and day < first_day:
            continue
        path = os.path.join(directory, name)
        fallback = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc)
        try:
            records, bad = read_day_file(path)
        except OSError as exc:
            problems.append("%s: cannot be read (%s); file skipped" % (path, exc))
            continue
        files.append(path)
        problems.extend(bad)
        entries.extend((record, fallback) for record in records)
    records, skipped = filter_records(entries, since=since, operations=operations, run_id=run_id)
    return records, files, problems + skipped


# -- writing ------------------------------------------------------------------------------------------------


def _ensure_directory(directory):
    """Create the audit directory (0750) and its missing parents; fsync the parent of each one made."""
    missing = []
    path = os.path.abspath(directory)
    while not os.path.isdir(path):
        if os.path.lexists(path):
            raise AuditError("%s exists and is not a directory; point the audit directory elsewhere or remove it" % path)
        missing.append(path)
        path = os.path.dirname(path)
    for path in reversed(missing):
        try:
            os.mkdir(path, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(path, DIR_MODE)  # mkdir's mode is cut by the umask
        fsync_dir(os.path.dirname(path))


def append_record(directory, record, now=None, check_mode=False):
    """Append ``record`` as one line to today's file under ``directory``, unless its run id and event are there already.

    ``recorded_at`` (now, UTC) is added when the record has none. Returns ``(changed, path, record)``; ``record`` is what
    was (or would be) written, or the record already in the file. Durable: O_APPEND under an exclusive flock(2), fsync of
    the file, and of the directory when the file was created. Nothing is written when the record is refused.
    """
    import fcntl  # POSIX only; imported here so the pure helpers stay importable anywhere

    now = now or utc_now()
    record = dict(record) if isinstance(record, dict) else record
    if isinstance(record, dict) and not record.get("recorded_at"):
        record["recorded_at"] = isoformat(now)
    line = serialise(record)
    path = day_file_path(directory, now)
    key = record_key(record)
    if check_mode:
        existing = [r for r in read_day_file(path)[0] if record_key(r) == key]
        return (not existing), path, (existing[0] if existing else record)
    _ensure_directory(directory)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, FILE_MODE)
        created = True
    except FileExistsError:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
        created = False
    try:
        if created:
            os.fchmod(fd, FILE_MODE)  # the umask may have cut the mode given to open
        fcntl.flock(fd, fcntl.LOCK_EX)
        # Under the lock: nobody appends between the duplicate check and the write.
        with os.fdopen(os.dup(fd), "rb") as reader:
            reader.seek(0)
            existing = [r for r in parse_lines(reader.read().split(b"\n"), path)[0] if record_key(r) == key]
        if existing:
            return False, path, existing[0]
        data = (line + "\n").encode("utf-8")
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)  # also drops the flock
    if created:
        fsync_dir(os.path.dirname(os.path.abspath(path)))
    return True, path, record


# -- host history -------------------------------------------------------------------------------------------


def history_line(summary, now=None):
    """The line for a host's ``.fleet/history.jsonl`` from a run's summary for that host (``event: run``).

    Keeps the keys of ``SUMMARY_FIELDS`` (missing ones are None; others are dropped), turns epoch seconds in
    ``started`` and ``finished`` into ISO 8601 text, and stamps the line with ``time``. ``actor`` may be a name or the
    operator's dict (its ``name`` is kept). Without ``finished``, the host's part of the run finished now: a line
    written by the host's last call of the run (an activation's or a mark's ``unlock``) is stamped then.
    """
    line = {"time": isoformat(now or utc_now()), "event": "run"}
    for field in SUMMARY_FIELDS:
        value = summary.get(field)
        if field in ("started", "finished") and isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = record_time({"started": value})
            value = isoformat(moment) if moment is not None else None
        elif field == "actor" and isinstance(value, dict):
            value = value.get("name")
        line[field] = value
    if line.get("finished") is None:
        line["finished"] = line["time"]
    return line

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Guard rails for starting a run: who runs it, and whether it may start now.

Pure functions: the caller passes the OS user, the environment's job id, the AWX variables and ``now``; nothing here
reads the clock, the environment or files. Used on the controller (action plugin ``run_guard``).

Trust model (who is the operator)
---------------------------------
An extra variable alone is never enough to claim an identity, because anybody who can start a playbook can pass any
``-e``:

* Outside AWX the operator is the controller's OS user: the account of the effective uid of the ansible-playbook
  process (``pwd.getpwuid(os.geteuid())``), not ``$USER``/``$LOGNAME`` and not a variable.
* Inside AWX the operator is AWX's ``awx_user_name`` (for a scheduled or webhook launch, which has no user, the
  schedule or the webhook: ``schedule:<name>``, ``webhook:<template>``), accepted only when the job really runs under
  AWX: ``JOB_ID`` equals ``awx_job_id``, ``AWX_PRIVATE_DATA_DIR`` is AWX's folder of that job and ansible-runner's
  artifact directory of that job exists beside it (or at ``/runner`` in an execution environment); the proof in
  detail is in ``module_utils/_awx.py``. Otherwise every ``awx_*`` variable is ignored, the OS user counts, and a
  warning says so. Since AWX 20.0.1 AWX applies its own ``awx_*`` variables after launch-time extra variables, so
  they cannot be overridden inside a job.
* No option of ``run_guard`` names the operator, and every plugin that records who did something determines it
  itself on the controller (``plugins/plugin_utils/_identity.py``).

Limits: whoever controls the controller's environment, files and variables together (their own shell) can still
claim a name by imitating an AWX job; the controller account is the boundary outside AWX.

The fleet policy (``/etc/fleetops/policy.yml`` on the fleet lock host, see ``parse_policy``) holds the guard rails;
variables may only tighten it (``merge_policy``).
"""

from __future__ import annotations

import datetime

from ansible_collections.fleetops.release.plugins.module_utils import _awx
from ansible_collections.fleetops.release.plugins.module_utils._audit import (
    AuditError,
    parse_duration,
    parse_time,
    record_time,
)
from ansible_collections.fleetops.release.plugins.module_utils._drill import freshness as drill_freshness
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, isoformat

OPERATIONS = ("deploy", "rollback", "automatic_rollback", "drill", "adopt")
REASON_OPERATIONS = ("rollback", "automatic_rollback")  # require_reason applies to these
FROZEN_OPERATIONS = ("deploy",)  # freeze windows never stop a rollback or a drill
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = dict([(day, index) for index, day in enumerate(DAYS)]
                  + [(name, index) for index, name in enumerate(
                      ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))])
_WINDOW_KEYS = {"absolute": {"name", "start", "end", "timezone"}, "recurring": {"name", "days", "from", "to", "timezone"}}
AWX_VARS = _awx.META_VARS
UTC = datetime.timezone.utc
# Overlapping windows are followed end to end to find when the freeze lifts; more than this many is a config error.
_MAX_CHAINED_WINDOWS = 1000


class GuardError(FleetError):
    """A guard rail is configured wrongly (a bad window, duration or limit); the message says how to fix it."""


# -- the operator ---------------------------------------------------------------------------------------------


def resolve_operator(os_user, environ, awx_vars, artifact_dir_exists=False):
    """Who runs this: ``(operator, warnings)``; see the trust model in the module docstring and, for the proof of an
    AWX job and what an AWX operator records, ``module_utils/_awx.py``.

    ``os_user`` is the controller's OS user (of the effective uid), ``environ`` the environment variables
    ``JOB_ID``, ``AWX_PRIVATE_DATA_DIR`` and ``AWX_ISOLATED_DATA_DIR`` (missing ones are unset), ``awx_vars`` the
    play's variables (only ``awx_*`` are read), ``artifact_dir_exists`` whether ``AWX_ISOLATED_DATA_DIR`` names an
    existing directory (the caller checks).
    """
    return _awx.resolve(os_user, environ or {}, awx_vars, artifact_dir_exists)


# -- freeze windows -------------------------------------------------------------------------------------------


def load_zone(name, where):
    """A zoneinfo time zone; imported here so that the rest of this file needs no Python 3.9."""
    try:
        from zoneinfo import ZoneInfo  # pylint: disable=import-outside-toplevel
    except ImportError:  # pragma: no cover - the controller runs Python >= 3.11
        raise GuardError("%s: time zones need Python 3.9 or later on the controller" % where)
    if not isinstance(name, str) or not name.strip():
        raise GuardError("%s: timezone must be a zone name such as Europe/Berlin or UTC, got %r" % (where, name))
    try:
        return ZoneInfo(name.strip())
    except (ValueError, LookupError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise GuardError("%s: unknown timezone %r; use an IANA zone name such as Europe/Berlin, America/New_York or UTC"
                         % (where, name))


def _clock(value, where, field):
    """A time of day from "HH:MM"; ``to`` may be "24:00" (the end of the day, returned as None)."""
    text = value if isinstance(value, str) else ""
    parts = text.strip().split(":")
    if len(parts) == 2 and all(part.isdigit() and len(part) == 2 for part in parts):
        hour, minute = int(parts[0]), int(parts[1])
        if hour < 24 and minute < 60:
            return datetime.time(hour, minute)
        if field == "to" and (hour, minute) == (24, 0):
            return None
    raise GuardError("%s: %s must be a time of day as \"HH:MM\" (00:00 to 23:59%s, quoted in YAML), got %r"
                     % (where, field, "; or 24:00 for the end of the day" if field == "to" else "", value))


def normalize_window(window, index):
    """Check one freeze window and return it in a canonical form; GuardError says what is wrong with it.

    Absolute: ``{name, start, end[, timezone]}`` with ISO-8601 times (without an offset they are in ``timezone``,
    default UTC); ``end`` must be after ``start``.
    Recurring: ``{name, days, from, to[, timezone]}``: on each listed day (``mon``..``sun``; all days when omitted)
    from ``from`` to ``to`` ("HH:MM" local time in ``timezone``, default UTC; ``to`` may be "24:00"). ``to`` earlier
    than ``from`` crosses midnight: the window ends on the next day (``fri 22:00-06:00`` ends on Saturday morning).
    """
    where = "freeze window %d" % (index + 1)
    if not isinstance(window, dict):
        raise GuardError("%s must be a dict ({name, start, end} or {name, days, from, to, timezone}), got %r" % (where, window))
    name = window.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise GuardError("%s: name must be a non-empty string, got %r" % (where, name))
    name = name.strip() if name else "#%d" % (index + 1)
    where = "freeze window %d (%s)" % (index + 1, name)
    kind = "absolute" if ("start" in window or "end" in window) else "recurring"
    if kind == "absolute" and any(key in window for key in ("days", "from", "to")):
        raise GuardError("%s mixes start/end (a one-off window) with days/from/to (a recurring one); use one kind" % where)
    unknown = sorted(set(window) - _WINDOW_KEYS[kind])
    if unknown:
        raise GuardError("%s has unknown key(s) %s; a %s window has %s" % (
            where, ", ".join(map(str, unknown)), "one-off" if kind == "absolute" else "recurring",
            ", ".join(sorted(_WINDOW_KEYS[kind]))))
    zone_name = window.get("timezone") or "UTC"
    zone = load_zone(zone_name, where)
    if kind == "absolute":
        for field in ("start", "end"):
            if not window.get(field):
                raise GuardError("%s needs both start and end (ISO-8601 times such as 2026-12-20T00:00:00+01:00)" % where)
        try:
            start = parse_time(window["start"], zone, "%s: start" % where).astimezone(UTC)
            end = parse_time(window["end"], zone, "%s: end" % where).astimezone(UTC)
        except AuditError as exc:
            raise GuardError(str(exc))
        if end <= start:
            raise GuardError("%s ends (%s) before or when it starts (%s); check the dates" % (where, isoformat(end), isoformat(start)))
        return {"name": name, "kind": kind, "start": start, "end": end, "timezone": zone_name}
    for field in ("from", "to"):
        if field not in window:
            raise GuardError("%s needs from and to (\"HH:MM\"), and optionally days and timezone; or start and end "
                             "for a one-off window" % where)
    days = window.get("days")
    if days is None:
        day_numbers = list(range(7))
    else:
        if isinstance(days, str) or not isinstance(days, (list, tuple)) or not days:
            raise GuardError("%s: days must be a non-empty list of mon, tue, wed, thu, fri, sat, sun, got %r" % (where, days))
        day_numbers = []
        for day in days:
            number = _DAY_NAMES.get(day.strip().lower()) if isinstance(day, str) else None
            if number is None:
                raise GuardError("%s: %r is not a day; use mon, tue, wed, thu, fri, sat or sun" % (where, day))
            day_numbers.append(number)
    start_clock = _clock(window["from"], where, "from")
    end_clock = _clock(window["to"], where, "to")
    if start_clock == end_clock:
        raise GuardError("%s: from and to are both %s; a window needs a length (for whole days use from \"00:00\" "
                         "to \"24:00\")" % (where, window["from"]))
    # "to" at or before "from" (or 24:00) ends on the day after the listed day.
    crosses = end_clock is None or end_clock < start_clock
    return {"name": name, "kind": kind, "days": sorted(set(day_numbers)), "from": start_clock,
            "to": end_clock or datetime.time(0, 0), "crosses": crosses, "timezone": zone_name, "zone": zone}


def normalize_windows(windows):
    if windows is None:
        return []
    if not isinstance(windows, (list, tuple)):
        raise GuardError("freeze windows must be a list of windows, got %r" % (windows,))
    return [normalize_window(window, index) for index, window in enumerate(windows)]


def _local(day, clock, zone):
    """The UTC moment of wall-clock ``clock`` on ``day`` in ``zone``.

    A time skipped by a DST change (02:30 on the spring-forward night in Europe/Berlin) maps to the moment the clock
    passes it (03:30 local); a time that happens twice (the fall-back night) means its first occurrence (fold=0).
    """
    return datetime.datetime.combine(day, clock).replace(tzinfo=zone).astimezone(UTC)


def occurrences(window, now):
    """``(start, end)`` in UTC of the occurrences of ``window`` that could contain ``now``."""
    if window["kind"] == "absolute":
        return [(window["start"], window["end"])]
    zone = window["zone"]
    today = now.astimezone(zone).date()
    crosses = window["crosses"]
    spans = []
    for offset in (-1, 0):  # an occurrence that started yesterday can still run (crossing midnight)
        day = today + datetime.timedelta(days=offset)
        if day.weekday() not in window["days"]:
            continue
        end_day = day + datetime.timedelta(days=1) if crosses else day
        spans.append((_local(day, window["from"], zone), _local(end_day, window["to"], zone)))
    return spans


def window_end(window, now):
    """The end (UTC) of the occurrence of ``window`` that contains ``now``, or None when it is not active."""
    now = now.astimezone(UTC)
    ends = [end for start, end in occurrences(window, now) if start <= now < end]
    return max(ends) if ends else None


def active_windows(windows, now):
    """``[(window, end)]`` of the normalised windows active at ``now``."""
    found = []
    for window in windows:
        end = window_end(window, now)
        if end is not None:
            found.append((window, end))
    return found


def freeze_lifts_at(windows, now):
    """When no window is active any more, following windows that overlap or touch; None when none is active now."""
    moment = now.astimezone(UTC)
    lifted = None
    for _step in range(_MAX_CHAINED_WINDOWS):
        active = active_windows(windows, moment)
        if not active:
            return lifted
        moment = lifted = max(end for _window, end in active)
    raise GuardError("the freeze windows chain into more than %d back-to-back occurrences (a permanent freeze?); "
                     "check fleet_freeze_windows" % _MAX_CHAINED_WINDOWS)


# -- automatic rollback anti-flap ------------------------------------------------------------------------------


def automatic_rollback_starts(recent_runs, exclude_run_id=None):
    """``(starts, warnings)``: the start time of each other automatic rollback run (several records of one run count
    once, at its earliest time), newest first as ``[(start, run_id)]``."""
    starts, warnings = {}, []
    for record in recent_runs or []:
        if not isinstance(record, dict) or record.get("operation") != "automatic_rollback":
            continue
        run_id = record.get("run_id")
        if exclude_run_id and run_id == exclude_run_id:
            continue
        moment = record_time(record)
        if moment is None:
            warnings.append("automatic rollback record of run %s has no usable start time; it is not counted" % run_id)
            continue
        key = run_id or "unnamed run at %s" % isoformat(moment)
        if key not in starts or moment < starts[key]:
            starts[key] = moment.astimezone(UTC)
    ordered = sorted(((moment, run_id) for run_id, moment in starts.items()), reverse=True)
    return ordered, warnings


def _duration(value, what, allow_none=False):
    if value is None and allow_none:
        return None
    try:
        return parse_duration(value, what)
    except AuditError as exc:
        raise GuardError(str(exc))


def _anti_flap_settings(cooldown, limit, span):
    """``(cooldown seconds, max, window seconds)`` checked; GuardError says what is wrong."""
    cooldown = _duration(cooldown if cooldown is not None else 0, "auto_rollback_cooldown")
    if limit is None:
        limit = 0
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise GuardError("auto_rollback_max must be a whole number of rollbacks (0 = no limit), got %r" % (limit,))
    span = _duration(span, "auto_rollback_window", allow_none=True)
    if limit and not span:
        raise GuardError("auto_rollback_max=%d needs auto_rollback_window (the span it counts over, such as 1h or 24h)" % limit)
    return cooldown, limit, span


def _drill_settings(max_age, action):
    """``(max age seconds, action)`` of the drill freshness rule checked; GuardError says what is wrong."""
    age = _duration(max_age if max_age not in (None, "") else 0, "drill_max_age")
    action = action or "warn"
    if action not in DRILL_MAX_AGE_ACTIONS:
        raise GuardError("drill_max_age_action must be warn or refuse, got %r" % (action,))
    return age, action


def _fmt_seconds(seconds):
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


# -- the decision ----------------------------------------------------------------------------------------------


def evaluate(operation, operator, now, allowed_operators=None, reason=None, require_reason=False, freeze_windows=None,
             recent_runs=None, auto_rollback_cooldown=0, auto_rollback_max=None, auto_rollback_window=None, force=False,
             run_id=None, drill_max_age=0, drill_max_age_action="warn", drills=None, drill_group=None,
             production_hosts=()):
    """Decide whether a run may start.

    Raises GuardError for a wrong setting that guards this operation (bad freeze windows for a deploy, bad anti-flap
    settings for an automatic rollback): nothing is decided then. A wrong setting that does not guard it is a warning.

    Returns ``{allowed, refusals: [{rule, message}], forced, freeze_window, warnings, msg}``. Rules:

    * ``operator``: with ``allowed_operators`` non-empty, ``operator["name"]`` must be in it (every operation).
    * ``reason``: with ``require_reason``, a rollback or automatic_rollback needs a non-blank ``reason``.
    * ``freeze``: a deploy is refused while a freeze window is active (``force`` does not help).
    * ``cooldown``: an automatic_rollback is refused when another automatic rollback started less than
      ``auto_rollback_cooldown`` ago; ``force`` overrides this rule only, and ``forced`` says so.
    * ``max``: an automatic_rollback is refused when ``auto_rollback_max`` or more started within
      ``auto_rollback_window`` (``force`` does not help: a flapping fleet needs a person).
    * ``drill``: with ``drill_max_age``, a deploy is warned, or with ``drill_max_age_action`` refuse and
      ``production_hosts`` refused, when the newest successful rollback drill (of ``drill_group``, or of any group) in
      ``drills`` (drill_info's summaries; None: none was read) finished longer ago (``force`` does not help).
    ``recent_runs`` are audit records; ``run_id`` (this run) is never counted against itself.
    """
    if operation not in OPERATIONS:
        raise GuardError("operation must be one of %s, got %r" % (", ".join(OPERATIONS), operation))
    now = now.astimezone(UTC)
    warnings = []
    # A wrong setting stops only the operations it guards: a typo in the freeze windows must not block an urgent
    # rollback, nor a wrong anti-flap limit a deploy. For the others it is a warning.
    try:
        windows = normalize_windows(freeze_windows)
    except GuardError as exc:
        if operation in FROZEN_OPERATIONS:
            raise
        warnings.append("%s; fix it before the next deploy (a %s is not subject to freeze windows)" % (exc, operation))
        windows = []
    try:
        cooldown, limit, span = _anti_flap_settings(auto_rollback_cooldown, auto_rollback_max, auto_rollback_window)
    except GuardError as exc:
        if operation == "automatic_rollback":
            raise
        warnings.append("%s; fix it before the next automatic rollback" % exc)
        cooldown, limit, span = 0, 0, None
    allowed_list = [str(name) for name in (allowed_operators or [])]
    name = operator.get("name")

    refusals = []
    forced = False
    if allowed_list and name not in allowed_list:
        refusals.append({"rule": "operator", "message": (
            "%s (%s) may not run %s; only %s may: ask one of them to run it, or have %s added to allowed_operators in the "
            "fleet policy (%s on the fleet lock host) and to fleet_allowed_operators where that is set"
            % (name, "AWX user" if operator.get("source") == "awx" else "OS user on the controller", operation,
               ", ".join(allowed_list), name, POLICY_PATH))})
    if require_reason and operation in REASON_OPERATIONS and not (isinstance(reason, str) and reason.strip()):
        refusals.append({"rule": "reason", "message": (
            "a %s needs a reason (fleet_require_reason is on): set fleet_reason, for example -e fleet_reason=\"error rate "
            "after 2026.11.26-1\"" % operation.replace("_", " "))})

    freeze_name = None
    if operation in FROZEN_OPERATIONS and windows:
        active = active_windows(windows, now)
        if active:
            freeze_name = active[0][0]["name"]
            lifts = freeze_lifts_at(windows, now)
            refusals.append({"rule": "freeze", "message": (
                "deploys are frozen by %s until %s: wait until then, or change freeze_windows of the fleet policy "
                "or fleet_freeze_windows, wherever the window is; rollbacks are always allowed"
                % (", ".join("window %r" % window["name"] for window, _end in active), isoformat(lifts)))})

    if operation == "automatic_rollback" and (cooldown or limit):
        starts, skipped = automatic_rollback_starts(recent_runs, exclude_run_id=run_id)
        warnings.extend(skipped)
        if cooldown and starts:
            last, last_run = starts[0]
            if now - last < datetime.timedelta(seconds=cooldown):
                until = last + datetime.timedelta(seconds=cooldown)
                message = ("the last automatic rollback (run %s) started at %s, within the cooldown of %s: wait until %s "
                           "or -e fleet_force=true" % (last_run, isoformat(last), _fmt_seconds(cooldown), isoformat(until)))
                if force:
                    forced = True
                    warnings.append("forced past the automatic rollback cooldown: " + message)
                else:
                    refusals.append({"rule": "cooldown", "message": message})
        if limit:
            inside = [(moment, rid) for moment, rid in starts if now - moment < datetime.timedelta(seconds=span)]
            if len(inside) >= limit:
                oldest = min(moment for moment, _rid in inside[:limit])
                # Once the oldest of the newest `limit` runs leaves the window, there is room for one more.
                until = oldest + datetime.timedelta(seconds=span)
                refusals.append({"rule": "max", "message": (
                    "%d automatic rollbacks started within the last %s (runs %s), the limit is %d: the fleet is flapping "
                    "and needs a person; investigate, then roll back by hand (operation rollback) if needed, or wait "
                    "until %s (fleet_force does not override this limit)" % (
                        len(inside), _fmt_seconds(span), ", ".join(rid for _moment, rid in inside), limit, isoformat(until)))})

    if operation == "deploy" and drill_max_age:
        stale = drill_freshness(drills or [], now.timestamp(), drill_max_age, group=drill_group or None)
        if not stale["fresh"]:
            if drill_max_age_action == "refuse" and production_hosts:
                refusals.append({"rule": "drill", "message": (
                    "%s; a deploy to production hosts (%s) is refused while fleet_drill_max_age_action is refuse: drill "
                    "first (playbooks/drill.yml), or lower drill_max_age / drill_max_age_action where they are set (the "
                    "fleet policy, or the variables)" % (stale["message"], ", ".join(production_hosts)))})
            else:
                warnings.append(stale["message"])

    if refusals:
        msg = "%s refused for %s (%d reason%s):\n%s" % (
            operation, name, len(refusals), "" if len(refusals) == 1 else "s",
            "\n".join("  - %s: %s" % (item["rule"], item["message"]) for item in refusals))
    else:
        msg = "%s allowed for %s%s" % (operation, name, " (forced past the cooldown)" if forced else "")
    return {"allowed": not refusals, "refusals": refusals, "forced": forced, "freeze_window": freeze_name,
            "warnings": warnings, "msg": msg}


# -- the fleet policy ------------------------------------------------------------------------------------------

POLICY_PATH = "/etc/fleetops/policy.yml"
POLICY_KEYS = ("allowed_operators", "require_reason", "freeze_windows", "auto_rollback_cooldown", "auto_rollback_max",
               "auto_rollback_window", "allow_force", "drill_max_age", "drill_max_age_action")
DRILL_MAX_AGE_ACTIONS = ("warn", "refuse")
PRODUCTION_ENVIRONMENTS = ("production", "prod")
# An operator name nobody can have (OS and AWX user names have no spaces): what an empty intersection allows.
NOBODY = "(nobody: the fleet policy and fleet_allowed_operators have no name in common)"


def parse_policy(document, where):
    """Check a fleet policy (the parsed YAML of /etc/fleetops/policy.yml) and return it with every key present.

    ``None`` (an empty file) is an empty policy. GuardError names ``where`` (host and path) and what is wrong.
    """
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise GuardError("%s must be a YAML mapping of %s, got %s" % (where, ", ".join(POLICY_KEYS), type(document).__name__))
    unknown = sorted(str(key) for key in set(document) - set(POLICY_KEYS))
    if unknown:
        raise GuardError("%s has unknown key(s) %s; a fleet policy has %s" % (where, ", ".join(unknown), ", ".join(POLICY_KEYS)))
    allowed = document.get("allowed_operators")
    if allowed is not None and (not isinstance(allowed, list) or not all(isinstance(name, str) and name.strip() for name in allowed)):
        raise GuardError("%s: allowed_operators must be a list of user names, got %r" % (where, allowed))
    for key in ("require_reason", "allow_force"):
        if document.get(key) is not None and not isinstance(document[key], bool):
            raise GuardError("%s: %s must be true or false, got %r" % (where, key, document[key]))
    windows = document.get("freeze_windows")
    if windows is not None and not isinstance(windows, list):
        raise GuardError("%s: freeze_windows must be a list of windows, got %r" % (where, windows))
    try:
        normalize_windows(windows)
        _anti_flap_settings(document.get("auto_rollback_cooldown"), document.get("auto_rollback_max"),
                            document.get("auto_rollback_window") or None)
        _drill_settings(document.get("drill_max_age"), document.get("drill_max_age_action"))
    except GuardError as exc:
        raise GuardError("%s: %s" % (where, exc))
    return {
        "allowed_operators": [name.strip() for name in allowed] if allowed else [],
        "require_reason": bool(document.get("require_reason")),
        "freeze_windows": list(windows or []),
        "auto_rollback_cooldown": document.get("auto_rollback_cooldown") or 0,
        "auto_rollback_max": document.get("auto_rollback_max") or 0,
        "auto_rollback_window": document.get("auto_rollback_window") or None,
        "allow_force": document.get("allow_force", True) is not False,
        "drill_max_age": document.get("drill_max_age") or 0,
        "drill_max_age_action": document.get("drill_max_age_action") or "warn",
    }


def merge_policy(policy, variables):
    """The guard rails in force: the fleet policy, tightened (never loosened) by the variables.

    Both are dicts with the keys of ``parse_policy`` (missing keys are "no rule"). Allowed operators: the
    intersection when both name operators (NOBODY when they share none), else whichever names some; freeze windows:
    both lists; require_reason: either; cooldown: the longer; the maximum of automatic rollbacks: the smaller limit,
    counted over the longer window; force: only when the policy allows it. Raises GuardError for a variable that is
    not a valid setting of its kind only where the policy needs it to compute the stricter value.
    """
    policy = policy or {}
    variables = variables or {}
    merged = {}
    mine = [str(name) for name in (policy.get("allowed_operators") or [])]
    theirs = [str(name) for name in (variables.get("allowed_operators") or [])]
    if mine and theirs:
        both = [name for name in mine if name in theirs]
        merged["allowed_operators"] = both or [NOBODY]
    else:
        merged["allowed_operators"] = mine or theirs
    merged["require_reason"] = bool(policy.get("require_reason")) or bool(variables.get("require_reason"))
    merged["freeze_windows"] = list(policy.get("freeze_windows") or []) + list(variables.get("freeze_windows") or [])
    cooldowns = [_duration(value, "auto_rollback_cooldown") for value in
                 (policy.get("auto_rollback_cooldown") or 0, variables.get("auto_rollback_cooldown") or 0)]
    merged["auto_rollback_cooldown"] = max(cooldowns)
    limits = [(source.get("auto_rollback_max") or 0, source.get("auto_rollback_window") or None) for source in (policy, variables)]
    active = [(limit, span) for limit, span in limits if limit]
    if active:
        merged["auto_rollback_max"] = min(limit for limit, _span in active)
        spans = [_duration(span, "auto_rollback_window", allow_none=True) for _limit, span in active]
        merged["auto_rollback_window"] = max(spans) if all(spans) else None
    else:
        merged["auto_rollback_max"], merged["auto_rollback_window"] = 0, None
    merged["allow_force"] = policy.get("allow_force", True) is not False
    # Drill freshness (issue 18): the shorter maximum age, and refuse when either says so.
    ages = [age for age in (_drill_settings(source.get("drill_max_age"), source.get("drill_max_age_action"))[0]
                            for source in (policy, variables)) if age]
    merged["drill_max_age"] = min(ages) if ages else 0
    actions = (policy.get("drill_max_age_action"), variables.get("drill_max_age_action"))
    merged["drill_max_age_action"] = "refuse" if "refuse" in actions else "warn"
    return merged

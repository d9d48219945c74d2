# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Guard rails: the operator's identity (trust model), freeze windows (midnight, DST), reasons, anti-flap."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetops.release.plugins.module_utils._guard import (
    NOBODY,
    GuardError,
    active_windows,
    evaluate,
    freeze_lifts_at,
    merge_policy,
    normalize_window,
    normalize_windows,
    parse_policy,
    resolve_operator,
    window_end,
)

UTC = datetime.timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
ALICE = {"name": "alice", "source": "os", "launched_by": "user", "awx_user_name": None, "awx_user_id": None,
         "awx_job_id": None, "awx_job_launch_type": None, "awx_job_template_id": None, "awx_job_template_name": None,
         "awx_workflow_job_id": None, "awx_workflow_job_name": None, "awx_schedule_name": None}
# A Thursday.
NOW = datetime.datetime(2026, 11, 26, 21, 4, 5, tzinfo=UTC)


def utc(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def berlin(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def window(**spec):
    return normalize_window(spec, 0)


def auto(run_id, started, event="run"):
    return {"run_id": run_id, "operation": "automatic_rollback", "event": event, "started": started}


# -- the operator (trust model) -------------------------------------------------------------------------------


PDD = "/tmp/awx_4821_x1y2"
PROVEN = {"JOB_ID": "4821", "AWX_PRIVATE_DATA_DIR": PDD, "AWX_ISOLATED_DATA_DIR": PDD + "/artifacts/4821"}


def test_outside_awx_the_os_user_counts():
    operator, warnings = resolve_operator("alice", {}, {})
    assert operator == ALICE and warnings == []


def test_awx_identity_is_accepted_when_the_environment_proves_the_job():
    operator, warnings = resolve_operator("runner", PROVEN, {
        "awx_user_name": "bob", "awx_job_id": 4821, "awx_job_template_name": "shop rollback"}, True)
    assert operator == dict(ALICE, name="bob", source="awx", awx_user_name="bob", awx_job_id="4821",
                            awx_job_template_name="shop rollback")
    assert warnings == []


@pytest.mark.parametrize("job_id_env, awx_job_id, why", [
    (None, 4821, "JOB_ID is not set"),
    ("", 4821, "JOB_ID is not set"),
    ("4822", 4821, "JOB_ID=4822 differs from awx_job_id=4821"),
    ("4821", None, "awx_job_id is not set"),
])
def test_awx_variables_alone_never_claim_an_identity(job_id_env, awx_job_id, why):
    environ = dict(PROVEN, JOB_ID=job_id_env)
    operator, warnings = resolve_operator("alice", environ, {"awx_user_name": "boss", "awx_job_id": awx_job_id}, True)
    assert operator == ALICE
    assert len(warnings) == 1 and why in warnings[0] and "ignored" in warnings[0] and "'alice'" in warnings[0]


def test_a_proven_awx_job_without_a_user_is_named_after_what_launched_it():
    operator, warnings = resolve_operator("runner", dict(PROVEN, JOB_ID="7", AWX_PRIVATE_DATA_DIR="/tmp/awx_7_a",
                                                         AWX_ISOLATED_DATA_DIR="/runner/artifacts/7"),
                                          {"awx_job_id": "7", "awx_job_template_name": "nightly",
                                           "awx_job_launch_type": "scheduled", "awx_schedule_name": "every night"}, True)
    assert operator["name"] == "schedule:every night" and operator["source"] == "awx" and operator["awx_job_id"] == "7"
    assert operator["launched_by"] == "schedule" and operator["awx_user_name"] is None and warnings == []


def test_job_id_equal_to_awx_job_id_is_not_enough_outside_awx():
    # Issue 14: JOB_ID=4242 ansible-playbook ... -e awx_job_id=4242 -e awx_user_name=alice, without AWX_PRIVATE_DATA_DIR.
    operator, warnings = resolve_operator("mallory", {"JOB_ID": "4242"}, {"awx_job_id": 4242, "awx_user_name": "alice"})
    assert operator == dict(ALICE, name="mallory")
    assert len(warnings) == 1 and "AWX_PRIVATE_DATA_DIR" in warnings[0] and "'mallory'" in warnings[0]


def test_no_awx_variables_no_warning_even_inside_a_job_environment():
    assert resolve_operator("alice", {"JOB_ID": "5"}, {})[1] == []


# -- operators and reasons --------------------------------------------------------------------------------------


def test_allowed_operators():
    assert evaluate("deploy", ALICE, NOW, allowed_operators=["alice", "carol"])["allowed"]
    verdict = evaluate("rollback", dict(ALICE, name="mallory"), NOW, allowed_operators=["alice", "carol"])
    assert not verdict["allowed"]
    assert verdict["refusals"][0]["rule"] == "operator"
    assert "ask one of them" in verdict["refusals"][0]["message"] and "alice, carol" in verdict["refusals"][0]["message"]
    assert evaluate("deploy", dict(ALICE, name="Alice"), NOW, allowed_operators=["alice"])["allowed"] is False
    assert evaluate("drill", dict(ALICE, name="anyone"), NOW, allowed_operators=[])["allowed"]
    # An adoption is judged too: only the allowed operators adopt a fleet.
    assert not evaluate("adopt", dict(ALICE, name="mallory"), NOW, allowed_operators=["alice"])["allowed"]
    assert evaluate("adopt", ALICE, NOW, allowed_operators=["alice"])["allowed"]


@pytest.mark.parametrize("operation, reason, allowed", [
    ("rollback", None, False), ("rollback", "  ", False), ("automatic_rollback", "", False),
    ("rollback", "error rate", True), ("deploy", None, True), ("drill", None, True),
])
def test_required_reason_applies_to_rollbacks(operation, reason, allowed):
    verdict = evaluate(operation, ALICE, NOW, reason=reason, require_reason=True)
    assert verdict["allowed"] is allowed
    if not allowed:
        assert verdict["refusals"] == [{"rule": "reason", "message": verdict["refusals"][0]["message"]}]
        assert "set fleet_reason" in verdict["msg"]
    assert evaluate(operation, ALICE, NOW, reason=reason, require_reason=False)["allowed"]


def test_every_refusal_is_listed_in_one_message():
    verdict = evaluate("deploy", dict(ALICE, name="mallory"), NOW, allowed_operators=["alice"],
                       freeze_windows=[{"name": "always", "start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}])
    assert [r["rule"] for r in verdict["refusals"]] == ["operator", "freeze"]
    assert verdict["msg"].startswith("deploy refused for mallory (2 reasons):")
    assert "  - operator: " in verdict["msg"] and "  - freeze: " in verdict["msg"]


def test_unknown_operation_is_an_error():
    with pytest.raises(GuardError, match="operation must be one of deploy, rollback, automatic_rollback, drill, adopt"):
        evaluate("upgrade", ALICE, NOW)


# -- freeze windows -------------------------------------------------------------------------------------------


def test_one_off_window_refuses_deploys_only():
    windows = [{"name": "year-end", "start": "2026-11-20T00:00:00+01:00", "end": "2026-12-01T00:00:00+01:00"}]
    verdict = evaluate("deploy", ALICE, NOW, freeze_windows=windows)
    assert not verdict["allowed"] and verdict["freeze_window"] == "year-end"
    assert "until 2026-11-30T23:00:00Z" in verdict["refusals"][0]["message"]
    for operation in ("rollback", "automatic_rollback", "drill", "adopt"):
        verdict = evaluate(operation, ALICE, NOW, freeze_windows=windows)
        assert verdict["allowed"] and verdict["freeze_window"] is None


def test_one_off_window_bounds_start_inclusive_end_exclusive():
    spec = window(name="w", start="2026-11-26T21:00:00Z", end="2026-11-26T22:00:00Z")
    assert window_end(spec, utc("2026-11-26T20:59:59")) is None
    assert window_end(spec, utc("2026-11-26T21:00:00")) == utc("2026-11-26T22:00:00")
    assert window_end(spec, utc("2026-11-26T22:00:00")) is None


def test_naive_one_off_times_are_in_the_windows_timezone():
    spec = window(name="w", start="2026-07-01T09:00:00", end="2026-07-01T17:00:00", timezone="Europe/Berlin")
    assert (spec["start"], spec["end"]) == (utc("2026-07-01T07:00:00"), utc("2026-07-01T15:00:00"))


def test_unquoted_yaml_times_work_as_one_off_bounds():
    spec = window(name="w", start=datetime.date(2026, 12, 20), end=datetime.datetime(2027, 1, 4, tzinfo=UTC),
                  timezone="Europe/Berlin")
    assert (spec["start"], spec["end"]) == (utc("2026-12-19T23:00:00"), utc("2027-01-04T00:00:00"))


def test_recurring_window_in_a_timezone():
    spec = window(name="office", days=["mon", "tue", "wed", "thu", "fri"], **{"from": "09:00", "to": "17:00"},
                  timezone="Europe/Berlin")
    assert window_end(spec, berlin("2026-11-26T08:59:00")) is None  # Thursday
    assert window_end(spec, berlin("2026-11-26T09:00:00")) == berlin("2026-11-26T17:00:00")
    assert window_end(spec, berlin("2026-11-28T10:00:00")) is None  # Saturday
    assert window_end(spec, utc("2026-11-26T16:30:00")) is None  # 17:30 in Berlin


def test_window_crossing_midnight_belongs_to_the_day_it_starts():
    spec = window(name="night", days=["fri"], **{"from": "22:00", "to": "06:00"})
    assert window_end(spec, utc("2026-11-27T23:00:00")) == utc("2026-11-28T06:00:00")  # Friday night
    assert window_end(spec, utc("2026-11-28T05:59:59")) == utc("2026-11-28T06:00:00")  # Saturday morning
    assert window_end(spec, utc("2026-11-28T06:00:00")) is None
    assert window_end(spec, utc("2026-11-27T03:00:00")) is None  # Friday morning belongs to Thursday night
    assert window_end(spec, utc("2026-11-28T23:00:00")) is None  # Saturday night


def test_to_2400_is_the_end_of_the_day():
    spec = window(name="friday evening", days=["fri"], **{"from": "18:00", "to": "24:00"})
    assert window_end(spec, utc("2026-11-27T23:59:59")) == utc("2026-11-28T00:00:00")
    assert window_end(spec, utc("2026-11-28T00:00:00")) is None
    whole = window(name="weekend", days=["sat", "sun"], **{"from": "00:00", "to": "24:00"})
    assert window_end(whole, utc("2026-11-29T12:00:00")) == utc("2026-11-30T00:00:00")


def test_days_default_to_every_day_and_accept_full_names():
    assert window(name="w", **{"from": "01:00", "to": "02:00"})["days"] == list(range(7))
    assert window(name="w", days=["Monday", "SUN"], **{"from": "01:00", "to": "02:00"})["days"] == [0, 6]


def test_dst_spring_forward_night_is_one_hour_shorter():
    # Europe/Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST (01:00 UTC).
    spec = window(name="night", days=["sat"], **{"from": "22:00", "to": "06:00"}, timezone="Europe/Berlin")
    start = utc("2026-03-28T21:00:00")
    end = window_end(spec, start)
    assert end == utc("2026-03-29T04:00:00")  # 06:00 CEST
    assert end - start == datetime.timedelta(hours=7)
    assert window_end(spec, start - datetime.timedelta(seconds=1)) is None


def test_dst_fall_back_night_is_one_hour_longer():
    # Europe/Berlin: 2026-10-25 03:00 CEST becomes 02:00 CET (01:00 UTC).
    spec = window(name="night", days=["sat"], **{"from": "22:00", "to": "06:00"}, timezone="Europe/Berlin")
    start = utc("2026-10-24T20:00:00")
    assert window_end(spec, start) == utc("2026-10-25T05:00:00")
    assert window_end(spec, utc("2026-10-25T01:30:00")) == utc("2026-10-25T05:00:00")  # the second 02:30


def test_dst_times_that_do_not_exist_or_occur_twice():
    skipped = window(name="w", days=["sun"], **{"from": "02:30", "to": "04:00"}, timezone="Europe/Berlin")
    # 02:30 does not exist on 2026-03-29: the window starts when the clock passes it (03:30 CEST = 01:30 UTC).
    assert window_end(skipped, utc("2026-03-29T01:29:59")) is None
    assert window_end(skipped, utc("2026-03-29T01:30:00")) == utc("2026-03-29T02:00:00")
    twice = window(name="w", days=["sun"], **{"from": "02:30", "to": "05:00"}, timezone="Europe/Berlin")
    # 02:30 happens twice on 2026-10-25: the first one (CEST, 00:30 UTC) starts the window.
    assert window_end(twice, utc("2026-10-25T00:30:00")) == utc("2026-10-25T04:00:00")
    assert window_end(twice, utc("2026-10-25T00:29:59")) is None


def test_freeze_lifts_after_overlapping_and_touching_windows():
    windows = normalize_windows([
        {"name": "friday evening", "days": ["fri"], "from": "18:00", "to": "24:00"},
        {"name": "weekend", "days": ["sat", "sun"], "from": "00:00", "to": "24:00"},
        {"name": "monday early", "days": ["mon"], "from": "00:00", "to": "06:00"},
    ])
    friday = utc("2026-11-27T19:00:00")
    assert freeze_lifts_at(windows, friday) == utc("2026-11-30T06:00:00")
    assert freeze_lifts_at(windows, utc("2026-11-27T17:00:00")) is None
    verdict = evaluate("deploy", ALICE, friday, freeze_windows=[
        {"name": "friday evening", "days": ["fri"], "from": "18:00", "to": "24:00"},
        {"name": "weekend", "days": ["sat", "sun"], "from": "00:00", "to": "24:00"}])
    assert verdict["freeze_window"] == "friday evening"
    assert "until 2026-11-30T00:00:00Z" in verdict["msg"]


def test_a_permanent_freeze_is_reported_not_looped_forever():
    windows = normalize_windows([{"name": "always", "from": "00:00", "to": "24:00"}])
    with pytest.raises(GuardError, match="permanent freeze"):
        freeze_lifts_at(windows, NOW)


@pytest.mark.parametrize("spec, error", [
    ("friday", "must be a dict"),
    ({"name": "w", "start": "2026-11-26T00:00:00Z"}, "needs both start and end"),
    ({"name": "w", "start": "2026-11-27T00:00:00Z", "end": "2026-11-26T00:00:00Z"}, "ends .* before or when it starts"),
    ({"name": "w", "start": "tomorrow", "end": "2026-11-26T00:00:00Z"}, "start 'tomorrow' is not an ISO-8601 time"),
    ({"name": "w", "start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z", "days": ["mon"]}, "mixes start/end"),
    ({"name": "w", "days": ["mon"], "form": "09:00", "to": "17:00"}, "unknown key.*form"),
    ({"name": "w", "days": ["mon"], "to": "17:00"}, "needs from and to"),
    ({"name": "w", "days": ["mon"], "from": "9:00", "to": "17:00"}, "from must be a time of day"),
    ({"name": "w", "days": ["mon"], "from": "09:00", "to": "25:00"}, "to must be a time of day"),
    ({"name": "w", "days": ["mon"], "from": "24:00", "to": "06:00"}, "from must be a time of day"),
    ({"name": "w", "days": ["mon"], "from": 540, "to": "17:00"}, "quoted in YAML"),
    ({"name": "w", "days": ["mon"], "from": "09:00", "to": "09:00"}, "both 09:00"),
    ({"name": "w", "days": ["funday"], "from": "09:00", "to": "17:00"}, "'funday' is not a day"),
    ({"name": "w", "days": "mon", "from": "09:00", "to": "17:00"}, "days must be a non-empty list"),
    ({"name": "w", "days": [], "from": "09:00", "to": "17:00"}, "days must be a non-empty list"),
    ({"name": "w", "from": "09:00", "to": "17:00", "timezone": "Mars/Olympus"}, "unknown timezone 'Mars/Olympus'"),
    ({"name": "", "from": "09:00", "to": "17:00"}, "name must be a non-empty string"),
])
def test_bad_windows_are_clear_errors(spec, error):
    with pytest.raises(GuardError, match=error):
        evaluate("deploy", ALICE, NOW, freeze_windows=[spec])


def test_bad_windows_never_block_a_rollback():
    for operation in ("rollback", "automatic_rollback", "drill"):
        verdict = evaluate(operation, ALICE, NOW, freeze_windows=[{"name": "w", "from": "9:00", "to": "17:00"}])
        assert verdict["allowed"] and "fix it before the next deploy" in verdict["warnings"][0]


def test_bad_window_names_its_position_and_name():
    with pytest.raises(GuardError, match=r"freeze window 2 \(second\)"):
        normalize_windows([{"name": "first", "from": "01:00", "to": "02:00"}, {"name": "second", "from": "x", "to": "02:00"}])


# -- window properties -------------------------------------------------------------------------------------

INSTANTS = st.datetimes(min_value=datetime.datetime(2024, 1, 1), max_value=datetime.datetime(2030, 12, 31),
                        timezones=st.just(UTC))
CLOCKS = st.tuples(st.integers(0, 23), st.integers(0, 59))
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])


def hhmm(clock):
    return "%02d:%02d" % clock


@settings(max_examples=300, deadline=None)
@given(INSTANTS, CLOCKS, CLOCKS, st.sets(st.integers(0, 6), min_size=1))
def test_property_utc_window_matches_the_wall_clock(now, start, end, days):
    if start == end:
        return
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    spec = window(name="w", days=[names[day] for day in days], **{"from": hhmm(start), "to": hhmm(end)})
    clock = (now.hour, now.minute)
    if start < end:
        expected = now.weekday() in days and start <= clock < end
    else:  # crosses midnight: the evening of a listed day, or the morning after one
        expected = ((now.weekday() in days and clock >= start)
                    or ((now.weekday() - 1) % 7 in days and clock < end))
    assert (window_end(spec, now) is not None) is expected


@settings(max_examples=300, deadline=None)
@given(INSTANTS, ZONES)
def test_property_daily_windows_follow_local_time_across_dst(now, zone):
    """Daytime and overnight windows away from the DST switch hours match the local clock on every day of the year."""
    local = now.astimezone(ZoneInfo(zone))
    clock = (local.hour, local.minute)
    day = window(name="day", **{"from": "09:00", "to": "17:00"}, timezone=zone)
    night = window(name="night", **{"from": "22:00", "to": "06:00"}, timezone=zone)
    assert (window_end(day, now) is not None) is ((9, 0) <= clock < (17, 0))
    assert (window_end(night, now) is not None) is (clock >= (22, 0) or clock < (6, 0))
    end = window_end(night, now)
    if end is not None:
        assert end > now and end.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "06:00"
        assert end - now <= datetime.timedelta(hours=9)  # 8 h, plus at most 1 h on a fall-back night


@settings(max_examples=200, deadline=None)
@given(INSTANTS, st.lists(st.tuples(CLOCKS, CLOCKS, st.sets(st.integers(0, 6), min_size=1, max_size=7), ZONES),
                          min_size=1, max_size=4), st.lists(st.floats(0, 1), min_size=1, max_size=5))
def test_property_freeze_lifts_at_the_first_free_moment(now, specs, fractions):
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    raw = [{"name": "w%d" % i, "from": hhmm(start), "to": hhmm(end), "days": [names[d] for d in sorted(days)], "timezone": zone}
           for i, (start, end, days, zone) in enumerate(specs) if start != end]
    windows = normalize_windows(raw)
    try:
        lifts = freeze_lifts_at(windows, now)
    except GuardError:
        return  # windows that chain for ever (every day, whole days): reported, not looped
    if lifts is None:
        assert active_windows(windows, now) == []
        return
    assert lifts > now and active_windows(windows, lifts) == []
    for fraction in fractions:  # every moment before the freeze lifts is frozen
        moment = now + (lifts - now) * fraction
        if moment < lifts:
            assert active_windows(windows, moment) != []


@settings(max_examples=200, deadline=None)
@given(INSTANTS, st.integers(1, 30 * 24 * 60), st.integers(0, 60 * 24 * 60))
def test_property_one_off_window(now, length_minutes, offset_minutes):
    start = now - datetime.timedelta(minutes=offset_minutes)
    end = start + datetime.timedelta(minutes=length_minutes)
    spec = window(name="w", start=start.isoformat(), end=end.isoformat())
    assert window_end(spec, now) == (end if start <= now < end else None)


# -- automatic rollback anti-flap ---------------------------------------------------------------------------


def test_cooldown_refuses_and_force_overrides_it():
    runs = [auto("r1", "2026-11-26T20:50:00Z"), auto("r0", "2026-11-26T10:00:00Z")]
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="30m")
    assert not verdict["allowed"] and verdict["refusals"][0]["rule"] == "cooldown"
    assert "run r1" in verdict["msg"] and "wait until 2026-11-26T21:20:00Z or -e fleet_force=true" in verdict["msg"]
    forced = evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="30m", force=True)
    assert forced["allowed"] and forced["forced"] and "forced past" in forced["warnings"][0]
    assert "forced" in forced["msg"]
    assert evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="10m")["allowed"]
    assert evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown=0)["allowed"]
    # Manual rollbacks and deploys are never held back by the cooldown.
    assert evaluate("rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="30m")["allowed"]


def test_force_without_a_cooldown_refusal_is_not_forced():
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=[], auto_rollback_cooldown="30m", force=True)
    assert verdict["allowed"] and not verdict["forced"]


def test_cooldown_counts_other_records_only():
    runs = [auto("r9", "2026-11-26T21:00:00Z"), {"run_id": "d1", "operation": "deploy", "started": "2026-11-26T21:00:00Z"},
            {"run_id": "m1", "operation": "rollback", "started": "2026-11-26T21:00:00Z"}]
    assert evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown=600, run_id="r9")["allowed"]
    assert not evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown=600, run_id="r10")["allowed"]


def test_a_record_in_the_future_counts_as_within_the_cooldown():
    runs = [auto("skewed", "2026-11-26T21:10:00Z")]
    assert not evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="5m")["allowed"]


def test_maximum_within_the_window_and_force_does_not_help():
    runs = [auto("a", "2026-11-26T12:00:00Z"), auto("b", "2026-11-26T15:00:00Z"), auto("c", "2026-11-26T18:00:00Z"),
            auto("c", "2026-11-26T18:05:00Z", event="start"), auto("old", "2026-11-25T12:00:00Z")]
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_max=3, auto_rollback_window="24h",
                       force=True)
    assert not verdict["allowed"] and [r["rule"] for r in verdict["refusals"]] == ["max"]
    message = verdict["refusals"][0]["message"]
    assert "3 automatic rollbacks started within the last 1d (runs c, b, a), the limit is 3" in message
    assert "wait until 2026-11-27T12:00:00Z" in message and "fleet_force does not override" in message
    assert not verdict["forced"]
    assert evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_max=4, auto_rollback_window="24h")["allowed"]
    assert evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_max=3, auto_rollback_window="6h")["allowed"]


def test_cooldown_and_maximum_together():
    runs = [auto("a", "2026-11-26T20:00:00Z"), auto("b", "2026-11-26T20:55:00Z")]
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown="30m",
                       auto_rollback_max=2, auto_rollback_window="2h", force=True)
    assert verdict["forced"] and [r["rule"] for r in verdict["refusals"]] == ["max"]


def test_records_without_a_start_time_are_warned_about():
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=[{"run_id": "x", "operation": "automatic_rollback"}],
                       auto_rollback_cooldown="30m")
    assert verdict["allowed"] and "no usable start time" in verdict["warnings"][0]


@pytest.mark.parametrize("options, error", [
    ({"auto_rollback_cooldown": "soon"}, "auto_rollback_cooldown 'soon' is not a duration"),
    ({"auto_rollback_cooldown": -1}, "must not be negative"),
    ({"auto_rollback_max": 3}, "needs auto_rollback_window"),
    ({"auto_rollback_max": -1, "auto_rollback_window": "1h"}, "whole number"),
    ({"auto_rollback_max": 2, "auto_rollback_window": "a while"}, "auto_rollback_window 'a while' is not a duration"),
])
def test_bad_anti_flap_settings_are_errors(options, error):
    with pytest.raises(GuardError, match=error):
        evaluate("automatic_rollback", ALICE, NOW, **options)
    verdict = evaluate("deploy", ALICE, NOW, **options)  # they do not guard a deploy: a warning
    assert verdict["allowed"] and "fix it before the next automatic rollback" in verdict["warnings"][0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 48 * 3600), max_size=8), st.integers(0, 6 * 3600), st.integers(0, 5), st.integers(1, 24 * 3600))
def test_property_anti_flap_counts(ages, cooldown, limit, span):
    runs = [auto("r%d" % i, (NOW - datetime.timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%SZ")) for i, age in enumerate(ages)]
    verdict = evaluate("automatic_rollback", ALICE, NOW, recent_runs=runs, auto_rollback_cooldown=cooldown,
                       auto_rollback_max=limit, auto_rollback_window=span)
    rules = [r["rule"] for r in verdict["refusals"]]
    assert ("cooldown" in rules) is bool(cooldown and ages and min(ages) < cooldown)
    assert ("max" in rules) is bool(limit and sum(1 for age in ages if age < span) >= limit)
    assert verdict["allowed"] is (rules == [])


# -- the fleet policy: variables may only tighten it ---------------------------------------------------------------


def test_parse_policy_fills_in_every_key_and_an_empty_file_is_no_rule():
    empty = parse_policy(None, "us-1:/etc/fleetops/policy.yml")
    assert empty == {"allowed_operators": [], "require_reason": False, "freeze_windows": [], "auto_rollback_cooldown": 0,
                     "auto_rollback_max": 0, "auto_rollback_window": None, "allow_force": True, "drill_max_age": 0,
                     "drill_max_age_action": "warn"}
    policy = parse_policy({"allowed_operators": [" alice ", "bob"], "require_reason": True, "allow_force": False}, "p")
    assert policy["allowed_operators"] == ["alice", "bob"] and policy["require_reason"] and not policy["allow_force"]


@pytest.mark.parametrize("document, message", [
    ([1, 2], "must be a YAML mapping"),
    ({"allowed_operator": ["alice"]}, "unknown key\\(s\\) allowed_operator"),
    ({"allowed_operators": "alice"}, "allowed_operators must be a list"),
    ({"require_reason": "yes"}, "require_reason must be true or false"),
    ({"freeze_windows": [{"name": "x", "from": "25:00", "to": "02:00"}]}, "freeze window 1"),
    ({"auto_rollback_max": 3}, "needs auto_rollback_window"),
    ({"drill_max_age": "a month"}, "drill_max_age"),
    ({"drill_max_age": "30d", "drill_max_age_action": "block"}, "drill_max_age_action must be warn or refuse"),
])
def test_parse_policy_refuses_a_wrong_policy_naming_it(document, message):
    with pytest.raises(GuardError, match="us-1:/etc/fleetops/policy.yml.*" + message):
        parse_policy(document, "us-1:/etc/fleetops/policy.yml")


def test_merge_allowed_operators_is_the_intersection_and_an_empty_variable_never_loosens():
    policy = parse_policy({"allowed_operators": ["alice", "bob"]}, "p")
    assert merge_policy(policy, {"allowed_operators": []})["allowed_operators"] == ["alice", "bob"]
    assert merge_policy(policy, {"allowed_operators": ["bob", "carol"]})["allowed_operators"] == ["bob"]
    assert merge_policy(policy, {"allowed_operators": ["carol"]})["allowed_operators"] == [NOBODY]
    assert merge_policy(parse_policy({}, "p"), {"allowed_operators": ["carol"]})["allowed_operators"] == ["carol"]
    verdict = evaluate("deploy", ALICE, NOW, allowed_operators=merge_policy(policy, {"allowed_operators": ["carol"]})["allowed_operators"])
    assert not verdict["allowed"] and "nobody" in verdict["msg"]


def test_merge_freeze_windows_are_the_union_and_require_reason_either():
    mine = {"name": "policy freeze", "start": "2026-11-26T00:00:00Z", "end": "2026-11-27T00:00:00Z"}
    theirs = {"name": "team freeze", "days": ["fri"], "from": "18:00", "to": "24:00"}
    policy = parse_policy({"freeze_windows": [mine], "require_reason": True}, "p")
    merged = merge_policy(policy, {"freeze_windows": [theirs], "require_reason": False})
    assert merged["freeze_windows"] == [mine, theirs] and merged["require_reason"] is True
    assert merge_policy(policy, {"freeze_windows": []})["freeze_windows"] == [mine]
    verdict = evaluate("deploy", ALICE, NOW, freeze_windows=merge_policy(policy, {})["freeze_windows"])
    assert not verdict["allowed"] and verdict["freeze_window"] == "policy freeze"
    assert merge_policy(parse_policy({}, "p"), {"require_reason": True})["require_reason"] is True


def test_merge_anti_flap_takes_the_stricter_of_each_limit():
    policy = parse_policy({"auto_rollback_cooldown": "30m", "auto_rollback_max": 3, "auto_rollback_window": "24h"}, "p")
    merged = merge_policy(policy, {"auto_rollback_cooldown": 0, "auto_rollback_max": 0})
    assert (merged["auto_rollback_cooldown"], merged["auto_rollback_max"], merged["auto_rollback_window"]) == (1800, 3, 86400)
    merged = merge_policy(policy, {"auto_rollback_cooldown": "2h", "auto_rollback_max": 5, "auto_rollback_window": "48h"})
    assert (merged["auto_rollback_cooldown"], merged["auto_rollback_max"], merged["auto_rollback_window"]) == (7200, 3, 172800)
    merged = merge_policy(policy, {"auto_rollback_max": 1, "auto_rollback_window": "1h"})
    assert (merged["auto_rollback_max"], merged["auto_rollback_window"]) == (1, 86400)


def drill(group, finished, ok=True):
    return {"run_id": "drill-" + finished, "group": group, "ok": ok, "finished_at": finished}


def test_merge_drill_freshness_takes_the_shorter_age_and_refuse_from_either():
    policy = parse_policy({"drill_max_age": "30d", "drill_max_age_action": "refuse"}, "p")
    merged = merge_policy(policy, {"drill_max_age": "", "drill_max_age_action": "warn"})
    assert (merged["drill_max_age"], merged["drill_max_age_action"]) == (30 * 86400, "refuse")
    merged = merge_policy(policy, {"drill_max_age": "7d"})
    assert merged["drill_max_age"] == 7 * 86400
    merged = merge_policy(parse_policy({"drill_max_age": "7d"}, "p"), {"drill_max_age": "30d", "drill_max_age_action": "refuse"})
    assert (merged["drill_max_age"], merged["drill_max_age_action"]) == (7 * 86400, "refuse")
    assert merge_policy(parse_policy({}, "p"), {})["drill_max_age"] == 0


def test_a_deploy_after_a_stale_drill_is_warned_and_refused_on_production_hosts_only():
    old = [drill("staging", "2026-10-01T00:00:00Z"), drill("staging", "2026-11-25T00:00:00Z", ok=False)]
    rules = dict(drill_max_age=30 * 86400, drills=old)
    warned = evaluate("deploy", ALICE, NOW, **rules)
    assert warned["allowed"] and any("longer ago than fleet_drill_max_age" in w for w in warned["warnings"])
    refused = evaluate("deploy", ALICE, NOW, drill_max_age_action="refuse", production_hosts=["eu-1"], **rules)
    assert not refused["allowed"] and refused["refusals"][0]["rule"] == "drill"
    assert "eu-1" in refused["msg"] and "refused while fleet_drill_max_age_action is refuse" in refused["msg"]
    # No production host among the run's: a warning only; a rollback is never held to it; a fresh drill passes.
    assert evaluate("deploy", ALICE, NOW, drill_max_age_action="refuse", production_hosts=[], **rules)["allowed"]
    assert evaluate("rollback", ALICE, NOW, drill_max_age_action="refuse", production_hosts=["eu-1"], **rules)["allowed"]
    fresh = evaluate("deploy", ALICE, NOW, drill_max_age=30 * 86400, drill_max_age_action="refuse", production_hosts=["eu-1"],
                     drills=old + [drill("staging", "2026-11-20T00:00:00Z")])
    assert fresh["allowed"] and fresh["warnings"] == []
    # None read (the drill read was skipped) counts as no drill; a drill of another group does not count for a group.
    assert not evaluate("deploy", ALICE, NOW, drill_max_age=86400, drill_max_age_action="refuse", production_hosts=["eu-1"],
                        drills=None)["allowed"]
    assert not evaluate("deploy", ALICE, NOW, drill_max_age=30 * 86400, drill_max_age_action="refuse", production_hosts=["eu-1"],
                        drills=[drill("staging", "2026-11-20T00:00:00Z")], drill_group="canary")["allowed"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["alice", "bob", "carol"]), unique=True),
       st.lists(st.sampled_from(["alice", "bob", "carol", "dave"]), unique=True),
       st.sampled_from(["alice", "bob", "carol", "dave", "mallory"]), st.booleans(), st.booleans())
def test_merge_never_allows_what_the_policy_refuses(policy_names, variable_names, who, policy_reason, variable_reason):
    policy = parse_policy({"allowed_operators": policy_names, "require_reason": policy_reason}, "p")
    merged = merge_policy(policy, {"allowed_operators": variable_names, "require_reason": variable_reason})
    operator = dict(ALICE, name=who)
    by_policy = evaluate("rollback", operator, NOW, allowed_operators=policy["allowed_operators"],
                         require_reason=policy["require_reason"])
    by_merge = evaluate("rollback", operator, NOW, allowed_operators=merged["allowed_operators"],
                        require_reason=merged["require_reason"])
    assert by_policy["allowed"] or not by_merge["allowed"]

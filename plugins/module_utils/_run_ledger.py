# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run ledger: the state machine of a deploy or rollback, step by step, on the controller.

The action plugin ``run_ledger`` (run once per step, on the controller) reads the registered results of a batch from
the hosts' variables and hands them here as plain data; each step returns the new run report (docs/run-report.md) and
what the next tasks need (the batch, the members to drain or enable per region, the regions to gate, the walks). The
report's bookkeeping itself is in _wave_report; this module decides the order of the steps and what goes into each.

Every step is pure (results and times come in as arguments) so that its decisions can be unit-tested on recorded
batch results. A step never raises on a result it cannot read: the error becomes a failure of the run that stops it
(``ledger_error``), so that nothing the ledger fails to record can pass unnoticed.
"""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils import _rollout_control, _wave_report
from ansible_collections.fleetops.release.plugins.module_utils._release_store import interrupted_run_targets
from ansible_collections.fleetops.release.plugins.module_utils._waves import plan_waves

STEPS = ("plan", "batch", "hooks", "switched", "settle", "prepared", "flipped", "flipped_back", "finish", "pause", "resume",
         # Weighted canaries (issue 19, module_utils/_canary_weights.py): a weight step, and its gates recorded.
         "canary", "canary_gated")
PHASES = ("forward", "revert")
NO_WALK = {"hosts": [], "sizes": [1], "batches": [], "batch_of": {}}


class LedgerError(ValueError):
    """A step was asked for something the run cannot do (a programming error of the playbook, not of the fleet)."""


def ledger_error(report, step, exc, now, wave=None):
    """A step that could not record what happened: the run stops with a failure saying so (a deploy reverts what it
    touched), instead of going on without the record."""
    failure = {"host": "(run)", "region": "", "phase": "ledger %s" % step, "wave": wave,
               "message": "the run ledger could not record this step, so the run stops: %s" % (exc,)}
    return _wave_report.merge(report, {}, [failure], now, stop=True)


def _region_sizes(members, region_of):
    sizes = {}
    for host in members:
        region = region_of.get(host)
        if region:
            sizes[region] = sizes.get(region, 0) + 1
    return sizes


def _by_region(hosts, region_of):
    grouped = {}
    for host in hosts:
        grouped.setdefault(region_of[host], []).append(host)
    return grouped


def plan(run, rows, options, members, region_of, now, check_mode=False):
    """The plan and the new report. ``rows``: ``{host: {region, from, to, needed, out_of_rotation}}`` for every host
    of the run, in play order; ``options``: waves, mode, region_order, min_healthy; ``members``: every host of the
    regions (outside a --limit too: they keep serving and count towards min_healthy). A host left out of rotation by
    an earlier run is planned even when it runs its target, so that this run puts it back.
    Returns ``(report, walk, plan)``; the walk is empty in check mode and for blue/green (it flips regions)."""
    planned = [host for host, row in rows.items() if row.get("needed") or row.get("out_of_rotation")]
    waves = []
    if planned and run.get("strategy") != "blue_green":
        waves = plan_waves(_by_region(planned, region_of), waves=options.get("waves"), mode=options.get("mode"),
                           region_order=options.get("region_order") or None, min_healthy=options.get("min_healthy"),
                           region_sizes=_region_sizes(set(members) | set(planned), region_of))
    hosts = {}
    in_plan = {host for wave in waves for host in wave["hosts"]}
    for host, row in rows.items():
        hosts[host] = dict(row, needed=host in in_plan or (run.get("strategy") == "blue_green" and bool(row.get("needed"))))
    report = _wave_report.start(run, hosts, waves, now)
    walk = NO_WALK if check_mode or not waves else _wave_report.walk(waves)
    return report, walk, waves


def batch_for(walk, play_batch):
    """The batch of ``walk`` that the play's current hosts are (``ansible_play_batch``). Hosts that left the play
    (failed, unreachable) are missing from it, so the batch is found by its first host still in the play."""
    for host in play_batch:
        number = walk["batch_of"].get(host)
        if number is not None:
            return walk["batches"][number]
    raise LedgerError("none of the play's hosts (%s) is in the walk: run_ledger step=batch runs in the walk plays only"
                      % ", ".join(play_batch))


def begin_batch(report, walk, phase, play_batch, run_timeout, now):
    """Before a batch: the deadline (forward batches only), and whether the batch goes. Returns ``(report, batch)``;
    ``batch['go']`` is false once the run has stopped (a forward batch then does nothing; a revert batch always goes)."""
    batch = dict(batch_for(walk, play_batch))
    if phase == "forward" and not report.get("stopped"):
        report = _wave_report.check_deadline(report, run_timeout, now, batch=batch)
    batch["phase"] = phase
    batch["key"] = "%s-%s" % (phase, batch["step"])
    batch["go"] = phase == "revert" or not report.get("stopped")
    batch["started"] = now
    batch["left_play"] = [host for host in batch["hosts"] if host not in play_batch]
    return report, batch


def gate_regions(walk, batch):
    """The regions whose part of the wave is done after ``batch``: they are checked through their load balancer."""
    if batch["index"] >= batch["total"]:
        return list(batch["hosts_by_region"])
    following = walk["batches"][batch["step"]]["hosts_by_region"]
    return [region for region in batch["hosts_by_region"] if region not in following]


def switched(report, walk, batch, drain, host_results, now):
    """After the drain and the activations: each host's outcome so far. Returns ``(report, enable)`` with
    ``enable``: ``{region: [hosts live and healthy]}`` (the regions to put back in rotation) and the regions to gate."""
    report = _wave_report.record_switch(report, batch, batch["phase"], drain, host_results, now,
                                        started=batch.get("started"))
    for host in batch["hosts"]:
        activation = (host_results.get(host) or {}).get("activation") or {}
        if activation.get("kept_before_first_release"):
            report["kept_before_first_release"] = sorted(set(report.get("kept_before_first_release") or []) | {host})
        if activation.get("unlocked"):
            # Its activation released the host lock and wrote its run line: the run's last play only writes a
            # corrected line if a later step changes the host's outcome (see unlocked_hosts).
            report["hosts"][host]["unlocked"] = True
            report["hosts"][host]["logged_outcome"] = (activation.get("history") or {}).get("outcome")
    live = report.get("live") or []
    enable = {}
    for region, hosts in batch["hosts_by_region"].items():
        healthy = [host for host in hosts if host in live]
        if healthy:
            enable[region] = healthy
    gates = gate_regions(walk, batch) if batch["phase"] == "forward" else []
    return report, {"enable": enable, "gate": gates}


def settle(report, batch, enable, gates, now):
    """After the enable and the gates: the batch's final outcomes and failures, and whether the run stops (a deploy
    then plans the revert with revert_walk)."""
    report = _wave_report.record_enable(report, batch, batch["phase"], enable, now)
    if batch.get("left_play"):
        report = _wave_report.merge(report, {}, [{
            "host": ", ".join(batch["left_play"]), "region": "", "phase": "%s batch" % batch["phase"],
            "wave": batch.get("wave"), "message": "hosts left the play: %s" % ", ".join(batch["left_play"])}], now, stop=True)
    if batch["phase"] == "forward" and gates:
        report = _wave_report.record_gates(report, batch, gates, now)
    return report


def revert_walk(report, min_healthy=None, members=(), region_of=None):
    """The walk that puts the hosts the report says go back (``revert``) where they were: one wave, in batches that
    keep min_healthy of each region serving. ``region_of`` must name the region of every member."""
    hosts = list(report.get("revert") or [])
    if not hosts:
        return NO_WALK
    region_of = dict(region_of or {})
    for host, row in report["hosts"].items():
        region_of.setdefault(host, row.get("region"))
    waves = plan_waves(_by_region(hosts, region_of), waves=["100%"], min_healthy=min_healthy,
                       region_sizes=_region_sizes(set(members) | set(hosts), region_of))
    return _wave_report.walk(waves)


def hook_failures(report, failures, now):
    """Wave hook failures (before-wave, after-wave) not recorded yet: ``failures`` is ``{key: {hook, host, region, wave,
    message}}`` collected from the hosts; each counts like a failed host. The keys recorded are kept in the report."""
    seen = set(report.get("hooks_recorded") or [])
    for key in sorted(failures or {}):
        if key in seen:
            continue
        failure = dict(failures[key])
        hook = failure.pop("hook", "wave")
        report = _wave_report.record_hook(report, hook, failure, now)
        report = dict(report, hooks_recorded=sorted(seen | {key}))
        seen.add(key)
    return report


# -- blue/green: each region flips its load balancer's map to the pool that was prepared ----------------------------


def bg_regions(rows, pools, region_hosts, pool_of):
    """Which regions flip and which hosts get the target first. ``pools``: ``{region: active pool}`` as read from each
    region's load balancer; ``pool_of``: ``{host: its pool}``. A region flips when a serving host is not on its target.
    Returns ``{region: {active, next, flip, idle, serving, prepare}}``; ``prepare``: the idle hosts that need the
    target first (a deploy's; a rollback's idle pool already runs it, as its preflight checked)."""
    regions = {}
    for region, hosts in region_hosts.items():
        active = pools.get(region)
        serving = [host for host in hosts if pool_of.get(host) == active]
        idle = [host for host in hosts if pool_of.get(host) != active]
        next_pools = sorted({pool_of.get(host) for host in idle if pool_of.get(host)})
        regions[region] = {
            "active": active, "next": next_pools[0] if next_pools else None, "serving": serving, "idle": idle,
            "flip": any(rows.get(host, {}).get("needed") for host in serving),
            "prepare": [host for host in idle if rows.get(host, {}).get("needed")],
        }
    return regions


def bg_prepared(report, regions, activations, now):
    """After the idle pools' hosts got the target: their outcomes; a failure stops the flips (beyond max_fail).
    ``activations``: ``{host: registered result}``. Returns ``(report, regions to flip)``."""
    hosts, failures = {}, []
    for region, row in regions.items():
        for host in row["prepare"] if row["flip"] else []:
            result = activations.get(host) or {}
            unreachable = bool(result.get("unreachable"))
            failed = unreachable or bool(result.get("failed"))
            hosts[host] = {"outcome": "switch failed" if failed else "ready in the idle pool",
                           "touched": bool(result.get("changed")), "unreachable": unreachable}
            if failed:
                failures.append({"host": host, "region": region, "phase": "unreachable" if unreachable else "switch",
                                 "wave": 1, "message": str(result.get("msg") or "")})
    report = _wave_report.merge(report, hosts, failures, now)
    failed_regions = {failure["region"] for failure in failures}
    flip = [] if report.get("stopped") else [
        region for region, row in regions.items() if row["flip"] and region not in failed_regions]
    if report.get("first_switch") is None and flip:
        report = dict(report, first_switch=now)
    return report, flip


def bg_flipped(report, regions, flips, verifies, now):
    """After the flips and the checks through the load balancers: each region's failures; for a failed deploy (on
    failure revert) the regions that flipped go back. ``flips``/``verifies``: ``{region: registered result}``.
    Returns ``(report, regions to flip back)``."""
    failures = []
    for region, flip in flips.items():
        verify = verifies.get(region) or {}
        if flip.get("failed") or flip.get("unreachable"):
            failures.append({"host": "(load balancer)", "region": region, "phase": "flip", "wave": 1,
                             "message": str(flip.get("msg") or "failed")})
        elif verify.get("failed"):
            failures.append({"host": "(load balancer)", "region": region, "phase": "gate", "wave": 1,
                             "message": str(verify.get("msg") or "failed")})
    report = _wave_report.merge(report, {}, failures, now)
    back = []
    if report.get("failures") and report.get("on_failure") == "revert":
        back = [region for region, flip in flips.items() if flip.get("changed")]
    return report, back


def bg_done(report, regions, flips, backs, now, marks=None):
    """Each host's outcome once the flips (and flips back) are done: where its pool stands now. ``marks``: ``{host:
    registered result}`` of a rollback's known-bad marks; a failed one is a failure of the run, one that also closed
    the host's part of the run (``unlocked``) is recorded like an activation that did. A rollback never flips back,
    so its outcomes are known after the flips (the run ledger's flipped step records them for the marks' run lines)."""
    hosts, failures, closed = {}, [], {}
    for host, mark in (marks or {}).items():
        if isinstance(mark, dict) and (mark.get("failed") or mark.get("unreachable")):
            failures.append({"host": host, "region": report["hosts"].get(host, {}).get("region"), "phase": "mark",
                             "wave": 1, "message": str(mark.get("msg") or "failed")})
        elif isinstance(mark, dict) and mark.get("unlocked"):
            # The mark also released the host lock and wrote the run line (release_mark unlock): see still_locked.
            closed[host] = {"unlocked": True, "logged_outcome": (mark.get("history") or {}).get("outcome")}
    for region, row in regions.items():
        if not row["flip"]:
            continue
        flipped = bool((flips.get(region) or {}).get("changed"))
        back = bool((backs.get(region) or {}).get("changed"))
        for host in row["serving"] + row["idle"]:
            current = report["hosts"].get(host, {}).get("outcome", "")
            if current.endswith("failed"):
                continue
            serving = host in row["serving"]
            if flipped and not back:
                outcome = "idle now" if serving else "serving now"
            else:
                outcome = ("serving" if serving else "idle") + (" (flipped back)" if back else "")
            hosts[host] = {"outcome": outcome}
            if back and not serving:
                hosts[host]["reverted"] = True
    for host, fields in closed.items():
        hosts.setdefault(host, {}).update(fields)
    return _wave_report.merge(report, hosts, failures, now)


# -- a manual pause after a wave (issue 19; the control record: module_utils/_rollout_control.py) -------------------


def pause_begin(report, batch, run_timeout, pause_timeout, lock_ttl, now):
    """The run holds after ``batch``'s wave: the report says where and since when (``paused``), and the locks still
    held are named with the seconds they must last (``lock_ttl_while_paused``). Returns ``(report, pause)``."""
    report = _wave_report.merge(report, {}, [], now)
    report["paused"] = {"wave": batch.get("wave"), "waves": batch.get("waves"), "since": now,
                        "timeout": int(pause_timeout)}
    ttl = _rollout_control.lock_ttl_while_paused(report.get("started") or now, run_timeout,
                                                 _rollout_control.paused_seconds(report), pause_timeout, lock_ttl, now)
    locked = [host for host, row in report["hosts"].items() if not row.get("unlocked")]
    return report, {"wave": batch.get("wave"), "waves": batch.get("waves"), "since": now, "ttl": ttl, "locked": locked}


def pause_end(report, wait, extended, now):
    """The pause is over: ``wait`` is the registered result of the control record's poll (rollout_control wait),
    ``extended`` ``{host: registered result}`` of the host locks kept alive. The time paused moves the run's deadline;
    a promote goes on; an abort (by an operator, at the timeout, or because the record or a lock could not be kept) is
    a failure that stops the run, so a deploy reverts everything it touched, the same way as after a failed gate."""
    paused = dict(report.get("paused") or {})
    since = float(paused.get("since") or now)
    report = _wave_report.merge(report, {}, [], now)
    report["paused_seconds"] = round(_rollout_control.paused_seconds(report) + max(0.0, now - since), 1)
    wait = wait if isinstance(wait, dict) else {}
    decided = dict(wait.get("decided") or {})
    decision = wait.get("decision")
    lost = sorted(host for host, result in (extended or {}).items()
                  if isinstance(result, dict) and (result.get("failed") or result.get("unreachable")))
    if wait.get("failed") or wait.get("unreachable") or decision not in ("promote", "abort"):
        decision = "abort"
        decided = {"action": "abort", "source": "record", "by_name": "(run)",
                   "reason": "the control record could not be read: %s" % (wait.get("msg") or "no decision")}
    elif lost and decision == "promote":
        decision = "abort"
        decided = {"action": "abort", "source": "locks", "by_name": "(run)",
                   "reason": "the locks of %s could not be kept alive while paused" % ", ".join(lost)}
    entry = {"wave": paused.get("wave"), "since": since, "until": now, "seconds": round(now - since, 1),
             "decision": decision, "source": decided.get("source"), "by": decided.get("by_name"),
             "reason": decided.get("reason") or ""}
    report["pauses"] = list(report.get("pauses") or []) + [entry]
    report["paused"] = None
    if decision == "abort":
        who = {"operator": "aborted by %s" % decided.get("by_name"), "timeout": "the pause timed out"}.get(
            decided.get("source"), "aborted")
        report = _wave_report.merge(report, {}, [{
            "host": "(run)", "region": "", "phase": "abort" if decided.get("source") == "operator" else "pause",
            "wave": paused.get("wave"),
            "message": "%s after wave %s: %s" % (who, paused.get("wave"), decided.get("reason") or "no reason given")}],
            now, stop=True)
    return report, entry


def still_locked(report, hosts):
    """The hosts whose lock (and run line) the run's last play must still release (and write): all of them but those
    whose activation did it with the outcome they ended with."""
    rows = report.get("hosts") or {}
    return [host for host in hosts if not (rows.get(host, {}).get("unlocked")
                                           and rows[host].get("logged_outcome") == rows[host].get("outcome"))]


def finish(report, now):
    """The run is over: status, the last phase's end and the time to recover."""
    return _wave_report.finish(report, now)


# -- what each host of a deploy needs, from its locked read and its unpack ----------------------------------------


def deploy_need(read, release, config_changed=False):
    """What one host of a deploy of ``release`` needs: ``{from, to, needed}``. ``read``: what its preflight read under
    its lock (``current``, ``pending``); ``config_changed``: whether its unpack changed the release's configuration
    snapshot. It needs the run when ``release`` is not current there, when an operation is unfinished there (a crashed
    run: it started from the release the host had before it), or when its configuration changed."""
    read = read or {}
    current, pending = read.get("current"), read.get("pending") or None
    source = pending.get("from") if pending and pending.get("to") == current else current
    return {"from": source or "", "to": release,
            "needed": current != release or pending is not None or bool(config_changed)}


def deploy_rows(reads, region_of, release, snapshot_changed):
    """Each host of a deploy: ``{host: {region, from, to, needed}}`` (deploy_need of each host's read, and
    ``snapshot_changed``: ``{host: whether its unpack changed its configuration snapshot}``)."""
    return {host: dict(deploy_need(read, release, snapshot_changed.get(host)), region=region_of[host])
            for host, read in reads.items()}


# -- a rolling rollback's targets, from what each host's preflight read under its lock -----------------------------


def rollback_targets(reads, region_of, release=None, allow_mixed=False, check_snapshots=False, allow_missing_config=False,
                     unfinished=None):
    """Each host's rollback target from its read (release_lock ``read``: current, rollback target, runs, snapshots), or a
    refusal (LedgerError) that lists every host's problem; nothing has changed when it is raised.

    Without a named ``release``, a run that did not finish decides the targets (see
    _release_store.interrupted_run_targets; ``unfinished``: the run whose fleet-wide lock this run broke): a deploy is
    undone, a rollback finished. All hosts must go back to the same
    release unless ``allow_mixed``. With ``check_snapshots`` (the run restores configuration), each target's snapshot
    must exist (unless ``allow_missing_config``) and be intact. Returns ``(rows, note)``: ``rows`` is ``{host: {region,
    from, to, needed}}`` in the reads' order; ``note`` says which interrupted run this rollback undoes, or is empty."""
    interrupted = None if release else interrupted_run_targets(reads, unfinished)
    rows, missing = {}, []
    for host, read in reads.items():
        if interrupted is not None:
            target, reason = interrupted["targets"][host]["target"], interrupted["targets"][host]["reason"]
        else:
            target, reason = read.get("rollback_target"), read.get("rollback_target_reason")
        rows[host] = {"region": region_of.get(host), "from": read.get("current") or "", "to": target or "",
                      "reason": reason or "", "needed": bool(target) and (read.get("current") != target or bool(read.get("pending")))}
        if not target:
            missing.append("  %s: %s (current: %s)" % (host, reason, read.get("current")))
    if missing:
        raise LedgerError("Rollback refused; nothing was changed. Hosts without a rollback target:\n" + "\n".join(missing))
    targets = sorted({row["to"] for row in rows.values()})
    if len(targets) > 1 and not allow_mixed:
        raise LedgerError("Rollback refused; nothing was changed. The hosts would end on different releases:\n%s\nName the "
                          "target with -e fleet_release=<id>, or set fleet_allow_mixed_targets=true." % "\n".join(
                              "  %s: %s -> %s (%s)" % (host, row["from"], row["to"], row["reason"]) for host, row in rows.items()))
    if check_snapshots:
        problems = []
        for host, row in rows.items():
            snapshot = ((reads[host].get("snapshots") or {}).get(row["to"])) or {"exists": False, "problems": []}
            if snapshot.get("exists") and not snapshot.get("valid"):
                problems.append("  %s: %s" % (host, "; ".join(snapshot.get("problems") or ["corrupt"])))
            elif not snapshot.get("exists") and not allow_missing_config:
                problems.append("  %s: no configuration snapshot of %s (set fleet_config_allow_missing=true to roll back "
                                "the code alone)" % (host, row["to"]))
        if problems:
            raise LedgerError("Rollback refused; nothing was changed. Configuration snapshots that cannot be restored:\n"
                              + "\n".join(problems))
    note = ""
    if interrupted is not None:
        note = ("The last run on these hosts, %s run %s, did not finish: this rollback %s (%s)." % (
            interrupted["operation"], interrupted["run_id"],
            "finishes it, every host to %s" % interrupted["to"] if interrupted.get("to")
            else "undoes the interrupted run %s, each host back to where that run found it" % interrupted["run_id"],
            ", ".join(sorted({row["to"] for row in rows.values() if row["to"]}))))
    return rows, note


def bg_rollback_targets(reads, region_of, pools, pool_of, release=None):
    """A blue/green rollback: the serving pools go back to the release the idle pools still run. ``pools``: ``{region:
    active pool}``; ``pool_of``: ``{host: its pool}``. The serving hosts must share one target (their rollback target,
    or ``release``) and every idle host must run it with nothing pending (a flip back would not restore it otherwise);
    else LedgerError lists the hosts. Returns ``{host: {region, from, to, needed}}`` (``needed``: serving)."""
    serving = [host for host in reads if pool_of.get(host) == pools.get(region_of.get(host))]
    targets = sorted({release or reads[host].get("rollback_target") or "" for host in serving})
    target = targets[0] if len(targets) == 1 and targets[0] else None
    problems = []
    if target is None:
        problems.append("The serving hosts would go back to %s:" % (", ".join(name for name in targets if name) or "no release"))
        problems.extend("  %s (%s): %s -> %s (%s)" % (
            host, pool_of.get(host), reads[host].get("current"), reads[host].get("rollback_target"),
            reads[host].get("rollback_target_reason")) for host in serving)
    for host, read in reads.items():
        if host in serving:
            continue
        if read.get("current") != target or read.get("pending"):
            problems.append("  %s (idle %s): runs %s%s instead of %s" % (
                host, pool_of.get(host), read.get("current"), " with an unfinished operation" if read.get("pending") else "",
                target or "-"))
    if problems:
        raise LedgerError("Blue/green rollback refused; nothing was changed.\n%s\nName the target with -e "
                          "fleet_release=<id>, or roll back with fleet_strategy=rolling." % "\n".join(problems))
    return {host: {"region": region_of.get(host), "from": read.get("current") or "", "to": target,
                   "needed": host in serving} for host, read in reads.items()}

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run ledger on the controller: reads the registered results of a step from the hosts' variables itself,
records the step in the run report and decides what comes next (logic in module_utils/_run_ledger.py).

Run once per step (``run_once``, ``delegate_to: localhost``, ``delegate_facts: true``): the report and what the next
tasks need are facts of localhost, where every later play of the run reads them. A step never fails the task over
what it reads: an error becomes a failure of the run that stops it (a deploy then reverts what it touched), so that
a failed record cannot pass unnoticed and no host is knocked out of the play by the bookkeeping.
"""

from __future__ import annotations

import time
import traceback

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.filter.lb_connection import lb_connection
from ansible_collections.fleetops.release.plugins.module_utils import _canary_weights as canary
from ansible_collections.fleetops.release.plugins.module_utils import _run_ledger as ledger
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, is_rollback
from ansible_collections.fleetops.release.plugins.module_utils._run_inputs import lb_out_of_rotation, lb_server, lb_servers_read
from ansible_collections.fleetops.release.plugins.plugin_utils import _identity

ARGUMENT_SPEC = {
    "step": {"type": "str", "required": True, "choices": list(ledger.STEPS)},
    "phase": {"type": "str", "default": "forward", "choices": list(ledger.PHASES)},
    "run_id": {"type": "str"},
    "reason": {"type": "str", "default": ""},
    "strategy": {"type": "str", "default": "rolling", "choices": ["rolling", "blue_green"]},
    "on_failure": {"type": "str", "default": "revert", "choices": ["revert", "stop"]},
    "max_fail": {"type": "int", "default": 0},
    "waves": {"type": "raw"},
    "mode": {"type": "str", "default": "lockstep"},
    "region_order": {"type": "raw"},
    "min_healthy": {"type": "raw"},
    "run_timeout": {"type": "raw", "default": 0},
    "extras": {"type": "bool", "default": False},
    "release": {"type": "str"},
    "allow_mixed_targets": {"type": "bool", "default": False},
    "check_snapshots": {"type": "bool", "default": False},
    "allow_missing_config": {"type": "bool", "default": False},
    # step=pause (issue 19): how long a manual pause may last, and the locks' margin after the run's deadline.
    "pause_timeout": {"type": "raw", "default": 3600},
    "lock_ttl": {"type": "raw", "default": 0},
    # Weighted canaries (issue 19): step=plan takes the setting, step=canary the percentage of the step it takes.
    "canary_weights": {"type": "raw", "default": []},
    "canary_step_pause": {"type": "raw", "default": 0},
    "percent": {"type": "raw"},
}
REPORT = "fleet_run_report"
# What each step reads from the hosts (registered by the batch's tasks; see roles/waves/tasks).
ACTIVATION = "fleet_wave_activation"
CHECKS = "fleet_wave_checks"
HOOK_FAILURES = "fleet_hook_failures"
WAVE_HOOK_FAILURES = "fleet_wave_hook_failures"


class ActionModule(ActionBase):

    _requires_connection = False  # the controller only
    _supports_check_mode = True  # records, changes nothing on any host

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        self._vars = task_vars or {}
        self._hostvars = self._vars.get("hostvars") or {}
        _valid, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        step, now = args["step"], time.time()
        facts = {}
        if step == "plan":
            try:
                facts = self._plan(args, now)
            except (ledger.LedgerError, _wave_report.WaveReportError, ValueError, FleetError, _identity.GuardError) as exc:
                # Before any change: a refusal, one message.
                result.update(failed=True, changed=False, msg="run_ledger: %s" % to_text(exc))
                return result
        else:
            report = self._var("localhost", REPORT)
            if not isinstance(report, dict):
                result.update(failed=True, changed=False,
                              msg="run_ledger step=%s: no run report on localhost; step=plan starts it" % step)
                return result
            batch = self._var("localhost", "fleet_batch") or {}
            if batch.get("broken") and step in ("hooks", "switched", "settle"):
                # The ledger could not open this batch (the run stopped, saying why): nothing of it moved.
                result.update(changed=False, ansible_facts={REPORT: report})
                return result
            try:
                facts = getattr(self, "_" + step)(args, report, now)
            except Exception as exc:  # pylint: disable=broad-except
                # Whatever went wrong, the run stops with the error in its report (and the traceback with -vvv).
                self._display.vvv(traceback.format_exc())
                facts = {REPORT: ledger.ledger_error(report, step, exc, now, wave=batch.get("wave"))}
                if step in ("batch", "hooks", "switched"):
                    # The batch's next tasks read it: nothing more moves (no drain, no switch, no enable).
                    facts["fleet_batch"] = dict(batch if step != "batch" else {}, go=False, drain=[], enable=[], gate=[],
                                                key=batch.get("key", "ledger-error"), broken=True)
                elif step in ("prepared", "flipped"):
                    facts["fleet_bg_flip" if step == "prepared" else "fleet_bg_back"] = []
        result.update(changed=False, ansible_facts=facts)
        return result

    # -- reading the hosts --------------------------------------------------------------------------------------

    def _var(self, host, name, default=None):
        try:
            variables = self._hostvars[host]
        except KeyError:
            return default
        try:
            return variables[name] if name in variables else default
        except Exception:  # pylint: disable=broad-except
            return default

    def _play_hosts(self):
        return list(self._vars.get("ansible_play_hosts") or [])

    def _members(self):
        """Every host of the inventory with a region: the regions' members, also outside a --limit."""
        return [host for host in (self._vars.get("groups") or {}).get("all", []) if self._var(host, "fleet_region")]

    def _region_of(self, hosts):
        return {host: self._var(host, "fleet_region") for host in hosts}

    def _wave_hook_failures(self, report, now):
        failures = {}
        for host in self._play_hosts():
            failures.update(self._var(host, WAVE_HOOK_FAILURES) or {})
        return ledger.hook_failures(report, failures, now)

    # -- the steps ------------------------------------------------------------------------------------------------

    def _plan(self, args, now):
        run_id = args.get("run_id")
        record = _identity.read_run_record(run_id)
        operator, _warnings = _identity.controller_operator(self._vars)
        hosts = self._play_hosts()
        # Hosts an earlier run left drained, from the load balancers read by lb_preflight.yml.
        out_of_rotation = lb_out_of_rotation((self._vars.get("fleet_wave_lb") or {}).get("results"), self._hostvars)
        note = ""
        rollback = is_rollback(record.get("operation"))
        reads = {host: (self._var(host, "fleet_lock_taken") or {}).get("info") or {} for host in hosts}
        if args["strategy"] == "blue_green":
            pools, pool_of = self._bg_pools(), {host: self._var(host, "fleet_pool") for host in hosts}
        if rollback and args["strategy"] == "blue_green":
            rows = ledger.bg_rollback_targets(reads, self._region_of(hosts), pools, pool_of, release=args["release"] or None)
        elif rollback:
            # The targets, judged here from what each host's preflight read under its lock (release_lock read).
            rows, note = ledger.rollback_targets(
                reads, self._region_of(hosts), release=args["release"] or None, allow_mixed=args["allow_mixed_targets"],
                check_snapshots=args["check_snapshots"], allow_missing_config=args["allow_missing_config"],
                unfinished=((self._vars.get("fleet_fleet_lock") or {}).get("broken") or {}).get("run_id"))
        else:
            # A deploy: what each host needs, from its locked read and whether its unpack changed its configuration.
            rows = ledger.deploy_rows(reads, self._region_of(hosts), args["release"],
                                      {host: bool((self._var(host, "fleet_deploy_snapshot") or {}).get("changed")) for host in hosts})
        # Weighted canaries: the setting, each host's configured weight, and the hosts an interrupted run left at a
        # reduced weight (planned like a drained host, and put back at full weight).
        weights = args["canary_weights"]
        if isinstance(weights, str) and weights.strip():  # -e fleet_canary_weights='[10, 100]' arrives as a string
            weights = self._loader.load(weights)
        weights = canary.normalize_weights(weights)
        lb_weights = canary.lb_weights(lb_servers_read((self._vars.get("fleet_wave_lb") or {}).get("results"), self._hostvars))
        reduced = canary.reduced_weight(lb_weights)
        for host in hosts:
            rows[host]["out_of_rotation"] = host in out_of_rotation or host in reduced
        waves = args["waves"]
        if isinstance(waves, str):  # -e fleet_waves='[1, "100%"]' arrives as a string
            waves = self._loader.load(waves)
        run = {"run_id": run_id, "operation": record.get("operation"),
               "actor": operator["name"], "reason": args["reason"], "limit": self._vars.get("ansible_limit") or "",
               "strategy": args["strategy"], "mode": args["mode"], "on_failure": args["on_failure"],
               "max_fail": args["max_fail"], "started": record.get("started") or now}
        members = self._members()
        report, walk, waves = ledger.plan(
            run, rows, {"waves": waves, "mode": args["mode"], "region_order": args["region_order"],
                        "min_healthy": args["min_healthy"]}, members, self._region_of(set(members) | set(hosts)), now,
            check_mode=bool(self._task.check_mode))
        facts = {REPORT: report, "fleet_wave_walk": walk, "fleet_wave_revert_walk": ledger.NO_WALK,
                 "fleet_wave_plan": waves, "fleet_run_note": note,
                 "fleet_canary": {"weights": {str(wave): steps for wave, steps in weights.items()},
                                  "step_pause": canary.normalize_step_pause(args["canary_step_pause"]),
                                  "full": {host: row["initial_weight"] for host, row in lb_weights.items()}}}
        if weights or reduced:
            report = facts[REPORT] = dict(report, hosts={host: dict(row, reduced_weight=True) if host in reduced else row
                                                         for host, row in report["hosts"].items()})
            if weights:
                report["canary"] = {"weights": facts["fleet_canary"]["weights"], "step_pause": facts["fleet_canary"]["step_pause"]}
        if args["strategy"] == "blue_green":
            # Blue/green flips regions in a play of its own, over every host of the run.
            facts["fleet_bg_hosts"] = hosts
            region_hosts = {}
            for host in hosts:
                region_hosts.setdefault(rows[host]["region"], []).append(host)
            facts["fleet_bg_regions"] = ledger.bg_regions(rows, pools, region_hosts, pool_of)
            facts[REPORT] = dict(report, flips=[region for region, row in facts["fleet_bg_regions"].items() if row["flip"]])
        facts["fleet_wave_walk"] = dict(facts["fleet_wave_walk"], extras=bool(args["extras"]))
        facts["fleet_run_regions"] = self._run_regions(hosts, members)
        return facts

    def _run_regions(self, hosts, members):
        """The run's regions: their members (also outside a --limit), the first host of the run there, and whether every
        member is in the run (only then does the whole region answer with the run's target)."""
        regions = {}
        for host in hosts:
            regions.setdefault(self._var(host, "fleet_region"), {"hosts": [], "members": []})["hosts"].append(host)
        for host in members:
            region = self._var(host, "fleet_region")
            if region in regions:
                regions[region]["members"].append(host)
        return [{"key": region, "leader": row["hosts"][0], "members": row["members"],
                 "complete": set(row["members"]) <= set(row["hosts"])} for region, row in regions.items()]

    def _bg_pools(self):
        """``{region: active pool}`` from each region's map, read by tasks/pools.yml (fleet_bg_read)."""
        pools = {}
        for item in (self._vars.get("fleet_bg_read") or {}).get("results") or []:
            if isinstance(item, dict) and isinstance(item.get("item"), dict):
                if item.get("failed") or item.get("unreachable") or not item.get("previous"):
                    raise ledger.LedgerError("the active pool of region %s could not be read: %s" % (
                        item["item"].get("key"), item.get("msg") or "no answer"))
                pools[item["item"]["key"]] = item["previous"]
        return pools

    def _revert_walk(self, report, args):
        members = self._members()
        return ledger.revert_walk(report, args["min_healthy"], members, self._region_of(members))

    def _walk(self, phase):
        return self._var("localhost", "fleet_wave_walk" if phase == "forward" else "fleet_wave_revert_walk") or ledger.NO_WALK

    def _batch(self, args, report, now):
        report = self._wave_hook_failures(report, now)
        report, batch = ledger.begin_batch(report, self._walk(args["phase"]), args["phase"],
                                           list(self._vars.get("ansible_play_batch") or []), args["run_timeout"], now)
        # Past the deadline a deploy reverts what it touched.
        revert = self._revert_walk(report, args) if args["phase"] == "forward" and report.get("stopped") else None
        batch["drain"] = self._lb_items(batch["hosts_by_region"], "drain")
        # The weight steps of the batch's wave (weighted canaries): the steps after the first follow the wave's gates.
        batch["canary"] = canary.steps_for_wave(self._canary_setting().get("weights"), batch.get("wave")) if args["phase"] == "forward" else []
        facts = {REPORT: report, "fleet_batch": batch}
        if revert is not None:
            facts["fleet_wave_revert_walk"] = revert
        return facts

    def _switched(self, args, report, now):
        batch = self._var("localhost", "fleet_batch")
        results = {}
        for host in batch["hosts"]:
            results[host] = {"activation": self._var(host, ACTIVATION) or {}, "checks": self._var(host, CHECKS) or {},
                             "hook_failure": (self._var(host, HOOK_FAILURES) or {}).get(batch["key"], "")}
        report, todo = ledger.switched(report, self._walk(batch["phase"]), batch, self._vars.get("fleet_lb_result"),
                                       results, now)
        leaders = {region: hosts[0] for region, hosts in batch["hosts_by_region"].items()}
        gate = [{"key": region, "leader": leaders[region]} for region in todo["gate"]]
        # Weighted canaries: the wave's first step, or full weight back (a revert, a host found at a reduced weight).
        percents = canary.enable_weights(self._canary_setting(), batch, [host for hosts in todo["enable"].values() for host in hosts],
                                         report["hosts"])
        report = canary.record_weights(report, batch, percents, now)
        enable = self._lb_items(todo["enable"], "ready", canary.member_weights(self._canary_setting(), percents, self._hostvars))
        return {REPORT: report, "fleet_batch": dict(batch, enable=enable, gate=gate)}

    def _lb_items(self, hosts_by_region, state, weights=None):
        """The loop items of tasks/lb_pool.yml: one per load-balancer host (where lb_pool runs), with one pool per region
        it serves: the region's batch members set to ``state`` (and to ``weights[host]`` where given), its backend and
        its connection from the inventory."""
        weights = weights or {}
        items = {}
        for region, hosts in hosts_by_region.items():
            if not hosts or not self._var(hosts[0], "fleet_lb_type"):
                continue
            lb_host = self._var(hosts[0], "fleet_lb_host") or "localhost"
            items.setdefault(lb_host, {"lb_host": lb_host, "pools": []})["pools"].append({
                "name": region, "backend": self._var(hosts[0], "fleet_lb_backend") or None,
                "members": [dict({"server": lb_server(host, self._hostvars.get(host)), "state": state},
                                 **({"weight": weights[host]} if host in weights else {})) for host in hosts],
                "connection": lb_connection(self._hostvars[hosts[0]])})
        return list(items.values())

    def _hooks(self, args, report, now):
        """After a wave hook (before-wave, after-wave): its failure counts like a failed host; the batch goes on only
        while the run has not stopped."""
        batch = self._var("localhost", "fleet_batch")
        report = self._wave_hook_failures(report, now)
        facts = {REPORT: report, "fleet_batch": dict(batch, go=batch["phase"] == "revert" or not report.get("stopped"))}
        if batch["phase"] == "forward":
            facts["fleet_wave_revert_walk"] = self._revert_walk(report, args)
        return facts

    def _region_gates(self):
        """{region: {health: result, traffic: result}}: the loop items the batch's region health gate and traffic gate
        registered (tasks/batch_end.yml, gate.yml), by the region each item names."""
        gates = {}
        for name, key in (("fleet_gate_health", "health"), ("fleet_gate_traffic", "traffic")):
            for item in (self._vars.get(name) or {}).get("results") or []:
                if isinstance(item, dict) and isinstance(item.get("item"), dict):
                    gates.setdefault(item["item"]["key"], {})[key] = item
        return gates

    def _settle(self, args, report, now):
        batch = self._var("localhost", "fleet_batch")
        gates = self._region_gates()
        # The canary-versus-baseline gates (tasks/baseline_gate.yml): one item per region and comparison.
        for item in (self._vars.get("fleet_gate_baseline") or {}).get("results") or []:
            if isinstance(item, dict) and isinstance(item.get("item"), list) and item["item"] and isinstance(item["item"][0], dict):
                gates.setdefault(item["item"][0]["key"], {}).setdefault("baseline", []).append(item)
        report = ledger.settle(report, batch, self._vars.get("fleet_lb_result"), gates, now)
        report = self._wave_hook_failures(report, now)
        if batch["phase"] == "forward":
            # Planned again after the hooks: a failure recorded there may send more hosts back.
            return {REPORT: report, "fleet_wave_revert_walk": self._revert_walk(report, args)}
        return {REPORT: report}

    def _prepared(self, args, report, now):
        regions = self._var("localhost", "fleet_bg_regions") or {}
        activations = {host: self._var(host, ACTIVATION) or {} for row in regions.values() for host in row["prepare"]}
        report, flip = ledger.bg_prepared(report, regions, activations, now)
        return {REPORT: report, "fleet_bg_flip": flip}

    def _flipped(self, args, report, now):
        regions = self._var("localhost", "fleet_bg_regions") or {}
        flips = self._by_item(self._vars.get("fleet_bg_flipped"))
        report, back = ledger.bg_flipped(report, regions, flips, self._by_item(self._vars.get("fleet_bg_verified")), now)
        if is_rollback(report.get("operation")):
            # A rollback never flips back: each host's outcome is final now, for the run line its mark writes.
            report = ledger.bg_done(report, regions, flips, {}, now)
        return {REPORT: report, "fleet_bg_back": back}

    def _flipped_back(self, args, report, now):
        regions = self._var("localhost", "fleet_bg_regions") or {}
        marks = {host: self._var(host, "fleet_bg_marked") for row in regions.values() for host in row["serving"] + row["idle"]}
        return {REPORT: ledger.bg_done(report, regions, self._by_item(self._vars.get("fleet_bg_flipped")),
                                       self._by_item(self._vars.get("fleet_bg_flipped_back")), now, marks=marks)}

    @staticmethod
    def _by_item(loop_result):
        return {item["item"]: item for item in (loop_result or {}).get("results") or []
                if isinstance(item, dict) and not item.get("skipped") and item.get("item") is not None}

    def _pause(self, args, report, now):
        """A manual pause after the batch's wave (tasks/pause.yml): where and since when, and which locks to keep
        alive for how long (fleet_pause)."""
        batch = self._var("localhost", "fleet_batch") or {}
        report, pause = ledger.pause_begin(report, batch, args["run_timeout"], args["pause_timeout"], args["lock_ttl"], now)
        return {REPORT: report, "fleet_pause": pause}

    def _resume(self, args, report, now):
        """The pause is over (fleet_pause_wait: the poll of the control record; fleet_pause_extended: the host locks
        kept alive): promote goes on, abort stops the run and a deploy reverts what it touched."""
        extended = self._by_item(self._vars.get("fleet_pause_extended"))
        wait = self._vars.get("fleet_pause_wait")
        if not isinstance(wait, dict) or wait.get("skipped"):
            # The run could not pause (no control record written): its failure is why the run stops.
            wait = dict(self._vars.get("fleet_pause_record") or {}, failed=True)
        report, entry = ledger.pause_end(report, wait, extended, now)
        return {REPORT: report, "fleet_wave_revert_walk": self._revert_walk(report, args), "fleet_pause_outcome": entry}

    # -- weighted canaries (issue 19; module_utils/_canary_weights.py) -------------------------------------------

    def _canary_setting(self):
        return self._var("localhost", "fleet_canary") or {}

    def _canary(self, args, report, now):
        """A weight step of the batch's wave (tasks/canary_step.yml): the wave's canaries in rotation go to ``percent``
        of their configured weight (fleet_canary_step: the lb_pool items), and their regions are gated again."""
        batch = self._var("localhost", "fleet_batch") or {}
        percent = canary.step_percent(args["percent"], "percent")
        hosts = {} if report.get("stopped") else canary.step_hosts(report, batch.get("wave"))
        percents = {host: percent for region_hosts in hosts.values() for host in region_hosts}
        report = canary.record_weights(report, batch, percents, now)
        todo = self._lb_items(hosts, "ready", canary.member_weights(self._canary_setting(), percents, self._hostvars))
        gate = [{"key": region, "leader": region_hosts[0]} for region, region_hosts in hosts.items()]
        return {REPORT: report, "fleet_canary_step": {"wave": batch.get("wave"), "percent": percent, "todo": todo},
                "fleet_batch": dict(batch, gate=gate)}

    def _canary_gated(self, args, report, now):
        """After a weight step: a failed weight change or gate counts like a failed host (beyond fleet_max_fail the run
        stops, a deploy reverts, and the revert puts every host back at full weight)."""
        batch = self._var("localhost", "fleet_batch") or {}
        step = self._var("localhost", "fleet_canary_step") or {}
        failures = [{"host": "(load balancer)", "region": region, "phase": "canary weight", "wave": batch.get("wave"),
                     "message": "setting the canaries to %s%% of their weight failed: %s" % (step.get("percent"), message)}
                    for region, message in _wave_report.region_failures(self._vars.get("fleet_lb_result")).items()]
        report = _wave_report.merge(report, {}, failures, now)
        before = len(report.get("failures") or [])
        report = _wave_report.record_gates(report, batch, self._region_gates(), now)
        failed = {failure["region"] for failure in failures + (report.get("failures") or [])[before:]}
        report = canary.record_step_result(report, batch.get("wave"), step.get("percent"), failed)
        return {REPORT: report, "fleet_wave_revert_walk": self._revert_walk(report, args)}

    def _finish(self, args, report, now):
        report = ledger.finish(self._wave_hook_failures(report, now), now)
        return {REPORT: report, "fleet_run_summary": _wave_report.summary(report),
                "fleet_run_locked": ledger.still_locked(report, self._play_hosts())}

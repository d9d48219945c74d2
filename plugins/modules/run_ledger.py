#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/run_ledger.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: run_ledger
short_description: Keep the run ledger of a deploy or rollback, step by step, on the controller
version_added: 0.1.0
description:
  - The state machine of a run of C(playbooks/deploy.yml) and C(playbooks/rollback.yml) (and of the C(waves) role). Each
    step runs once (C(run_once), C(delegate_to=localhost), C(delegate_facts=true)), on the controller only; it reads the
    registered results of the step's tasks from the hosts' variables itself, records them in the run report
    C(fleet_run_report) (see C(docs/run-report.md)), decides whether the run goes on, stops or reverts, and returns the
    report and what the next tasks need as facts of C(localhost).
  - "O(step=plan): after the preflight; judges a rollback's targets from each host's read under its lock
    (C(fleet_lock_taken.info): the rollback target, an interrupted run to undo or finish, O(release), the target's
    configuration snapshot) and refuses with a table of host -> problem; for a deploy, what each host needs from the
    same read (its current release, an unfinished operation) and its unpack (C(fleet_deploy_snapshot): whether its
    configuration changed), with O(release) as every host's target. It plans the waves over the hosts that need a
    change, hosts an earlier run left out of
    rotation (from the load balancers read by the preflight, C(fleet_wave_lb)) included. Sets C(fleet_run_report),
    C(fleet_wave_walk) (the hosts and C(serial) of the walk plays), C(fleet_wave_plan), C(fleet_wave_revert_walk),
    C(fleet_run_regions) and, for blue/green, C(fleet_bg_hosts). The operation comes from the run record of
    M(fleetops.release.run_guard) and the actor from the controller, never from a variable."
  - "O(step=batch): at the start of each batch of the walk (the play's current hosts); checks the run's deadline
    (O(run_timeout)) before a forward batch and sets C(fleet_batch): the batch, whether it goes (C(go)) and the
    members each region's load balancer drains. O(step=hooks) records a wave hook's failure (C(fleet_wave_hook_failures))."
  - "O(step=switched): after the drain (C(fleet_lb_result)) and the activations (each host's C(fleet_wave_activation),
    C(fleet_wave_checks) and C(fleet_hook_failures)); names the healthy hosts to enable per region and the regions to
    gate. O(step=settle): after the enable (C(fleet_lb_result)) and the gates (C(fleet_gate_health),
    C(fleet_gate_traffic)): the batch's outcomes and failures, whether the run stops, and the revert walk of a deploy."
  - "Blue/green: O(step=plan) also decides which regions flip (from each region's active pool, read by the
    C(pools) tasks, C(fleet_bg_read)) and, for a rollback, refuses serving pools without one common target or idle
    pools that do not run it; then O(step=prepared) (the idle pools' activations), O(step=flipped) (the flips
    C(fleet_bg_flipped) and their checks C(fleet_bg_verified): which regions flip back), O(step=flipped_back) (where
    each region stands)."
  - "O(step=pause) (a manual pause after a wave, C(fleet_wave_pause=manual), issue 19): records where and since when
    the run holds (C(paused) in the report) and sets C(fleet_pause): the locks still held and the seconds they must
    last (O(run_timeout), O(pause_timeout), O(lock_ttl)). O(step=resume) reads the poll of the control record
    (C(fleet_pause_wait)) and the host locks kept alive (C(fleet_pause_extended)): the time paused moves the run's
    deadline; an abort (by an operator or at the timeout) is a failure that stops the run, and a deploy reverts what it
    touched, as after a failed gate. See C(docs/rollout-control.md)."
  - "Weighted canaries (C(fleet_canary_weights), issue 19): O(step=plan) takes O(canary_weights) and
    O(canary_step_pause), each host's configured weight from C(fleet_wave_lb), and plans hosts found below it; the
    enable of O(step=switched) carries each member's weight (a weighted wave's first step; full weight back for a
    revert or a host found reduced). O(step=canary) raises the wave's canaries to O(percent) (C(fleet_canary_step): the
    load-balancer items) and names their regions to gate; O(step=canary_gated) records the weight change
    (C(fleet_lb_result)) and the gates like O(step=settle) does. The steps taken are the report's C(canary_steps)."
  - O(step=finish) closes the report (status, time to recover) and sets C(fleet_run_summary), the summary table.
  - A step never fails over what it reads. When it cannot record a step (a result it cannot read, a revert it cannot
    plan), the run stops with a failure saying so (phase C(ledger <step>)) and a deploy reverts what it touched; only
    O(step=plan) fails the task, before any change, with one message.
author:
  - fleetops maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Records the run on the controller and changes nothing on any host; in check mode the walk is empty.
  diff_mode:
    support: none
    description: Changes nothing on any host.
  idempotent:
    support: none
    description: Each step records the moment it runs.
options:
  step:
    description: The step to record (see the description).
    type: str
    required: true
    choices: [plan, batch, hooks, switched, settle, prepared, flipped, flipped_back, finish, pause, resume, canary, canary_gated]
  phase:
    description: With O(step=batch), whether the batch belongs to the forward walk or to the revert walk of a deploy.
    type: str
    default: forward
    choices: [forward, revert]
  run_id:
    description: With O(step=plan), the run id that M(fleetops.release.run_guard) (step=start) issued in this process.
    type: str
  reason:
    description: With O(step=plan), why the run was started (C(fleet_reason)).
    type: str
    default: ""
  strategy:
    description: With O(step=plan), C(fleet_strategy).
    type: str
    default: rolling
    choices: [rolling, blue_green]
  on_failure:
    description: With O(step=plan), what a failure does (C(fleet_wave_on_failure)); V(revert) puts every touched host back.
    type: str
    default: revert
    choices: [revert, stop]
  max_fail:
    description: With O(step=plan), how many failures the run tolerates before it stops (C(fleet_max_fail)).
    type: int
    default: 0
  waves:
    description: With O(step=plan), C(fleet_waves) (see P(fleetops.release.wave_plan#filter)), or its YAML text.
    type: raw
  mode:
    description: With O(step=plan), C(fleet_wave_mode).
    type: str
    default: lockstep
  region_order:
    description: With O(step=plan), C(fleet_region_order).
    type: raw
  min_healthy:
    description: C(fleet_min_healthy), for the plan and for the revert walk.
    type: raw
  run_timeout:
    description: With O(step=batch) and O(step=pause), C(fleet_run_timeout), the run's deadline in seconds from its start
      (V(0) none); time spent paused moves it.
    type: raw
    default: 0
  pause_timeout:
    description: With O(step=pause), C(fleet_wave_pause_timeout), the longest the pause may last.
    type: raw
    default: 3600
  lock_ttl:
    description: With O(step=pause), C(fleet_lock_ttl), how long the locks outlive the run's deadline (V(0) never expire).
    type: raw
    default: 0
  canary_weights:
    description: With O(step=plan), C(fleet_canary_weights) (checked before by M(fleetops.release.run_inputs)).
    type: raw
    default: []
  canary_step_pause:
    description: With O(step=plan), C(fleet_canary_step_pause), seconds or V(manual).
    type: raw
    default: 0
  percent:
    description: With O(step=canary), the step's percentage of the configured weight (1 to 100).
    type: raw
  release:
    description: With O(step=plan), a deploy's release (C(fleet_release)), every host's target; a rollback's named target
      (C(fleet_release)), without which each host goes to its own rollback target.
    type: str
  allow_mixed_targets:
    description: With O(step=plan), let a rollback's hosts end on different releases (C(fleet_allow_mixed_targets)).
    type: bool
    default: false
  check_snapshots:
    description: With O(step=plan), a rollback restores configuration, so each target's snapshot must be intact.
    type: bool
    default: false
  allow_missing_config:
    description: With O(step=plan) and O(check_snapshots), accept a target without a snapshot (C(fleet_config_allow_missing)).
    type: bool
    default: false
  extras:
    description:
      - With O(step=plan), whether the walk has extras (hooks, extra health checks, a traffic gate, a bake time). The
        walk is then made by the play with those tasks (C(batch_extras)); without them each host of a batch runs one
        task, its activation, and the batch runs no skipped step for them.
    type: bool
    default: false
seealso:
  - module: fleetops.release.run_guard
  - plugin: fleetops.release.wave_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Plan the run in the run ledger
  fleetops.release.run_ledger:
    step: plan
    run_id: "{{ fleet_run_id }}"
    waves: [1, "50%", "100%"]
    min_healthy: 1
  run_once: true
  delegate_to: localhost
  delegate_facts: true

- name: Settle the batch in the run ledger
  fleetops.release.run_ledger:
    step: settle
    min_healthy: 1
  run_once: true
  delegate_to: localhost
  delegate_facts: true
"""

RETURN = r"""
ansible_facts:
  description: The run report and what the next tasks need (facts of the delegated host, C(localhost)).
  returned: always
  type: dict
  contains:
    fleet_run_report:
      description: The run report after this step (C(docs/run-report.md)).
      type: dict
      returned: always
    fleet_wave_walk:
      description: The walk (C(hosts), C(sizes) for C(serial), C(batches), C(batch_of), C(extras)).
      type: dict
      returned: with O(step=plan)
    fleet_wave_revert_walk:
      description: The revert walk of a deploy (same shape), planned again after every forward step.
      type: dict
      returned: with O(step=plan), O(step=batch), O(step=hooks) and O(step=settle) of a forward batch
    fleet_batch:
      description: The current batch (hosts, regions, C(go), C(drain), then C(enable) and C(gate)).
      type: dict
      returned: with O(step=batch), O(step=hooks) and O(step=switched)
    fleet_canary:
      description:
        - Weighted canaries - C(weights) (wave number as a string -> steps), C(step_pause) (C(kind), C(seconds)) and
          C(full) (host -> configured weight read by the load-balancer preflight).
      type: dict
      returned: with O(step=plan)
    fleet_canary_step:
      description: The weight step (C(wave), C(percent)) and its C(todo), the loop items of the load-balancer task.
      type: dict
      returned: with O(step=canary)
    fleet_run_summary:
      description: The summary table of the finished run.
      type: str
      returned: with O(step=finish)
    fleet_run_locked:
      description:
        - The hosts whose lock the run's last play still releases (with their run line); a host whose activation
          released it with the outcome it ended with is not listed.
      type: list
      elements: str
      returned: with O(step=finish)
"""

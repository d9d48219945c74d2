# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: wave_report
short_description: Record a step of a deploy or rollback in its run report
version_added: 0.1.0
author:
  - fleetops maintainers (!UNKNOWN)
description:
  - The waves of C(playbooks/deploy.yml) and C(playbooks/rollback.yml) keep one run report (the fact
    C(fleet_run_report) on the controller). This filter returns the report with one more step recorded in it; it never
    changes its input. The report's shape is described in C(docs/run-report.md).
  - V(start) makes a new report from O(_input) (the run's identity) and O(hosts) and O(plan).
  - V(switch) records a batch after its hosts were drained, put live and checked; the report's C(live) lists the
    hosts to enable. V(enable) records the enable step and settles the batch. V(gates) records region gates.
    V(hook) records a failed wave hook. V(merge) records outcomes decided elsewhere (blue/green flips). V(finish) closes the report (status, time to recover).
  - V(deadline), before each batch of the walk, keeps the run's C(deadline) (its C(started) plus O(timeout)) in the
    report; past it the run stops and fails with a failure naming the deadline (phase C(deadline)), and a deploy's
    C(revert) lists every host it touched.
  - V(summary) returns the summary table of a report as text instead of a report.
  - A failure counts against the report's C(max_fail); beyond it the report is C(stopped), and C(revert) lists the
    hosts to put back (for a deploy).
positional: _input, event
options:
  _input:
    description:
      - The report; for V(start), the run's identity (C(run_id), C(operation), C(actor), C(reason), C(limit),
        C(strategy), C(mode), C(on_failure), C(max_fail), C(started)).
    type: dict
    required: true
  event:
    description: The step to record.
    type: str
    choices: [start, switch, enable, gates, hook, merge, finish, deadline, summary]
    required: true
  now:
    description: The time of the step, seconds since the epoch (C(now().timestamp())). Required except for V(summary).
    type: float
  hosts:
    description:
      - For V(start), every host of the run with C(region), C(from), C(to) and C(needed).
      - For V(merge), the fields to update per host (such as C(outcome)).
    type: dict
  failures:
    description: For V(merge), failures to add (C(host), C(region), C(phase), C(wave), C(message)).
    type: list
    elements: dict
  stop:
    description: For V(merge), stop the run whatever the failure budget.
    type: bool
    default: false
  plan:
    description: For V(start), the plan from P(fleetops.release.wave_plan#filter).
    type: list
    elements: dict
  timeout:
    description:
      - For V(deadline), the run's time limit in seconds from its start (C(fleet_run_timeout)); V(0) means no deadline.
        Whole seconds, as a number or a string of digits.
    type: raw
  batch:
    description: For V(switch), V(enable) and V(gates), the batch of the plan; for V(deadline), the batch about to start.
    type: dict
  phase:
    description: For V(switch) and V(enable), V(forward) or V(revert).
    type: str
  drain:
    description: For V(switch), the registered result of the drain task, looped over the batch's regions.
    type: dict
  host_results:
    description: For V(switch), per host of the batch C(activation), C(checks) (registered results) and C(hook_failure).
    type: dict
  started:
    description: For V(switch), when the batch started.
    type: float
  enable:
    description: For V(enable), the registered result of the enable task, looped over the batch's regions.
    type: dict
  gates:
    description: For V(gates), per region the registered results C(health) and C(traffic).
    type: dict
  hook:
    description: For V(hook), the hook's name.
    type: str
  failure:
    description: For V(hook), the failure (C(host), C(region), C(wave), C(message)); empty when the hook passed.
    type: dict
"""

EXAMPLES = r"""
- name: Record the batch
  ansible.builtin.set_fact:
    fleet_run_report: >-
      {{ hostvars.localhost.fleet_run_report | fleetops.release.wave_report('enable', batch=fleet_batch,
         phase='forward', enable=fleet_wave_enable, now=now().timestamp()) }}
  run_once: true
  delegate_to: localhost
  delegate_facts: true

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ hostvars.localhost.fleet_run_report | fleetops.release.wave_report('summary') }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: The report with the step recorded (for V(summary), the table as text).
  type: raw
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.release.plugins.module_utils import _wave_report

# The options each event needs, in the order the module_utils functions take them after the report.
EVENT_OPTIONS = {
    "switch": ("batch", "phase", "drain", "host_results", "now"),
    "enable": ("batch", "phase", "enable", "now"),
    "gates": ("batch", "gates", "now"),
    "hook": ("hook", "failure", "now"),
    "merge": ("hosts", "failures", "now"),
    "finish": ("now",),
    "deadline": ("timeout", "now", "batch"),
}


def wave_report(report, event, **options):
    if not isinstance(report, Mapping):
        raise AnsibleFilterError("wave_report: the input must be a run report (a dict), got %r" % (report,))
    try:
        if event == "summary":
            return _wave_report.summary(report)
        if event == "start":
            missing = [name for name in ("hosts", "plan", "now") if name not in options]
            if missing:
                raise AnsibleFilterError("wave_report: start needs %s" % ", ".join(missing))
            return _wave_report.start(report, options["hosts"], options["plan"], float(options["now"]))
        if event not in EVENT_OPTIONS:
            raise AnsibleFilterError("wave_report: unknown event %r: use one of start, %s, summary"
                                     % (event, ", ".join(EVENT_OPTIONS)))
        names = EVENT_OPTIONS[event]
        optional = ("drain", "enable", "failure", "failures") + (("batch",) if event == "deadline" else ())
        missing = [name for name in names if name not in options and name not in optional]
        if missing:
            raise AnsibleFilterError("wave_report: %s needs %s" % (event, ", ".join(missing)))
        args = [float(options[name]) if name == "now" else options.get(name) for name in names]
        if event == "switch":
            return _wave_report.record_switch(report, *args, started=options.get("started"))
        if event == "merge":
            return _wave_report.merge(report, *args, stop=bool(options.get("stop")))
        return _wave_report.EVENTS[event](report, *args)
    except _wave_report.WaveReportError as exc:
        raise AnsibleFilterError("wave_report: %s: %s" % (event, exc))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("wave_report: %s: this report or result is not what the waves produce (%s)"
                                 % (event, exc))


class FilterModule:

    def filters(self):
        return {"wave_report": wave_report}

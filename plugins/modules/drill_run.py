#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the action plugin plugins/action/drill_run.py does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_run
short_description: Run deploy.yml or rollback.yml of this collection for a drill, as their own ansible-playbook
version_added: 0.1.0
description:
  - Starts C(ansible-playbook) with the collection's C(playbooks/deploy.yml) or C(playbooks/rollback.yml) on the
    controller, as an operator would, with the drill's inventory, its command-line options (private key, user,
    connection, become, vault, forks, verbosity) and extra variables, C(--limit) to O(hosts), and O(extra_vars) last
    (they win). The run takes its own locks, is judged by the guard and writes its own audit record.
  - "Why a process of its own: a deploy stopped by its gates ends its C(ansible-playbook) with a failure, as in
    production, and a failed C(ansible-playbook) runs no later play; the drill must still check the end state and report."
  - Waits at most O(timeout) seconds; then the run is stopped with its whole process group.
  - The task does not fail when the run fails (that is what the drill measures); RV(exit_status), RV(failures) and the run's
    audit record say how it ended. It fails when it cannot start the run, in check mode, and when the drill was started
    with a password prompt that the run could not answer.
author:
  - fleetops maintainers (!UNKNOWN)
extends_documentation_fragment:
  - fleetops.release.drill.actions
attributes:
  idempotent:
    description: Every call runs the playbook again.
    support: none
options:
  playbook:
    description: Which playbook of the collection to run.
    type: str
    required: true
    choices: [deploy, rollback]
  step:
    description: What the run is for in the drill (the fault, the recovery, or the way forward again); recorded.
    type: str
    required: true
    choices: [fault, recover, forward]
  hosts:
    description: The drill's hosts; the run gets them as C(--limit).
    type: list
    elements: str
    required: true
  extra_vars:
    description: Variables of the run (C(fleet_release), C(fleet_artifact), C(fleet_reason), ...), given after the drill's own.
    type: dict
    default: {}
  allow_bad_release:
    description:
      - Give the run C(fleet_allow_bad_release=true), so that it may go to a release marked bad (the rollback drill's way
        forward again goes back to the release its rollback marked bad).
    type: bool
    default: false
  timeout:
    description: Seconds the run may take.
    type: int
    default: 1800
  log:
    description: File on the controller that receives the run's whole output.
    type: path
seealso:
  - module: fleetops.release.drill_plan
"""

EXAMPLES = r"""
- name: Deploy the broken release (the fault)
  fleetops.release.drill_run:
    playbook: deploy
    step: fault
    hosts: "{{ ansible_play_hosts_all }}"
    extra_vars:
      fleet_release: 2026.11.26-drill
      fleet_artifact: dist/shop-broken-health.tar.gz
      fleet_reason: "drill 20261126T210405Z-4821: fault"
  run_once: true
  register: fleet_drill_fault_run
"""

RETURN = r"""
exit_status:
  description: Exit status of the run (V(null) when it was stopped at its timeout).
  returned: success
  type: int
  sample: 2
timed_out:
  description: Whether the run was stopped at O(timeout).
  returned: success
  type: bool
  sample: false
started:
  description: When the run started (seconds since the epoch, controller clock).
  returned: success
  type: float
  sample: 1764191045.2
finished:
  description: When it ended.
  returned: success
  type: float
  sample: 1764191102.9
elapsed:
  description: Seconds it took.
  returned: success
  type: float
  sample: 57.7
playbook:
  description: O(playbook).
  returned: success
  type: str
  sample: deploy
step:
  description: O(step).
  returned: success
  type: str
  sample: fault
log:
  description: O(log).
  returned: success
  type: str
  sample: /tmp/fleetops-drill-x1/fault.log
command:
  description: The command run (the drill's variables shown as a placeholder).
  returned: success
  type: list
  elements: str
  sample: ["/venv/bin/ansible-playbook", "-i", "inventory", "--limit", "eu-1,eu-2", "-e", "<variables of the drill>", "deploy.yml"]
run_id:
  description: The id of the run, as its output names it (V(null) when it named none).
  returned: success
  type: str
  sample: "20261126T210405Z-4821"
failures:
  description: The tasks that failed and were not ignored, each with its C(host) and C(msg).
  returned: success
  type: list
  elements: dict
  sample: [{"host": "eu-1", "msg": "deploy run 20261126T210405Z-4821 failed and was reverted: ..."}]
output_tail:
  description: The last lines of the run's output.
  returned: success
  type: str
  sample: "PLAY RECAP ..."
"""

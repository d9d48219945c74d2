#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drill_probe
short_description: Measure a fleet from outside during a drill, through each region's load balancer
version_added: 0.1.0
description:
  - Sends GET requests to each region's load balancer (one thread per region, one request every O(interval) seconds
    each) and appends one JSON line per answer to O(output) as soon as it comes, with the time it was sent, the region,
    the HTTP status (V(0) when nothing answered), the release and host the answer names, and the latency.
  - It is bounded, and stops at the first of O(max_seconds), O(max_requests), or the existence of O(stop_file).
  - Meant to run on the controller in the background for the whole drill (C(async) with C(poll=0), stopped by creating
    O(stop_file) and waited for with M(ansible.builtin.async_status)); the drill role does that.
  - An answer names its release as JSON with C(release) (and C(host)), as C(fleet_health_url) must, or as a text line
    C(release <id> on <host>).
extends_documentation_fragment:
  - fleetops.release.common.attributes
attributes:
  check_mode:
    support: none
    details: It only reads, but a probe in check mode would measure nothing worth keeping.
  diff_mode:
    support: none
  idempotent:
    support: N/A
    details: It measures; every run appends new records.
options:
  targets:
    description: Region name -> the URL of its load balancer (for example C(http://lb.eu.example.com/)).
    type: dict
    required: true
  path:
    description: Path requested from each load balancer.
    type: str
    default: /
  output:
    description: File the records are appended to (one JSON document per line).
    type: path
    required: true
  stop_file:
    description: The probe stops once this file exists.
    type: path
    required: true
  interval:
    description: Seconds each region's thread waits between its requests.
    type: float
    default: 0.1
  timeout:
    description: Seconds a request may take before it counts as unanswered (status V(0)).
    type: float
    default: 2.0
  max_seconds:
    description: The probe stops after this many seconds at the latest.
    type: int
    default: 900
  max_requests:
    description: The probe stops after this many requests in all at the latest.
    type: int
    default: 50000
seealso:
  - module: fleetops.release.drill_report
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Measure from outside while the drill runs
  fleetops.release.drill_probe:
    targets: {eu: "http://lb.eu.example.com/", us: "http://lb.us.example.com/"}
    output: /tmp/drill/probe.jsonl
    stop_file: /tmp/drill/probe.stop
    max_seconds: 900
  delegate_to: localhost
  run_once: true
  async: 960
  poll: 0
  register: fleet_drill_probe_job
"""

RETURN = r"""
requests:
  description: Requests sent in all.
  returned: always
  type: int
  sample: 4210
seconds:
  description: How long the probe ran.
  returned: always
  type: float
  sample: 140.2
stopped_by:
  description: What stopped it (V(stop_file), V(max_seconds) or V(max_requests)).
  returned: always
  type: str
  sample: stop_file
regions:
  description: The regions probed.
  returned: always
  type: list
  elements: str
  sample: [eu, us]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._drill_probe import Probe


def main():
    module = AnsibleModule(
        argument_spec={
            "targets": {"type": "dict", "required": True},
            "path": {"type": "str", "default": "/"},
            "output": {"type": "path", "required": True},
            "stop_file": {"type": "path", "required": True},
            "interval": {"type": "float", "default": 0.1},
            "timeout": {"type": "float", "default": 2.0},
            "max_seconds": {"type": "int", "default": 900},
            "max_requests": {"type": "int", "default": 50000},
        },
        supports_check_mode=False,
    )
    params = module.params
    bad = [str(region) for region, url in (params["targets"] or {}).items() if not isinstance(url, str) or "://" not in url]
    if bad:
        module.fail_json(msg="targets: give each region the URL of its load balancer (http://...); not a URL for: %s" % ", ".join(bad))
    try:
        probe = Probe(params["targets"], params["output"], params["stop_file"], path=params["path"], interval=params["interval"],
                      timeout=params["timeout"], max_seconds=params["max_seconds"], max_requests=params["max_requests"])
        summary = probe.run()
    except (OSError, ValueError) as exc:
        module.fail_json(msg="drill_probe: %s" % exc)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()

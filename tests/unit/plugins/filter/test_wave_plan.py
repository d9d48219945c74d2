# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The wave_plan filter: grouping hosts by region, passing options through, turning errors into filter errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.wave_plan import FilterModule, wave_plan

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
HOSTS = ["eu-1", "us-1", "ap-1", "eu-2", "us-2", "ap-2", "eu-3", "us-3", "ap-3", "eu-4", "us-4", "ap-4"]
REGIONS = {host: host.split("-", maxsplit=1)[0] for host in HOSTS}


def batches(plan):
    return [[batch["hosts_by_region"] for batch in wave["batches"]] for wave in plan]


def test_registered_under_its_name():
    assert FilterModule().filters() == {"wave_plan": wave_plan}


def test_groups_hosts_by_region_in_their_order():
    plan = wave_plan(HOSTS, regions=REGIONS)
    assert batches(plan) == [
        [{"eu": ["eu-1"], "us": ["us-1"], "ap": ["ap-1"]}],
        [{"eu": ["eu-2"], "us": ["us-2"], "ap": ["ap-2"]}],
        [{"eu": ["eu-3", "eu-4"], "us": ["us-3", "us-4"], "ap": ["ap-3", "ap-4"]}],
    ]


def test_reads_the_region_from_host_variables():
    hostvars = {host: {"fleet_region": region, "other": 1} for host, region in REGIONS.items()}
    assert wave_plan(HOSTS, regions=hostvars) == wave_plan(HOSTS, regions=REGIONS)
    renamed = {host: {"dc": region} for host, region in REGIONS.items()}
    assert wave_plan(HOSTS, regions=renamed, region_var="dc") == wave_plan(HOSTS, regions=REGIONS)


def test_passes_the_options_through():
    plan = wave_plan(HOSTS, regions=REGIONS, waves=["50%", "100%"], mode="sequential", region_order=["ap"],
                     min_healthy={"eu": 2})
    assert [w["regions"] for w in plan] == [["ap"], ["ap"], ["eu"], ["eu"], ["us"], ["us"]]
    assert batches(plan)[2] == [{"eu": ["eu-1", "eu-2"]}]
    assert batches(plan)[3] == [{"eu": ["eu-3", "eu-4"]}]
    assert plan[2]["min_healthy"]["eu"] == 2


def test_none_means_the_defaults():
    assert wave_plan(HOSTS, regions=REGIONS, waves=None, mode=None, region_order=None, min_healthy=None) == \
        wave_plan(HOSTS, regions=REGIONS)


@pytest.mark.parametrize("hosts, regions, kwargs, message", [
    ("eu-1", REGIONS, {}, "the input must be a list of hosts"),
    (HOSTS, ["eu"], {}, "regions must map each host"),
    (HOSTS + ["mars-1"], REGIONS, {}, "host 'mars-1' has no entry in regions"),
    (["eu-1", "eu-1"], REGIONS, {}, "host 'eu-1' is listed twice"),
    (["eu-1", None], REGIONS, {}, "host names must be non-empty strings"),
    (["eu-1"], {"eu-1": ""}, {}, "host 'eu-1' has region '': a region must be a non-empty string"),
    (["eu-1"], {"eu-1": {"region": "eu"}}, {}, "host 'eu-1' has no variable 'fleet_region'"),
    (HOSTS, REGIONS, {"region_var": ""}, "region_var must be a variable name"),
    (HOSTS, REGIONS, {"waves": [1, "50%"]}, "wave_plan: the last wave is '50%'"),
    (HOSTS, REGIONS, {"mode": "yolo"}, "wave_plan: mode must be one of"),
    (["eu-1", "us-1"], REGIONS, {}, "wave_plan: region 'eu' has 1 host"),
])
def test_errors_are_filter_errors(hosts, regions, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        wave_plan(hosts, regions=regions, **kwargs)


def test_in_a_playbook_with_hostvars(tmp_path):
    """The filter as a playbook calls it: FQCN, hostvars, run_once set_fact (local connection, no host touched)."""
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("".join("%s fleet_region=%s\n" % (host, region) for host, region in REGIONS.items()))
    result = tmp_path / "plan.json"
    playbook = tmp_path / "plan.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Plan
          hosts: all
          gather_facts: false
          connection: local
          tasks:
            - name: Plan the waves
              ansible.builtin.set_fact:
                plan: "{{ ansible_play_hosts | fleetops.release.wave_plan(regions=hostvars, waves=[1, '50%', '100%']) }}"
              run_once: true
            - name: Write the plan
              ansible.builtin.copy:
                content: "{{ plan | to_json }}"
                dest: "DEST"
              run_once: true
        """).replace("DEST", str(result)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inventory),
                          str(playbook)], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(result.read_text()) == wave_plan(HOSTS, regions=REGIONS)


def test_members_outside_the_planned_hosts_keep_serving():
    plan = wave_plan(["eu-2"], REGIONS, members=HOSTS)
    assert batches(plan) == [[{"eu": ["eu-2"]}]]
    assert plan[0]["sizes"] == {"eu": 4}
    with pytest.raises(AnsibleFilterError, match="members must be a list"):
        wave_plan(["eu-2"], REGIONS, members="eu-1")

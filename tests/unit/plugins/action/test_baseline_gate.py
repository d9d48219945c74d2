# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""baseline_gate: its documentation stub describes exactly its argument spec; its pure helpers."""

from __future__ import annotations

import importlib

import yaml

from ansible_collections.fleetops.release.plugins.action.baseline_gate import ARGUMENT_SPEC, query_url
from ansible_collections.fleetops.release.plugins.doc_fragments.health import ModuleDocFragment
from ansible_collections.fleetops.release.plugins.filter.baseline_groups import baseline_groups


def test_documentation_matches_argument_spec(spec_matches_doc):
    doc = yaml.safe_load(importlib.import_module("ansible_collections.fleetops.release.plugins.modules.baseline_gate").DOCUMENTATION)
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(doc["options"])
    spec_matches_doc(ARGUMENT_SPEC, options, "baseline_gate")


def test_query_url():
    assert query_url("http://p:9090/", 'up{instance="a:1"}') == "http://p:9090/api/v1/query?query=up%7Binstance%3D%22a%3A1%22%7D"


def test_baseline_groups_filter_builds_members_from_the_hosts_variables():
    report = {"live": ["us-1"], "hosts": {"us-1": {"region": "us", "outcome": "pending", "touched": True},
                                          "us-4": {"region": "us", "outcome": "pending"},
                                          "us-7": {"region": "us", "outcome": "pending"}}}
    hostvars = {"us-1": {"fleet_health_url": "http://10.0.0.1:8000/health"},
                "us-4": {"fleet_app_url": "https://10.0.0.4:8443", "fleet_health_url": "http://10.0.0.4:8000/health"},
                "us-7": {"fleet_health_url": "http://10.0.0.7:8000/health", "fleet_prometheus_instance": "10.0.0.7:9100"}}
    assert baseline_groups(report, "us", hostvars) == {
        "canary": [{"name": "us-1", "url": "http://10.0.0.1:8000", "instance": "10.0.0.1:8000"}],
        "baseline": [{"name": "us-4", "url": "https://10.0.0.4:8443", "instance": "10.0.0.4:8443"},
                     {"name": "us-7", "url": "http://10.0.0.7:8000", "instance": "10.0.0.7:9100"}]}

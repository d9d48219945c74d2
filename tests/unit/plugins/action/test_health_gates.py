# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The health action plugins: their documentation stubs describe exactly their argument specs, and pure helpers."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.doc_fragments.health import ModuleDocFragment
from ansible_collections.fleetops.release.plugins.doc_fragments.wait import ModuleDocFragment as WaitDocFragment
from ansible_collections.fleetops.release.plugins.module_utils._health import HealthError

PLUGINS = ("health_check", "traffic_gate", "metric_gate")


def documented_options(name):
    """The module's options with those of its doc fragments (health for all three, wait for health_check)."""
    doc = yaml.safe_load(importlib.import_module("ansible_collections.fleetops.release.plugins.modules.%s" % name).DOCUMENTATION)
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    if "fleetops.release.wait" in doc["extends_documentation_fragment"]:
        options.update(yaml.safe_load(WaitDocFragment.DOCUMENTATION)["options"])
    options.update(doc["options"])
    return options


@pytest.mark.parametrize("name", PLUGINS)
def test_documentation_matches_argument_spec(name, spec_matches_doc):
    action = importlib.import_module("ansible_collections.fleetops.release.plugins.action.%s" % name)
    spec_matches_doc(action.ARGUMENT_SPEC, documented_options(name), name)


def test_health_check_checks_the_release_on_url():
    from ansible_collections.fleetops.release.plugins.action.health_check import ARGUMENT_SPEC, build_checks
    args = {key: spec.get("default") for key, spec in ARGUMENT_SPEC.items()}
    args.update(url="http://127.0.0.1:8000/health", expected_release="v2",
                checks=[{"type": "tcp", "host": "127.0.0.1", "port": 8000, "name": None},
                        {"type": "http", "url": "http://127.0.0.1:8000/x", "json_field": "build.id", "json_value": "7", "name": "own"}])
    checks = build_checks(args)
    assert [c["name"] for c in checks] == ["http http://127.0.0.1:8000/health", "tcp 127.0.0.1:8000", "own"]
    assert (checks[0]["json_field"], checks[0]["json_value"]) == ("release", "v2")
    assert "json_field" not in checks[1] or checks[1].get("json_field") is None
    assert (checks[2]["json_field"], checks[2]["json_value"]) == ("build.id", "7")
    args.update(url=None)
    with pytest.raises(HealthError, match="expected_release is checked on url"):
        build_checks(args)
    args.update(expected_release=None, checks=[])
    with pytest.raises(HealthError, match="nothing to check"):
        build_checks(args)


def test_traffic_gate_urls_and_errors():
    from ansible_collections.fleetops.release.plugins.action.traffic_gate import urls_of
    from ansible_collections.fleetops.release.plugins.module_utils._health import answer_is_error as is_error
    assert urls_of("http://a/") == ["http://a/"]
    assert urls_of(["http://a/", "https://b/"]) == ["http://a/", "https://b/"]
    for bad in ([], "a", ["http://a/", 3]):
        with pytest.raises(HealthError, match="url must be"):
            urls_of(bad)
    assert is_error({"status": None, "error": "connection refused"}, None)
    assert is_error({"status": 503, "error": None}, None)
    assert not is_error({"status": 404, "error": None}, None)
    assert is_error({"status": 404, "error": None}, [200])


def test_metric_gate_query_url():
    from ansible_collections.fleetops.release.plugins.plugin_utils._prometheus import query_url
    assert query_url("http://p:9090/", "up == 1") == "http://p:9090/api/v1/query?query=up+%3D%3D+1"
    assert query_url("http://p:9090/api/v1/query", "up").startswith("http://p:9090/api/v1/query?query=")

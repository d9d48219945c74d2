# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.deploy_need import FilterModule, deploy_need
from ansible_collections.fleetops.release.plugins.module_utils import _run_ledger


@pytest.mark.parametrize("read, changed, expected", [
    ({"current": "v2", "pending": None}, False, {"from": "v2", "to": "v2", "needed": False}),
    ({"current": "v1"}, False, {"from": "v1", "to": "v2", "needed": True}),
    ({"current": "v2", "pending": {"from": "v1", "to": "v2"}}, False, {"from": "v1", "to": "v2", "needed": True}),
    ({"current": "v2", "pending": {}}, True, {"from": "v2", "to": "v2", "needed": True}),
    ({"current": None}, False, {"from": "", "to": "v2", "needed": True}),
])
def test_one_host_is_judged_as_the_run_ledger_judges_it(read, changed, expected):
    assert deploy_need(read, "v2", changed) == expected
    row = _run_ledger.deploy_rows({"h": read}, {"h": "eu"}, "v2", {"h": changed})["h"]
    assert row == dict(expected, region="eu")
    assert FilterModule().filters()["deploy_need"] is deploy_need


@pytest.mark.parametrize("read, release, message", [
    ("v1", "v2", "the input must be the host's read"),
    ({"current": "v1"}, "", "release must be the release id being deployed"),
])
def test_bad_input_names_what_is_wrong(read, release, message):
    with pytest.raises(AnsibleFilterError, match=message):
        deploy_need(read, release)

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.lb_members import FilterModule, lb_members

HOSTVARS = {"eu-1": {"fleet_lb_server": "web-eu-1"}, "eu-2": {}}


def test_members_use_the_server_name_else_the_host_name():
    assert lb_members(["eu-1", "eu-2"], HOSTVARS, "drain") == [
        {"server": "web-eu-1", "state": "drain"}, {"server": "eu-2", "state": "drain"}]
    assert FilterModule().filters() == {"lb_members": lb_members}


@pytest.mark.parametrize("hosts, state, message", [
    ("eu-1", "drain", "must be a list"),
    (["eu-1"], "up", "state must be one of"),
    (["xx-9"], "ready", "'xx-9' is not a host"),
])
def test_errors(hosts, state, message):
    with pytest.raises(AnsibleFilterError, match=message):
        lb_members(hosts, HOSTVARS, state)

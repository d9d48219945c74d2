# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.release_matrix import FilterModule, release_matrix


def row(host, current, reachable=True):
    return {"host": host, "region": host.split("-")[0], "reachable": reachable, "current": current}


def test_marks_the_host_that_differs_from_its_region():
    matrix = release_matrix([row("eu-1", "v2"), row("eu-2", "v1"), row("eu-3", "v2"), row("us-1", "v1"), row("us-2", "v1")])
    assert [region["name"] for region in matrix["regions"]] == ["eu", "us"]
    assert matrix["regions"][0]["majority"] == "v2" and matrix["regions"][0]["releases"] == {"v2": 2, "v1": 1}
    assert matrix["disagreeing"] == ["eu-2"]
    assert [host["differs"] for host in matrix["hosts"]] == [False, True, False, False, False]
    assert FilterModule().filters() == {"release_matrix": release_matrix}


def test_unreachable_hosts_neither_vote_nor_differ():
    matrix = release_matrix([row("eu-1", None, reachable=False), row("eu-2", "v1")])
    assert matrix["regions"][0]["majority"] == "v1" and matrix["disagreeing"] == []


def test_a_split_region_has_no_majority_and_every_host_stands_out():
    matrix = release_matrix([row("eu-1", "v1"), row("eu-2", "v2")])
    assert matrix["regions"][0]["majority"] is None and matrix["disagreeing"] == ["eu-1", "eu-2"]


@pytest.mark.parametrize("rows", ["eu-1", [{"region": "eu"}]])
def test_bad_input_is_a_filter_error(rows):
    with pytest.raises(AnsibleFilterError, match="release_matrix"):
        release_matrix(rows)

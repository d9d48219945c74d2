# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every id and name pattern matches the whole value: ``$`` also matches before a final newline, so a
pattern anchored with ``^...$`` accepted ``"r3\\n"`` (a release directory ``releases/r3\\n`` that bypassed the
known-bad mark of r3)."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._audit import day_of_file
from ansible_collections.fleetops.release.plugins.module_utils._nginx import NginxError, parse_upstream, plan_upstream
from ansible_collections.fleetops.release.plugins.module_utils._release_store import ReleaseIdError, validate_release_id


@pytest.mark.parametrize("release_id", ["r3\n", "r3\n\n", "\nr3", "r3\r"])
def test_release_id_with_a_newline_is_refused(release_id):
    with pytest.raises(ReleaseIdError):
        validate_release_id(release_id)


def test_release_id_without_newline_is_kept():
    assert validate_release_id("r3") == "r3"


def test_nginx_member_name_with_a_newline_is_refused():
    with pytest.raises(NginxError):
        plan_upstream(parse_upstream(""), [{"server": "web-1\n", "address": "127.0.0.1:8080"}])


def test_audit_day_file_name_needs_the_whole_name():
    assert day_of_file("2026-12-05.jsonl") is not None
    assert day_of_file("2026-12-05.jsonl\n") is None

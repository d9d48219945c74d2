# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the preflight read returns about configuration paths: the ones that do not exist (a deploy refuses them)."""

from __future__ import annotations

import os

from ansible_collections.fleetops.release.plugins.module_utils._host_info import host_info


def test_config_paths_that_do_not_exist_are_listed(tmp_path):
    present = tmp_path / "app.conf"
    present.write_text("x")
    dangling = tmp_path / "link.conf"
    os.symlink(str(tmp_path / "nowhere"), str(dangling))
    info = host_info(str(tmp_path / "app"), config_paths=[str(present), str(tmp_path / "typo.conf"), str(dangling)])
    # A dangling symlink exists (it is configuration too); a missing path does not.
    assert info["config_missing"] == [str(tmp_path / "typo.conf")]


def test_no_config_paths_nothing_missing(tmp_path):
    assert host_info(str(tmp_path / "app"))["config_missing"] == []

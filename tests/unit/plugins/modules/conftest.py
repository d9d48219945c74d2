# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module's main() in-process with given arguments and return its JSON result."""

from __future__ import annotations

import importlib
import io
import json
import tarfile

import pytest
from ansible.module_utils.testing import patch_module_args


@pytest.fixture(name="tarball")
def fixture_tarball():
    """A function that writes a .tar.gz holding one file VERSION with the release name."""
    def build(path, name):
        with tarfile.open(path, "w:gz") as archive:
            info = tarfile.TarInfo("VERSION")
            info.size = len(name)
            archive.addfile(info, io.BytesIO(name.encode()))
        return str(path)
    return build


@pytest.fixture(name="run_module")
def fixture_run_module(capsys):
    def run(name, args, check_mode=False, diff=False):
        module = importlib.import_module("ansible_collections.fleetops.release.plugins.modules.%s" % name)
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit):
            module.main()
        return json.loads(capsys.readouterr().out)
    return run

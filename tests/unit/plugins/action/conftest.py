# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the action plugins' tests share: the controller they run on, and the check of a documentation-only module's
options against its action plugin's argument spec."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils import _identity


@pytest.fixture(name="controller")
def fixture_controller(tmp_path, monkeypatch):
    """Run records in a temporary home, one 'ansible-playbook' pid throughout, the OS user alice, no AWX environment.
    Returns the temporary directory."""
    monkeypatch.setattr(_identity, "runs_dir", lambda: str(tmp_path / "runs"))
    monkeypatch.setattr(_identity, "playbook_pid", lambda: 4242)
    monkeypatch.setattr(_identity, "os_user", lambda: "alice")
    monkeypatch.delenv("JOB_ID", raising=False)
    monkeypatch.delenv("AWX_PRIVATE_DATA_DIR", raising=False)
    return tmp_path


def compare_spec_to_doc(spec, options, where):
    """Validate-modules skips documentation-only modules: this is the same check, done here."""
    assert sorted(spec) == sorted(options), where
    for key, arg in spec.items():
        doc = options[key]
        assert doc.get("type", "str") == arg.get("type", "str"), (where, key)
        assert doc.get("default") == arg.get("default"), (where, key)
        assert doc.get("required", False) == arg.get("required", False), (where, key)
        assert doc.get("choices") == arg.get("choices"), (where, key)
        assert doc.get("elements") == arg.get("elements"), (where, key)
        if "options" in arg:
            compare_spec_to_doc(arg["options"], doc["suboptions"], "%s.%s" % (where, key))


@pytest.fixture(name="spec_matches_doc")
def fixture_spec_matches_doc():
    """compare_spec_to_doc(spec, documented options, where)."""
    return compare_spec_to_doc

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugin_utils/_drill_picture.py: the drill's picture, drawn with matplotlib, is a valid SVG that carries the plotted
series and the marks (ids and metadata); without matplotlib it says which package is missing."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils import _drill_picture

SVG = "{http://www.w3.org/2000/svg}"
DC = "{http://purl.org/dc/elements/1.1/}"


def rows(shares, errors):
    return [{"t": float(t), "requests": 10, "failed": int(errors[t] * 10), "error_rate": errors[t], "releases": shares[t]}
            for t in range(len(shares))]


REPORT = {
    "run_id": "20261205T200000Z-1", "fault": "broken_health", "group": "staging", "ok": True, "started": 1000.0,
    "finished": 1030.0, "series_start": 999.0,
    "marks": {"fault": 1001.0, "detected": 1005.5, "recovery_start": 1005.5, "recovery_end": 1008.25},
    "series": {
        "eu": rows([{"r2": 1.0}] * 5 + [{"r2": 0.5, "r9 bad/1": 0.5}] * 4 + [{"r2": 1.0}] * 6, [0.0] * 5 + [0.4] * 4 + [0.0] * 6),
        "us": rows([{"r2": 1.0}] * 15, [0.0] * 15),
    },
}


def test_the_picture_is_a_valid_svg_with_the_series_and_the_marks():
    text = _drill_picture.render_svg(REPORT)
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == SVG + "svg"
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    for region in ("eu", "us"):
        for name in ("fault", "detected", "recovery_start", "recovery_end"):
            assert "mark-%s-%s" % (name, region) in ids
        assert "error-rate-%s" % region in ids and "release-r2-%s" % region in ids
        assert "release-r9_bad_1-%s" % region in ids  # an id from a release name no XML id could hold
    # Each mark's line is drawn where its time is: the x of its path grows with the mark's seconds.
    x_of = {}
    for name in ("fault", "detected", "recovery_end"):
        group = next(element for element in root.iter(SVG + "g") if element.get("id") == "mark-%s-eu" % name)
        path = next(group.iter(SVG + "path"))
        x_of[name] = float(path.get("d").split()[1])
    assert x_of["fault"] < x_of["detected"] < x_of["recovery_end"]
    metadata = json.loads(root.find(".//" + DC + "description").text)
    assert metadata["marks"] == {"fault": 2.0, "detected": 6.5, "recovery_start": 6.5, "recovery_end": 9.25}
    assert metadata["series"] == REPORT["series"] and metadata["releases"] == ["r2", "r9 bad/1"]
    assert root.find(".//" + DC + "date").text == "1970-01-01T00:17:10Z"  # the drill's time, so the file is reproducible
    assert "drill 20261205T200000Z-1 - broken_health on staging - passed" in text  # text stays text (svg.fonttype none)


def test_marks_that_did_not_happen_are_not_drawn():
    report = dict(REPORT, marks=dict(REPORT["marks"], detected=None, recovery_end=None))
    root = ET.fromstring(_drill_picture.render_svg(report).encode("utf-8"))
    ids = {element.get("id") for element in root.iter() if element.get("id")}
    assert "mark-fault-eu" in ids and "mark-recovery_start-eu" in ids
    assert not {"mark-detected-eu", "mark-recovery_end-eu"} & ids
    assert set(json.loads(root.find(".//" + DC + "description").text)["marks"]) == {"fault", "recovery_start"}


def test_without_matplotlib_the_error_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an environment without the package gives: ImportError
    with pytest.raises(_drill_picture.PictureUnavailable, match="needs the Python package matplotlib on the controller"):
        _drill_picture.render_svg(REPORT)


def test_matplotlib_is_pinned_alike_for_the_controller_and_the_execution_environment():
    from pathlib import Path  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel
    repo = Path(__file__).resolve().parents[4]
    pins = [re.findall(r"^matplotlib==(\S+)$", (repo / name).read_text(encoding="utf-8"), re.MULTILINE)
            for name in ("requirements.txt", "meta/ee-requirements.txt")]
    assert pins[0] and pins[0] == pins[1], pins

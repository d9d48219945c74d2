# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drill report's picture (docs/drill.md), drawn with matplotlib on the controller: per region, the error rate and
the share of hosts on each release over time, with the fault, the detection and the start and end of the recovery.

Controller code only (the action plugin drill_report): matplotlib is a dependency of the controller (requirements.txt,
meta/ee-requirements.txt), never of the fleet hosts, and it is imported when a picture is drawn, so that without it the
drill still writes its JSON and Markdown and says which package is missing (:class:`PictureUnavailable`).

What the picture shows can be checked without reading pixels: every plotted line has an SVG id (its matplotlib gid,
:func:`gid`), ``mark-<name>-<region>``, ``error-rate-<region>`` and ``release-<release>-<region>``, and the SVG's
metadata (Dublin Core ``dc:description``) holds the plotted series and the marks (seconds after ``series_start``) as JSON.
"""

from __future__ import annotations

import datetime
import io
import json
import re

MARKS = ("fault", "detected", "recovery_start", "recovery_end")
MARK_STYLE = {"fault": ("#d62728", "-"), "detected": ("#ff7f0e", "--"), "recovery_start": ("#2f4f4f", "-."),
              "recovery_end": ("#2ca02c", ":")}  # no colour of a release
RELEASE_COLOURS = ("#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
PACKAGE = "matplotlib"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class PictureUnavailable(Exception):
    """The picture cannot be drawn on this controller (matplotlib missing or broken); the message names the package."""


def gid(*parts):
    """An SVG id from its parts (region and release names may hold characters an XML id cannot)."""
    return "-".join(_UNSAFE.sub("_", str(part)) for part in parts)


def plotted(report):
    """What the picture shows, as data: ``{run_id, fault, start, marks: {name: seconds}, releases, series}``; it is also
    the SVG's metadata."""
    start = report.get("series_start") or report["started"]
    marks = dict((name, round(report["marks"][name] - start, 3)) for name in MARKS if report["marks"].get(name) is not None)
    releases = sorted(set(release for rows in report["series"].values() for row in rows for release in row["releases"]))
    return {"run_id": report["run_id"], "fault": report["fault"], "start": start, "marks": marks, "releases": releases,
            "series": report["series"]}


def _matplotlib():
    try:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")  # no display on a controller; Agg is also what the SVG canvas needs for text metrics
        from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
        from matplotlib.backends.backend_svg import FigureCanvasSVG  # pylint: disable=import-outside-toplevel
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # ImportError for a missing package; a broken install (a missing C extension, numpy ABI) raises others.
        raise PictureUnavailable("the drill's picture needs the Python package %s on the controller (pinned in the "
                                 "collection's requirements.txt and meta/ee-requirements.txt; pip install matplotlib); "
                                 "%s: %s" % (PACKAGE, type(exc).__name__, exc)) from exc
    return matplotlib, Figure, FigureCanvasSVG


def render_svg(report, width=9.0, panel_height=2.4):
    """The picture as SVG text. Raises PictureUnavailable when matplotlib cannot be imported."""
    matplotlib, figure_class, canvas_class = _matplotlib()
    data = plotted(report)
    regions = sorted(data["series"]) or ["-"]
    colour = dict((release, RELEASE_COLOURS[index % len(RELEASE_COLOURS)]) for index, release in enumerate(data["releases"]))
    span = max([row["t"] for rows in data["series"].values() for row in rows] + list(data["marks"].values()) + [1.0])
    settings = {"svg.fonttype": "none",  # text stays text: readable and searchable in the file
                "svg.hashsalt": str(report["run_id"]),  # ids matplotlib makes up are the same for the same drill
                "font.size": 8}
    with matplotlib.rc_context(settings):
        height = 1.0 + panel_height * len(regions)
        figure = figure_class(figsize=(width, height))
        canvas_class(figure)
        axes_list = figure.subplots(len(regions), 1, sharex=True, squeeze=False)[:, 0]
        figure.suptitle("drill %s - %s on %s - %s" % (report["run_id"], report["fault"], report.get("group"),
                                                      "passed" if report.get("ok") else "FAILED"))
        for axes, region in zip(axes_list, regions):
            rows = data["series"].get(region) or []
            times = [row["t"] for row in rows]
            for release in data["releases"]:
                axes.step(times, [row["releases"].get(release, 0.0) * 100 for row in rows], where="post", color=colour[release],
                          linewidth=2, label="hosts on %s" % release, gid=gid("release", release, region))
            axes.step(times, [row["error_rate"] * 100 for row in rows], where="post", color="#d62728", linestyle="--",
                      linewidth=1.2, label="error rate", gid=gid("error-rate", region))
            for name, seconds in sorted(data["marks"].items(), key=lambda item: item[1]):
                line_colour, style = MARK_STYLE[name]
                axes.axvline(seconds, color=line_colour, linestyle=style, linewidth=1.2, label=name.replace("_", " "),
                             gid=gid("mark", name, region))
            axes.set_xlim(0, span)
            axes.set_ylim(-2, 102)
            axes.set_ylabel("%")
            axes.set_title("region %s: error rate and share of hosts per release" % region, loc="left")
            axes.grid(True, alpha=0.3)
        axes_list[-1].set_xlabel("seconds after %s" % _iso(data["start"]))
        handles, labels = axes_list[0].get_legend_handles_labels()
        figure.legend(handles, labels, loc="lower center", ncol=min(4, max(1, len(labels))), frameon=False)
        figure.tight_layout(rect=(0, 0.45 / height, 1, 1))  # room for the legend below
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={
            "Title": "rollback drill %s: %s on %s" % (report["run_id"], report["fault"], report.get("group")),
            "Description": json.dumps(data, sort_keys=True),
            "Date": _iso(report.get("finished") or data["start"]),  # the drill's time, not the drawing's
            "Creator": "fleetops.release drill_report (matplotlib %s)" % matplotlib.__version__})
    return out.getvalue()


def _iso(moment):
    return datetime.datetime.fromtimestamp(moment, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

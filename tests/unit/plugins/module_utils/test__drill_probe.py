# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""module_utils/_drill_probe.py: the drill's prober, bounded in requests, time and by its stop file, against a real
local HTTP server (the prober's own logic; the fleet tests measure through the real load balancers)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _drill_probe


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # pylint: disable=invalid-name
        status = 500 if self.path == "/bad" else 200
        body = (json.dumps({"release": "r2", "host": "h1"}) if self.path == "/health" else "release r2 on h1\n").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture(name="server")
def fixture_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_answers_name_release_and_host():
    assert _drill_probe.release_and_host('{"release": "r1", "host": "a"}') == ("r1", "a")
    assert _drill_probe.release_and_host("release r1 on a: slept 1 s") == ("r1", "a")
    assert _drill_probe.release_and_host("oops") == (None, None)
    assert _drill_probe.join_url("http://lb/", "/health") == "http://lb/health"


def test_bounded_by_requests(server, tmp_path):
    out = tmp_path / "probe.jsonl"
    summary = _drill_probe.Probe({"eu": server, "us": server}, str(out), str(tmp_path / "stop"), interval=0.01, max_requests=20).run()
    assert summary["stopped_by"] == "max_requests" and summary["requests"] == 20
    found = _drill_probe.read_records(str(out))
    assert len(found) == 20 and {r["region"] for r in found} == {"eu", "us"}
    assert all((r["status"], r["release"], r["host"]) == (200, "r2", "h1") for r in found)
    assert [r["t"] for r in found] == sorted(r["t"] for r in found)


def test_stop_file_and_failures(server, tmp_path):
    out, stop = tmp_path / "probe.jsonl", tmp_path / "stop"
    timer = threading.Timer(0.3, stop.write_text, args=("stop",))
    timer.start()
    summary = _drill_probe.Probe({"eu": server, "gone": "http://127.0.0.1:9/"}, str(out), str(stop), path="/bad",
                                 interval=0.02, timeout=0.5, max_seconds=30).run()
    assert summary["stopped_by"] == "stop_file" and summary["seconds"] < 5
    found = _drill_probe.read_records(str(out))
    assert {r["status"] for r in found if r["region"] == "eu"} == {500}
    assert {r["status"] for r in found if r["region"] == "gone"} == {0} and all(r["error"] for r in found if r["region"] == "gone")


def test_bounded_by_time(server, tmp_path):
    summary = _drill_probe.Probe({"eu": server}, str(tmp_path / "p"), str(tmp_path / "s"), interval=0.05, max_seconds=1).run()
    assert summary["stopped_by"] == "max_seconds" and 0.9 <= summary["seconds"] < 4


@pytest.mark.parametrize("field", ["interval", "timeout", "max_seconds", "max_requests"])
def test_bounds_must_be_positive(field, tmp_path):
    with pytest.raises(ValueError, match="%s must be a number above 0" % field):
        _drill_probe.Probe({"eu": "http://x/"}, str(tmp_path / "p"), str(tmp_path / "s"), **{field: 0})


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "p"
    path.write_text('{"t": 2.0, "region": "eu", "status": 200}\n{"t": 1.0, "region": "eu", "status": 500}\n{"t": 3')
    assert [r["t"] for r in _drill_probe.read_records(str(path))] == [1.0, 2.0]

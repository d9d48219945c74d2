# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._nginx import NginxError, NginxPool, parse_upstream, plan_upstream, render_upstream

FILE = """# owned by lb_pool
server 10.0.0.1:8000; # fleetops member=web-1 state=ready
server 10.0.0.2:8000 weight=3 down; # fleetops member=web-2 state=maint
server 10.0.0.3:8000 down;
"""


def test_parse_and_render_roundtrip():
    members = parse_upstream(FILE)
    assert members == [
        {"server": "web-1", "address": "10.0.0.1:8000", "state": "ready", "weight": 1},
        {"server": "web-2", "address": "10.0.0.2:8000", "state": "maint", "weight": 3},
        {"server": "10.0.0.3:8000", "address": "10.0.0.3:8000", "state": "drain", "weight": 1},
    ]
    assert parse_upstream(render_upstream(members)) == members


@pytest.mark.parametrize("text, message", [("keepalive 16;\n", "not a member line"), ("server a:1 max_fails=3;\n", "max_fails"),
                                           ("server a:1; # fleetops member=x\nserver b:1; # fleetops member=x\n", "more than once")])
def test_parse_refuses(text, message):
    with pytest.raises(NginxError, match=message):
        parse_upstream(text)


def test_plan_upstream():
    current = parse_upstream(FILE)
    after = plan_upstream(current, [{"server": "web-1", "state": "drain"}, {"server": "web-4", "address": "10.0.0.4:8000", "weight": "2"}])
    expected = [("web-1", "drain", 1), ("web-2", "maint", 3), ("10.0.0.3:8000", "drain", 1), ("web-4", "ready", 2)]
    assert [(m["server"], m["state"], m["weight"]) for m in after] == expected
    assert "server 10.0.0.1:8000 down; # fleetops member=web-1 state=drain" in render_upstream(after)
    assert plan_upstream(current, [{"server": "web-1", "state": "ready"}]) == current


@pytest.mark.parametrize("member, message", [({"server": "web-9"}, "give its address"), ({"server": "web-1", "weight": "50%"}, "no percentages"),
                                             ({"server": "web-1", "weight": "0"}, "no 0"), ({"server": "a b"}, "must be a name"),
                                             ({"server": "web-9", "address": "x; y"}, "host:port")])
def test_plan_upstream_refuses(member, message):
    with pytest.raises(NginxError, match=message):
        plan_upstream(parse_upstream(FILE), [member])


def test_failed_validation_restores_the_file(tmp_path):
    upstream = tmp_path / "upstream.conf"
    upstream.write_text(FILE)
    pool = NginxPool(lambda cmd: (1, "", "nginx: [emerg] invalid port"), str(upstream), str(tmp_path / "nginx.conf"), str(tmp_path / "pid"))
    with pytest.raises(NginxError, match="restored"):
        pool.apply([{"server": "web-1", "state": "drain"}])
    assert upstream.read_text() == FILE
    result = pool.apply([{"server": "web-1", "state": "drain"}], check_mode=True)
    assert result["changed"] and upstream.read_text() == FILE

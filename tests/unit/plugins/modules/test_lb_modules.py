# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The LB connection option group: one spec, documented once, accepted by every module of the action group ``lb``.

Only what fails or answers before any load balancer is contacted runs here; the real HAProxy and nginx runs are in
tests/integration/test_lb_pool.py.
"""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.doc_fragments.lb import ModuleDocFragment
from ansible_collections.fleetops.release.plugins.module_utils._module_common import LB_CONNECTION_SPEC
from ansible_collections.fleetops.release.plugins.module_utils._nginx import render_upstream

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
LB_MODULES = ("lb_pool", "lb_pool_flip", "lb_pool_info")
# What each module needs besides the connection group.
OWN_ARGS = {
    "lb_pool": {"backend": "app", "members": [{"server": "web-1", "state": "drain"}]},
    "lb_pool_flip": {"map": "/nonexistent/active.map", "key": "active", "pool": "app_green"},
    "lb_pool_info": {"backends": ["app"]},
}


def group(tmp_path, **overrides):
    """Every option of the group set (HAProxy with a single socket that does not exist)."""
    values = {"lb_type": "haproxy", "socket": str(tmp_path / "missing.sock"), "state_file": str(tmp_path / "state"), "timeout": 2.0,
              "nginx_upstream_file": str(tmp_path / "up.conf"), "nginx_config": str(tmp_path / "nginx.conf"),
              "nginx_pid_file": str(tmp_path / "nginx.pid"), "nginx_binary": "nginx"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_the_group_keeps_the_defaults_of_before():
    defaults = {name: spec.get("default") for name, spec in LB_CONNECTION_SPEC.items()}
    assert defaults == {"lb_type": "haproxy", "socket": None, "state_file": None, "nodes": None, "timeout": 10.0, "nginx_upstream_file": None,
                        "nginx_config": "/etc/nginx/nginx.conf", "nginx_pid_file": "/run/nginx.pid", "nginx_binary": "nginx"}


def test_the_doc_fragment_documents_exactly_the_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(documented) == set(LB_CONNECTION_SPEC)

    def shape(spec):
        keys = ("type", "default", "choices", "elements", "required")
        result = {k: spec[k] for k in keys if spec.get(k) not in (None, False)}
        sub = spec.get("options") or spec.get("suboptions")
        if sub:
            result["sub"] = {name: shape(s) for name, s in sub.items()}
        return result

    for name, spec in LB_CONNECTION_SPEC.items():
        assert shape(documented[name]) == shape(spec), name


def test_runtime_has_the_lb_action_group():
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as handle:
        groups = yaml.safe_load(handle)["action_groups"]
    assert groups["lb"] == list(LB_MODULES)
    assert set(LB_MODULES) <= set(groups["release"])


@pytest.mark.parametrize("name", LB_MODULES)
def test_every_module_accepts_the_whole_group(run_module, tmp_path, name):
    # The failure comes from the missing socket, i.e. after every key of the group was accepted.
    result = run_module(name, dict(OWN_ARGS[name], **group(tmp_path)))
    assert result["failed"] and "Unsupported parameters" not in result["msg"], result["msg"]
    assert "does not exist" in result["msg"] and "missing.sock" in result["msg"], result["msg"]


@pytest.mark.parametrize("name", LB_MODULES)
def test_haproxy_without_socket_or_nodes_says_what_to_set(run_module, tmp_path, name):
    result = run_module(name, dict(OWN_ARGS[name], **group(tmp_path, socket=None)))
    assert result["failed"] and "lb_type=haproxy needs the LB's stats socket: set socket (one node) or nodes" in result["msg"], result["msg"]


@pytest.mark.parametrize("name", LB_MODULES)
def test_nodes_exclude_socket_and_state_file(run_module, tmp_path, name):
    nodes = [{"socket": str(tmp_path / "a.sock")}]
    result = run_module(name, dict(OWN_ARGS[name], **group(tmp_path, socket=None, nodes=nodes)))
    assert result["failed"] and "mutually exclusive: state_file|nodes" in result["msg"], result["msg"]
    result = run_module(name, dict(OWN_ARGS[name], **group(tmp_path, state_file=None, nodes=nodes)))
    assert result["failed"] and "mutually exclusive: socket|nodes" in result["msg"], result["msg"]


def test_flip_refuses_nginx_clearly(run_module, tmp_path):
    result = run_module("lb_pool_flip", dict(OWN_ARGS["lb_pool_flip"], **group(tmp_path, lb_type="nginx")))
    assert result["failed"] and result["msg"].startswith("lb_pool_flip needs lb_type=haproxy, not nginx"), result["msg"]
    assert "fleet_lb_type" in result["msg"]


def test_info_reads_the_nginx_upstream_file_and_ignores_the_haproxy_options(run_module, tmp_path):
    upstream = tmp_path / "up.conf"
    upstream.write_text(render_upstream([
        {"server": "web-1", "address": "127.0.0.1:8001", "state": "ready", "weight": 1},
        {"server": "web-2", "address": "127.0.0.1:8002", "state": "drain", "weight": 3},
        {"server": "web-3", "address": "127.0.0.1:8003", "state": "maint", "weight": 1},
    ]))
    before = upstream.read_text()
    # socket (missing) and backends are HAProxy's: ignored with lb_type=nginx.
    result = run_module("lb_pool_info", dict(OWN_ARGS["lb_pool_info"], **group(tmp_path, lb_type="nginx")))
    assert not result.get("failed") and not result["changed"], result
    assert result["upstream_file"] == str(upstream) and result["agree"] is True and result["disagreements"] == []
    assert result["upstream"] == {
        "web-1": {"state": "ready", "weight": 1, "address": "127.0.0.1:8001", "down": False},
        "web-2": {"state": "drain", "weight": 3, "address": "127.0.0.1:8002", "down": True},
        "web-3": {"state": "maint", "weight": 1, "address": "127.0.0.1:8003", "down": True},
    }
    assert "backends" not in result and upstream.read_text() == before
    # No backends needed for nginx.
    result = run_module("lb_pool_info", {"lb_type": "nginx", "nginx_upstream_file": str(upstream)})
    assert not result.get("failed") and set(result["upstream"]) == {"web-1", "web-2", "web-3"}, result


@pytest.mark.parametrize("args, message", [
    ({"lb_type": "nginx"}, "lb_type is nginx but all of the following are missing: nginx_upstream_file"),
    ({"lb_type": "nginx", "nginx_upstream_file": "/nonexistent/up.conf"},
     "the nginx upstream file /nonexistent/up.conf does not exist: check nginx_upstream_file (inventory variable fleet_lb_nginx_upstream_file)"),
    ({"socket": "/run/haproxy/admin.sock"}, "lb_type is haproxy but all of the following are missing: backends"),
])
def test_info_errors(run_module, args, message):
    result = run_module("lb_pool_info", args)
    assert result["failed"] and message in result["msg"], result["msg"]


def test_info_names_a_line_it_cannot_read(run_module, tmp_path):
    upstream = tmp_path / "up.conf"
    upstream.write_text("server 127.0.0.1:8001 max_fails=3;\n")
    result = run_module("lb_pool_info", {"lb_type": "nginx", "nginx_upstream_file": str(upstream)})
    assert result["failed"] and "max_fails=3" in result["msg"], result["msg"]


def test_pools_are_changed_side_by_side_and_a_failed_pool_is_named_without_stopping_the_others(run_module, tmp_path):
    upstream = tmp_path / "up.conf"
    upstream.write_text(render_upstream([{"server": "web-1", "address": "127.0.0.1:8001", "state": "ready", "weight": 1}]))
    nginx = {"lb_type": "nginx", "nginx_upstream_file": str(upstream)}
    pools = [
        {"name": "eu", "members": [{"server": "web-1", "state": "drain"}], "connection": nginx},
        # No socket: this pool fails, named; eu is still planned.
        {"name": "us", "backend": "app", "members": [{"server": "us-1", "state": "drain"}], "connection": {"lb_type": "haproxy"}},
        {"name": "ap", "members": [{"server": "ap-1", "state": "drain"}], "connection": {"lb_type": "nginx"}},
        {"name": "sa", "members": [{"server": "sa-1", "state": "sideways"}], "connection": nginx},
        {"name": "af", "members": [{"server": "af-1"}], "connection": {"lb_type": "nginx", "socket": "/a", "nodes": [{"socket": "/b"}]}},
    ]
    result = run_module("lb_pool", {"pools": pools}, check_mode=True)
    assert result["failed"] and result["failed_pools"] == ["us", "ap", "sa", "af"], result
    by_name = {pool["name"]: pool for pool in result["pools"]}
    assert by_name["eu"]["failed"] is False and by_name["eu"]["changed"] is True
    assert "needs the LB's stats socket" in by_name["us"]["msg"]
    assert "needs nginx_upstream_file" in by_name["ap"]["msg"]
    assert "sideways" in by_name["sa"]["msg"] and "mutually exclusive" in by_name["af"]["msg"]
    assert all("pool %s: " % name in result["msg"] for name in ("us", "ap", "sa", "af"))
    # Check mode: the upstream file is untouched.
    assert "down" not in upstream.read_text()


@pytest.mark.parametrize("args, message", [
    ({"pools": []}, "pools is empty"),
    ({"pools": [{"name": "eu", "members": []}], "backend": "app"}, "mutually exclusive"),
    ({"backend": "app"}, "one of the following is required: pools, members"),
])
def test_pools_errors(run_module, args, message):
    result = run_module("lb_pool", args)
    assert result["failed"] and message in result["msg"], result["msg"]

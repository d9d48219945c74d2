# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.filter.lb_connection import FilterModule, lb_connection
from ansible_collections.fleetops.release.plugins.module_utils._module_common import LB_CONNECTION_SPEC


def test_haproxy_region_maps_the_variables_and_leaves_out_the_unset_ones():
    variables = {"fleet_lb_type": "haproxy", "fleet_lb_socket": "/run/haproxy/admin.sock", "fleet_lb_state_file": "/var/lib/haproxy/st",
                 "fleet_lb_nodes": [], "fleet_lb_nginx_config": None, "fleet_lb_backend": "app", "fleet_lb_host": "lb-eu-1",
                 "ansible_host": "10.0.0.1"}
    assert lb_connection(variables) == {"lb_type": "haproxy", "socket": "/run/haproxy/admin.sock", "state_file": "/var/lib/haproxy/st"}
    assert FilterModule().filters() == {"lb_connection": lb_connection}


def test_every_option_of_the_group_comes_from_its_variable():
    variables = {"fleet_lb_type": "nginx", "fleet_lb_socket": "/s", "fleet_lb_state_file": "/st", "fleet_lb_nodes": [{"socket": "ipv4@127.0.0.1:1"}],
                 "fleet_lb_timeout": 2.5, "fleet_lb_nginx_upstream_file": "/u.conf", "fleet_lb_nginx_config": "/n.conf",
                 "fleet_lb_nginx_pid_file": "/n.pid", "fleet_lb_nginx_binary": "/sbin/nginx"}
    expected = {"lb_type": "nginx", "socket": "/s", "state_file": "/st", "nodes": [{"socket": "ipv4@127.0.0.1:1"}], "timeout": 2.5,
                "nginx_upstream_file": "/u.conf", "nginx_config": "/n.conf", "nginx_pid_file": "/n.pid", "nginx_binary": "/sbin/nginx"}
    assert set(expected) == set(LB_CONNECTION_SPEC)  # the test covers the whole group
    result = lb_connection(variables)
    assert result == expected and list(result)[0] == "lb_type"


@pytest.mark.parametrize("variables", [{}, {"fleet_lb_type": ""}, {"fleet_lb_type": None}, {"fleet_lb_socket": "", "fleet_lb_nodes": None}])
def test_lb_type_defaults_to_haproxy_and_nothing_else_is_made_up(variables):
    assert lb_connection(variables) == {"lb_type": "haproxy"}


def test_false_and_zero_are_values_not_unset():
    # Only None and empty strings/containers mean "unset"; a 0 timeout reaches the module, which refuses or uses it.
    assert lb_connection({"fleet_lb_timeout": 0}) == {"lb_type": "haproxy", "timeout": 0}


def test_reads_through_a_mapping_view_like_hostvars():
    class View(Mapping):
        """Like HostVarsVars: a read-only Mapping that computes the value on access."""
        def __init__(self, data):
            self.data = data
            self.read = []

        def __getitem__(self, key):
            self.read.append(key)
            return self.data[key]

        def __iter__(self):
            return iter(self.data)

        def __len__(self):
            return len(self.data)

    view = View({"fleet_lb_type": "nginx", "fleet_lb_nginx_upstream_file": "/etc/nginx/up.conf", "fleet_lb_secret_thing": "x"})
    assert lb_connection(view) == {"lb_type": "nginx", "nginx_upstream_file": "/etc/nginx/up.conf"}
    assert "fleet_lb_secret_thing" not in view.read  # only the group's variables are touched (and templated)


@pytest.mark.parametrize("variables, message", [
    ("eu-1", "must be a host's variables"),
    (["fleet_lb_type"], "must be a host's variables"),
    ({"fleet_lb_type": "HAProxy"}, "fleet_lb_type is 'HAProxy'; set it to one of haproxy, nginx"),
    ({"fleet_lb_type": "traefik"}, "fleet_lb_type is 'traefik'"),
])
def test_errors(variables, message):
    with pytest.raises(AnsibleFilterError, match=message):
        lb_connection(variables)

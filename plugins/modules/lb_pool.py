#!/usr/bin/python
# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_pool
short_description: Take servers of a region's load balancer pool out of rotation and back (HAProxy or nginx)
version_added: 0.1.0
description:
  - Sets the admin state (V(ready), V(drain), V(maint)) and weight of a list of pool members in one call, so one call
    handles all members of a wave in a region.
  - "With O(lb_type=haproxy) it uses the runtime API (C(set server <backend>/<server> state ...) and C(weight)) through one
    session per LB node, on every node of O(nodes) (an HA pair) or the single O(socket)."
  - V(drain) waits until the server's current sessions and queued requests are zero on every node (polling C(show stat)),
    at most O(drain_timeout) seconds; then it fails, or with O(on_drain_timeout=force_maint) puts the server in
    maintenance and shuts its sessions. The result says how many sessions were left.
  - C(changed) comes from the admin state and weight only (and from the server-state file written for reloads), never
    from session counters.
  - The nodes must agree. A change that would leave them different (a field changed by hand on one node only) is refused
    before anything is changed; the state HAProxy reports after the change is read back and compared.
  - With O(lb_type=nginx) the members are the C(server) lines of an upstream include file the module owns.
    V(drain) and V(maint) mark a member C(down). The file is validated with C(nginx -t); a failed validation restores the
    previous file and fails. Then nginx is reloaded (SIGHUP) and, when members were taken out, the module waits until
    the old worker processes have finished the requests in flight.
  - The connection options (O(lb_type) to O(nginx_binary)) are one group that every module of the action group
    C(fleetops.release.lb) accepts, so they can be set once with C(module_defaults), for example from a host's inventory
    with the filter P(fleetops.release.lb_connection#filter). The options of the other kind of LB are ignored.
extends_documentation_fragment:
  - fleetops.release.lb
  - fleetops.release.common.attributes
attributes:
  check_mode:
    details: Nothing is sent to HAProxy but reads, no file is written and nothing waits; C(changed) and the diff say what would happen.
  idempotent:
    details: Members already in the requested state and weight are not touched and C(changed=false).
options:
  backend:
    description:
      - The HAProxy backend holding the members (inventory variable C(fleet_lb_backend)). Required for V(haproxy).
    type: str
  members:
    description:
      - The servers to change. Each is named as in the backend (inventory variable C(fleet_lb_server)).
      - Required unless O(pools) is set.
    type: list
    elements: dict
    suboptions:
      server:
        description: Name of the server in the backend (HAProxy), or of the member in the upstream file (nginx).
        type: str
        required: true
      state:
        description:
          - V(ready) puts the server in rotation, V(drain) stops new traffic and waits for the sessions to end, V(maint)
            stops all traffic and health checks. Omitted, the admin state is left as it is.
        type: str
        choices: [ready, drain, maint]
      weight:
        description:
          - New weight, absolute (V(0) to V(256)) or relative to the configured weight (V(50%)). Omitted, it is left as it is.
          - For nginx a whole number from 1 (no percentages).
        type: str
      address:
        description:
          - nginx only. The member's C(host:port); needed when the member is not in the upstream file yet.
        type: str
  pools:
    description:
      - Several pools in one call, for example every region whose load balancer this host reaches; then O(backend) and
        O(members) are not used. The pools are changed side by side (their drains wait together), and a pool that fails
        does not stop the others.
      - O(drain_timeout), O(on_drain_timeout) and check mode apply to every pool.
      - The module fails when any pool failed; RV(pools) says which.
    type: list
    elements: dict
    suboptions:
      name:
        description: A name for the pool in the result and in messages, for example the region.
        type: str
        required: true
      backend:
        description: As O(backend), for this pool.
        type: str
      members:
        description: As O(members), for this pool (the same suboptions).
        type: list
        elements: dict
        required: true
      connection:
        description:
          - The pool's load-balancer connection options, named as the module's own (O(lb_type), O(socket),
            O(state_file), O(nodes), O(timeout), the C(nginx_*) options), for example the output of the filter
            P(fleetops.release.lb_connection#filter) for a host of the region.
          - Omitted, the module's own connection options apply.
        type: dict
  drain_timeout:
    description:
      - Seconds to wait for the sessions of draining members to end.
    type: float
    default: 60.0
  on_drain_timeout:
    description:
      - What to do when the sessions have not ended after O(drain_timeout).
      - V(fail) leaves the members in drain and fails, naming them and their sessions.
      - V(force_maint) puts them in maintenance and shuts their sessions (HAProxy), or stops the old workers (nginx), and succeeds.
    type: str
    choices: [fail, force_maint]
    default: fail
requirements:
  - HAProxy 2.4 or later with an admin-level stats socket, or nginx with the upstream's servers in an include file.
seealso:
  - module: fleetops.release.lb_pool_flip
  - module: fleetops.release.lb_pool_info
  - plugin: fleetops.release.lb_connection
    plugin_type: filter
author:
  - fleetops maintainers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: The LB modules of a block get the region's connection options from the inventory (any kind of LB)
  module_defaults:
    group/fleetops.release.lb: "{{ hostvars[groups[fleet_region][0]] | fleetops.release.lb_connection }}"
  block:
    - name: Drain the wave's hosts of the region (HAProxy, an HA pair or nginx, as the inventory says)
      fleetops.release.lb_pool:
        backend: "{{ fleet_lb_backend | default(omit) }}"
        members: "{{ ['eu-1', 'eu-2'] | fleetops.release.lb_members(hostvars, 'drain') }}"
      delegate_to: "{{ fleet_lb_host }}"
      run_once: true

- name: Take the wave's hosts of this region out of rotation (one call per region)
  fleetops.release.lb_pool:
    socket: "{{ fleet_lb_socket }}"
    state_file: "{{ fleet_lb_state_file }}"
    backend: "{{ fleet_lb_backend }}"
    members:
      - server: web-1
        state: drain
      - server: web-2
        state: drain
    drain_timeout: 120
  delegate_to: "{{ fleet_lb_host }}"
  run_once: true

- name: Put one verified host back, on both nodes of an HA pair
  fleetops.release.lb_pool:
    nodes:
      - socket: /run/haproxy/admin.sock
        state_file: /var/lib/haproxy/server-state
      - socket: ipv4@10.0.0.12:9999
    backend: app
    members:
      - server: web-3
        state: ready
        weight: 100%
  delegate_to: lb-eu-1

- name: Enable the wave's hosts of two regions whose load balancers the controller reaches, in one call
  fleetops.release.lb_pool:
    pools:
      - name: eu
        backend: app
        members: [{server: eu-1, state: ready}, {server: eu-2, state: ready}]
        connection: "{{ hostvars['eu-1'] | fleetops.release.lb_connection }}"
      - name: us
        backend: app
        members: [{server: us-1, state: ready}]
        connection: "{{ hostvars['us-1'] | fleetops.release.lb_connection }}"
  delegate_to: localhost
  run_once: true

- name: Drain a member of an nginx upstream
  fleetops.release.lb_pool:
    lb_type: nginx
    nginx_upstream_file: /etc/nginx/upstreams/app.conf
    members:
      - server: web-3
        address: 10.0.1.3:8000
        state: drain
  delegate_to: "{{ fleet_lb_host }}"
"""

RETURN = r"""
backend:
  description: The backend that was changed (V(null) for nginx).
  returned: always
  type: str
  sample: app
members:
  description: Per member, the admin state and weight before and after (on the first node; the nodes agree).
  returned: success
  type: list
  elements: dict
  sample: [{"server": "web-3", "before": {"state": "ready", "weight": 1}, "after": {"state": "drain", "weight": 1}, "changed": true}]
nodes:
  description: Per HAProxy node, whether it changed and whether its server-state file was written.
  returned: success with lb_type=haproxy
  type: list
  elements: dict
  sample: [{"socket": "/run/haproxy/admin.sock", "changed": true, "state_file": "/var/lib/haproxy/server-state", "state_file_written": true}]
agree:
  description: Whether every node reports the same state and weight for every member after the change.
  returned: success with lb_type=haproxy
  type: bool
  sample: true
disagreements:
  description: When the nodes would disagree, per member the state and weight each node would end with.
  returned: when the nodes disagree (the task fails)
  type: list
  elements: dict
  sample: [{"server": "web-3", "nodes": {"/run/haproxy/a.sock": {"state": "ready", "weight": 1}, "ipv4@10.0.0.12:9999": {"state": "ready", "weight": 5}}}]
drain:
  description:
    - C(waited) is how long the module waited for drained members, in seconds.
    - C(sessions_left) maps node to server to the number of sessions left at the timeout; C(forced) is the same when
      O(on_drain_timeout=force_maint) cut them (for nginx, the number of old worker processes).
  returned: always
  type: dict
  sample: {"waited": 2.1, "sessions_left": {}, "forced": {}}
pools:
  description:
    - With O(pools), per pool (in the order given) its name, whether it changed or failed, its message when it failed,
      and the keys the module returns for a single pool (RV(backend), RV(members), RV(nodes), RV(drain), ...).
  returned: with O(pools)
  type: list
  elements: dict
  sample: [{"name": "eu", "changed": true, "failed": false, "backend": "app", "members": []},
           {"name": "us", "changed": false, "failed": true, "msg": "backend app: sessions still open ..."}]
failed_pools:
  description: With O(pools), the names of the pools that failed (empty when none did).
  returned: with O(pools)
  type: list
  elements: str
  sample: ["us"]
upstream_file:
  description: The nginx upstream file.
  returned: with lb_type=nginx
  type: str
  sample: /etc/nginx/upstreams/app.conf
reloaded:
  description: Whether nginx was reloaded.
  returned: with lb_type=nginx
  type: bool
  sample: true
elapsed:
  description: Seconds the call took.
  returned: success with lb_type=haproxy
  type: float
  sample: 2.35
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fleetops.release.plugins.module_utils._haproxy import (
    DrainTimeout,
    LbError,
    NodesDisagree,
    apply_pool,
    haproxy_nodes,
)
from ansible_collections.fleetops.release.plugins.module_utils._command import bounded_run_command
from ansible_collections.fleetops.release.plugins.module_utils._module_common import (
    LB_CONNECTION_MUTUALLY_EXCLUSIVE,
    LB_CONNECTION_SPEC,
    argument_spec,
)
from ansible_collections.fleetops.release.plugins.module_utils._nginx import NginxPool

MEMBERS_SPEC = {"type": "list", "elements": "dict", "options": {
    "server": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["ready", "drain", "maint"]},
    "weight": {"type": "str"},
    "address": {"type": "str"},
}}
# A pool's connection is checked like the module's own options (one spec, LB_CONNECTION_SPEC).
CONNECTION_VALIDATOR = ArgumentSpecValidator(LB_CONNECTION_SPEC, mutually_exclusive=LB_CONNECTION_MUTUALLY_EXCLUSIVE)


class PoolFailed(Exception):
    """One pool could not be brought to its states; ``details`` are the keys of the failed result."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def apply_members(module, connection, backend, members, drain_timeout, on_drain_timeout):
    """Bring one pool's members to their states; returns the result, raises PoolFailed."""
    members = [{k: v for k, v in m.items() if v is not None} for m in members]
    if not members:
        raise PoolFailed("members is empty: list at least one server")
    try:
        if connection["lb_type"] == "haproxy":
            if not backend:
                raise PoolFailed("lb_type=haproxy needs the backend holding the members (inventory variable fleet_lb_backend)")
            nodes = haproxy_nodes(connection)
            if any("address" in m for m in members):
                raise PoolFailed("members[].address is for lb_type=nginx only; HAProxy servers are defined in haproxy.cfg")
            return apply_pool(nodes, backend, members, check_mode=module.check_mode, drain_timeout=drain_timeout,
                              on_drain_timeout=on_drain_timeout, timeout=connection["timeout"])
        if not connection.get("nginx_upstream_file"):
            raise PoolFailed("lb_type=nginx needs nginx_upstream_file (inventory variable fleet_lb_nginx_upstream_file)")
        binary = connection["nginx_binary"]
        if "/" not in binary:
            binary = module.get_bin_path(binary, required=True, opt_dirs=["/usr/sbin", "/usr/local/sbin"])
        # nginx -t is bounded like every command the collection runs: a hung one is killed and counts as failed.
        pool = NginxPool(bounded_run_command(connection["timeout"]), connection["nginx_upstream_file"], connection["nginx_config"],
                         connection["nginx_pid_file"], binary)
        result = pool.apply(members, check_mode=module.check_mode, drain_timeout=drain_timeout, on_drain_timeout=on_drain_timeout)
        result["backend"] = backend
        return result
    except NodesDisagree as exc:
        raise PoolFailed(str(exc), changed=False, backend=backend, disagreements=exc.disagreements) from exc
    except DrainTimeout as exc:
        raise PoolFailed(str(exc), changed=True, backend=backend,
                         drain={"sessions_left": exc.sessions_left, "forced": {}, "waited": drain_timeout}) from exc
    except LbError as exc:
        raise PoolFailed(str(exc), backend=backend) from exc


def pool_connection(module, pool):
    """The pool's own connection options, checked like the module's, else the module's."""
    if pool.get("connection") is None:
        return {name: module.params[name] for name in LB_CONNECTION_SPEC}
    checked = CONNECTION_VALIDATOR.validate(pool["connection"])
    if checked.error_messages:
        raise PoolFailed("connection: %s" % "; ".join(checked.error_messages))
    return checked.validated_parameters


def apply_pools(module):
    """Every pool of O(pools), side by side; one failure does not stop the others."""
    params = module.params

    def one(pool):
        try:
            connection = pool_connection(module, pool)
            # Each pool's members are checked like the module's own (MEMBERS_SPEC).
            checked = ArgumentSpecValidator({"members": MEMBERS_SPEC}).validate({"members": pool["members"]})
            if checked.error_messages:
                raise PoolFailed("; ".join(checked.error_messages))
            result = apply_members(module, connection, pool.get("backend"), checked.validated_parameters["members"],
                                   params["drain_timeout"], params["on_drain_timeout"])
            return dict(result, name=pool["name"], failed=False, changed=bool(result.get("changed")))
        except PoolFailed as exc:
            return dict(exc.details, name=pool["name"], failed=True, changed=bool(exc.details.get("changed")), msg=str(exc))
        except Exception as exc:  # pylint: disable=broad-except
            # A bug or an unexpected answer fails this pool, named, not the others.
            return {"name": pool["name"], "failed": True, "changed": False, "msg": "%s: %s" % (type(exc).__name__, exc)}

    with ThreadPoolExecutor(max_workers=min(len(params["pools"]), 16) or 1) as executor:
        results = list(executor.map(one, params["pools"]))
    failed = [result["name"] for result in results if result["failed"]]
    summary = {"changed": any(result["changed"] for result in results), "pools": results, "failed_pools": failed}
    if failed:
        module.fail_json(msg="; ".join("pool %s: %s" % (r["name"], r["msg"]) for r in results if r["failed"]), **summary)
    module.exit_json(**summary)


def main():
    spec = argument_spec(
        LB_CONNECTION_SPEC,
        backend={"type": "str"},
        members=MEMBERS_SPEC,
        pools={"type": "list", "elements": "dict", "options": {
            "name": {"type": "str", "required": True},
            "backend": {"type": "str"},
            "members": {"type": "list", "elements": "dict", "required": True},
            "connection": {"type": "dict"},
        }},
        drain_timeout={"type": "float", "default": 60.0},
        on_drain_timeout={"type": "str", "default": "fail", "choices": ["fail", "force_maint"]},
    )
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=LB_CONNECTION_MUTUALLY_EXCLUSIVE + [("pools", "members"), ("pools", "backend")],
        required_one_of=[("pools", "members")],
        supports_check_mode=True,
    )
    params = module.params
    if params["drain_timeout"] < 0:
        module.fail_json(msg=f"drain_timeout must be 0 or more seconds, not {params['drain_timeout']}")
    if params["pools"] is not None:
        if not params["pools"]:
            module.fail_json(msg="pools is empty: list at least one pool")
        apply_pools(module)
    try:
        result = apply_members(module, {name: params[name] for name in LB_CONNECTION_SPEC}, params["backend"],
                               params["members"], params["drain_timeout"], params["on_drain_timeout"])
    except PoolFailed as exc:
        module.fail_json(msg=str(exc), **dict({"backend": params["backend"]}, **exc.details))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

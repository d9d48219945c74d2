# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check a run's inputs and plan it on the controller, before the first remote change.

Everything an operator can get wrong on the command line (``-e``) or in the inventory is judged here, from the
inputs and the inventory alone: option values with a fixed set of choices, numbers and their bounds, release ids,
configuration paths, the regions of the hosts, and a dry plan of the waves over every host of the play (a plan over
fewer hosts, the ones that really need a change, never asks for more than this one). A refusal lists every problem
at once, each with what to do.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fleetops.release.plugins.module_utils._baseline import comparison_problems, host_problems
from ansible_collections.fleetops.release.plugins.module_utils._canary_weights import (
    CanaryWeightsError,
    normalize_step_pause,
    normalize_weights,
)
from ansible_collections.fleetops.release.plugins.module_utils._config_snapshot import SnapshotError, validate_config_path
from ansible_collections.fleetops.release.plugins.module_utils._health import WAIT_OPTIONS, HealthError, wait_settings
from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError, ReleaseIdError, validate_release_id
from ansible_collections.fleetops.release.plugins.module_utils._rollout_control import (
    ControlError,
    any_pause,
    normalize_on_timeout,
    normalize_pause,
    normalize_poll,
    normalize_timeout,
)
from ansible_collections.fleetops.release.plugins.module_utils._waves import MODES, plan_waves

OPERATIONS = ("deploy", "rollback")
STRATEGIES = ("rolling", "blue_green")


class RunInputsError(FleetError):
    """The run's inputs are refused; ``problems`` lists each one."""

    def __init__(self, operation, problems):
        self.problems = list(problems)
        super().__init__("%s refused before any change; nothing was changed:\n  - %s" % (operation, "\n  - ".join(self.problems)))


def _int_at_least(value, minimum, name, problems, hint=""):
    """``value`` as an int >= ``minimum`` (ints and digit strings, not bools or floats), else a problem and None."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if number is None or number < minimum:
        problems.append("%s is %r: it must be a whole number of %d or more%s" % (name, value, minimum, hint))
        return None
    return number


def _choice(value, choices, name, problems):
    if value not in choices:
        problems.append("%s is %r: it must be one of %s" % (name, value, ", ".join(choices)))
        return None
    return value


# The variables the roles build their health wait from (fleet_health_wait in roles/waves/defaults), to name in a refusal.
WAIT_VARIABLES = {"timeout": "fleet_health_timeout", "interval": "fleet_health_interval",
                  "successes": "fleet_health_consecutive_successes", "failure_limit": "fleet_health_failure_limit",
                  "start_period": "fleet_health_start_period", "request_timeout": "fleet_health_request_timeout"}


def _health_wait(wait, problems):
    """The health wait (fleet_health_wait, built from the fleet_health_* variables) checked as release_activate and
    health_check check it, so that a bad value is refused before the first drain, not at the first activation."""
    if not isinstance(wait, Mapping):
        problems.append("fleet_health_wait is %r: leave it to the role, set the fleet_health_* variables" % (wait,))
        return
    numbers = {}
    for key, value in wait.items():
        kind = float if WAIT_OPTIONS.get(key, {}).get("type") == "float" else int
        try:
            numbers[key] = None if value is None else kind(value)
        except (TypeError, ValueError):
            problems.append("%s is %r: it must be a number" % (WAIT_VARIABLES.get(key, "fleet_health_wait." + key), value))
            return
    try:
        wait_settings(numbers)
    except HealthError as exc:
        names = ", ".join(WAIT_VARIABLES.values())
        problems.append("the health wait: %s (set by %s)" % (exc, names))


def hosts_by_region(hosts, hostvars, groups, region_var="fleet_region"):
    """``({region: [hosts in play order]}, problems)``.

    A region is the group named after it: a host whose region names no group, a host without a region, and a host
    that is a member of two region groups (it would silently get the region of whichever group Ansible read last)
    are problems.
    """
    problems = []
    regions = {}
    region_names = {hostvars.get(host, {}).get(region_var) for host in groups.get("all", hosts)} | {
        hostvars.get(host, {}).get(region_var) for host in hosts}
    region_groups = sorted(name for name in region_names if isinstance(name, str) and name in groups)
    for host in hosts:
        region = hostvars.get(host, {}).get(region_var)
        if not isinstance(region, str) or not region:
            problems.append("host %s has no %s: put it in one region group (a group named after its region, whose "
                            "group_vars set %s)" % (host, region_var, region_var))
            continue
        if region not in groups:
            problems.append("host %s: %s %r names no group of the inventory; each region needs a group of that name "
                            "holding its hosts" % (host, region_var, region))
            continue
        member_of = [name for name in region_groups if host in groups[name]]
        if len(member_of) > 1:
            problems.append("host %s is in %d region groups (%s); a host belongs to exactly one region: remove it "
                            "from all but one" % (host, len(member_of), ", ".join(member_of)))
            continue
        regions.setdefault(region, []).append(host)
    return regions, problems


# The variables check_run_inputs judges itself, saying what to do: the role argument specs do not judge them again.
CHECKED_VARIABLES = frozenset(
    ["fleet_release", "fleet_strategy", "fleet_wave_mode", "fleet_waves", "fleet_region_order", "fleet_min_healthy",
     "fleet_max_fail", "fleet_wave_pause", "fleet_keep_releases", "fleet_config_paths", "fleet_config_templates",
     "fleet_restart_timeout", "fleet_health_command_timeout", "fleet_hook_timeout", "fleet_artifact_max_unpacked",
     "fleet_run_timeout", "fleet_lock_ttl", "fleet_wave_pause_timeout", "fleet_wave_pause_on_timeout",
     "fleet_wave_pause_poll", "fleet_canary_weights", "fleet_canary_step_pause"]
    + list(WAIT_VARIABLES.values()))


def role_spec_problems(specs, values_by_host):
    """The problems of each host's variables against the roles' entry point argument specs, said once per problem
    (naming the hosts when not every host has it). ``specs``: ``[(label, options)]`` as in a role's
    meta/argument_specs.yml; ``values_by_host``: ``{host: {variable: value}}`` (the variables the host has). The
    variables of CHECKED_VARIABLES are left out: check_run_inputs says what is wrong with them."""
    seen = {}
    for label, options in specs:
        options = {name: spec for name, spec in options.items() if name not in CHECKED_VARIABLES}
        validator = ArgumentSpecValidator(options)
        for host, values in values_by_host.items():
            checked = validator.validate({name: value for name, value in values.items() if name in options})
            for message in checked.error_messages:
                seen.setdefault("%s: %s" % (label, message), []).append(host)
    hosts = list(values_by_host)
    return ["%s%s" % (message, "" if len(where) == len(hosts) else " (hosts: %s)" % ", ".join(where))
            for message, where in seen.items()]


def check_run_inputs(operation, hosts, hostvars, groups, release=None, strategy="rolling", waves=None, mode="lockstep",
                     region_order=None, min_healthy=None, max_fail=0, wave_pause=0, keep_releases=None,
                     config_paths=(), config_templates=(), restart_timeout=120, health_command_timeout=30, hook_timeout=600,
                     artifact_max_unpacked=None, members=None, health_wait=None, run_timeout=0, lock_ttl=0,
                     role_problems=(), wave_pause_timeout=3600, wave_pause_on_timeout="abort", wave_pause_poll=10,
                     baseline_gates=None, canary_weights=None, canary_step_pause=0):
    """Validate the run's inputs; return the normalised inputs and the dry plan, or raise RunInputsError.

    ``members`` are all the inventory's hosts with a region (hosts outside a ``--limit`` keep serving and count
    towards min_healthy).
    """
    problems = list(role_problems)
    if operation not in OPERATIONS:
        raise RunInputsError("run", ["operation %r is not one of %s" % (operation, ", ".join(OPERATIONS))])
    if release not in (None, ""):
        try:
            validate_release_id(release)
        except ReleaseIdError as exc:
            problems.append("fleet_release: %s" % exc)
    elif operation == "deploy":
        problems.append("fleet_release is missing: pass -e fleet_release=<id> -e fleet_artifact=<path to .tar.gz>")
    strategy = _choice(strategy, STRATEGIES, "fleet_strategy", problems)
    mode = _choice(mode, MODES, "fleet_wave_mode", problems)
    max_fail = _int_at_least(max_fail, 0, "fleet_max_fail", problems, " (failures tolerated before the waves stop)")
    # Seconds of bake time, "manual", or per wave (issue 19; module_utils/_rollout_control.py).
    pause_ok = False
    try:
        normalize_pause(wave_pause)
        pause_ok = True
        if isinstance(wave_pause, str) and wave_pause.strip().isdigit():
            wave_pause = int(wave_pause.strip())
    except ControlError as exc:
        problems.append(str(exc))
    # Weighted canaries (issue 19; module_utils/_canary_weights.py): the steps, and what holds each reduced step.
    weights_ok, step_manual = False, False
    try:
        weights_ok = bool(normalize_weights(canary_weights))
        step_manual = weights_ok and normalize_step_pause(canary_step_pause)["kind"] == "manual"
        if weights_ok and strategy == "blue_green":
            problems.append("fleet_canary_weights is %r, but fleet_strategy is blue_green: a flip moves a whole region at "
                            "once; weighted canaries need fleet_strategy=rolling (or leave fleet_canary_weights empty)"
                            % (canary_weights,))
    except CanaryWeightsError as exc:
        problems.extend(exc.problems)
    if pause_ok and (any_pause(wave_pause) or step_manual):
        for check, value in ((normalize_timeout, wave_pause_timeout), (normalize_on_timeout, wave_pause_on_timeout),
                             (normalize_poll, wave_pause_poll)):
            try:
                check(value)
            except ControlError as exc:
                problems.append(str(exc))
    if operation == "deploy":
        keep_releases = _int_at_least(keep_releases, 0, "fleet_keep_releases", problems,
                                      " (releases kept on each host; 0 keeps every release)")
        if artifact_max_unpacked not in (None, ""):
            _int_at_least(artifact_max_unpacked, 1, "fleet_artifact_max_unpacked", problems, " (bytes; unset for the default)")
    # The bounds of the commands the run executes on the hosts: a bad value would fail only at its first use, mid-wave.
    _int_at_least(restart_timeout, 1, "fleet_restart_timeout", problems, " (seconds)")
    _int_at_least(health_command_timeout, 1, "fleet_health_command_timeout", problems, " (seconds)")
    _int_at_least(hook_timeout, 0, "fleet_hook_timeout", problems, " (seconds per hook task; 0 for no limit)")
    # The run's deadline and the locks' margin after it (see roles/run_control/tasks/fleet_lock.yml).
    _int_at_least(run_timeout, 0, "fleet_run_timeout", problems, " (seconds from the run's start; 0 for no deadline)")
    _int_at_least(lock_ttl, 0, "fleet_lock_ttl", problems, " (seconds the locks outlive the run's deadline; 0: they never expire)")
    if health_wait is not None:
        _health_wait(health_wait, problems)
    # The canary-versus-baseline comparisons (issue 19), checked as baseline_gate checks them at the first gate.
    problems.extend(comparison_problems(baseline_gates))
    problems.extend(host_problems(baseline_gates, hosts, hostvars))
    if region_order is not None and (isinstance(region_order, (str, bytes, Mapping)) or not isinstance(region_order, (list, tuple))):
        problems.append("fleet_region_order is %r: it must be a list of region names" % (region_order,))
        region_order = None
    if isinstance(config_paths, (str, bytes, Mapping)) or not isinstance(config_paths, (list, tuple)):
        problems.append("fleet_config_paths is %r: it must be a list of absolute paths" % (config_paths,))
    else:
        for index, path in enumerate(config_paths):
            try:
                validate_config_path(path, "fleet_config_paths[%d]" % index)
            except SnapshotError as exc:
                problems.append(str(exc))
    # Configuration paths that must exist on every host before a deploy: not those a template creates (its dest is the
    # path or lies below it).
    dests = [item.get("dest") for item in config_templates or () if isinstance(item, Mapping) and isinstance(item.get("dest"), str)]
    must_exist = [path for path in config_paths if isinstance(path, str)
                  and not any(dest == path or dest.startswith(path.rstrip("/") + "/") for dest in dests)] \
        if isinstance(config_paths, (list, tuple)) else []
    if not hosts:
        problems.append("the play has no host: check the inventory and --limit")
    regions, region_problems = hosts_by_region(hosts, hostvars, groups)
    problems.extend(region_problems)
    plan = []
    if not region_problems and hosts and strategy == "rolling" and mode:
        sizes = None
        if members is not None:
            sizes = {}
            for host in set(members) | set(hosts):
                region = hostvars.get(host, {}).get("fleet_region")
                if isinstance(region, str) and region:
                    sizes[region] = sizes.get(region, 0) + 1
            sizes = {region: sizes[region] for region in regions}
        try:
            plan = plan_waves(regions, waves=waves if waves is not None else (1, "50%", "100%"), mode=mode,
                              region_order=region_order, min_healthy=min_healthy, region_sizes=sizes)
        except FleetError as exc:
            problems.append("the waves cannot be planned: %s" % exc)
        if plan and pause_ok:
            try:
                normalize_pause(wave_pause, waves=len(plan))
            except ControlError as exc:
                problems.append(str(exc))
        if plan and weights_ok:
            try:
                normalize_weights(canary_weights, waves=len(plan))
            except CanaryWeightsError as exc:
                problems.append(str(exc))
    if problems:
        raise RunInputsError(operation, problems)
    return {
        "operation": operation,
        "release": release or None,
        "strategy": strategy,
        "mode": mode,
        "max_fail": max_fail,
        "wave_pause": wave_pause,
        "keep_releases": keep_releases,
        "regions": regions,
        "config_paths_to_check": must_exist if operation == "deploy" else [],
        "waves": len(plan),
        "batches": sum(len(wave["batches"]) for wave in plan),
    }


def lb_server(host, variables):
    """The host's server name in its load balancer's backend: ``fleet_lb_server``, default its inventory name."""
    return str((variables or {}).get("fleet_lb_server") or host)


def lb_servers_read(reads, hostvars):
    """``(host, its server's row or {})`` for each host of the load balancers' reads (lb_pool_info per region, looped
    over ``item.value``: the region's hosts) whose backend was read."""
    for read in reads or []:
        backends = read.get("backends") if isinstance(read, Mapping) else None
        if not isinstance(backends, Mapping):
            continue
        for host in (read.get("item") or {}).get("value") or []:
            variables = hostvars.get(host) or {}
            servers = backends.get(variables.get("fleet_lb_backend"))
            if isinstance(servers, Mapping):
                yield host, servers.get(lb_server(host, variables)) or {}


def lb_out_of_rotation(reads, hostvars):
    """The hosts an earlier run left out of rotation (drained or in maintenance), from the same reads as
    lb_membership_problems: a run plans them even when they run their target, so that it puts them back."""
    return [host for host, server in lb_servers_read(reads, hostvars) if server.get("state", "ready") not in ("ready", "unknown")]


def lb_membership_problems(reads, hostvars):
    """``{host: problem}`` for hosts their region's load balancer does not know.

    ``reads`` are the results of one ``lb_pool_info`` read per region (registered over a loop whose ``item.value`` is
    the region's hosts); skipped reads (no HAProxy in that region) are ignored. A host must name its backend
    (``fleet_lb_backend``) and its server (``fleet_lb_server``, default its inventory name) must be in that backend on
    every node: a drain or enable of an unknown server would fail half-way through a wave.
    """
    problems = {}
    for read in reads or []:
        if not isinstance(read, Mapping) or read.get("skipped") or "nodes" not in read:
            continue
        for host in (read.get("item") or {}).get("value") or []:
            variables = hostvars.get(host) or {}
            backend = variables.get("fleet_lb_backend")
            server = lb_server(host, variables)
            if not backend:
                problems[host] = "no fleet_lb_backend: name the HAProxy backend this host serves in"
                continue
            for node in read["nodes"]:
                servers = (node.get("backends") or {}).get(backend)
                if servers is None:
                    problems[host] = "backend %s is unknown to the load balancer at %s" % (backend, node.get("socket"))
                    break
                if server not in servers:
                    problems[host] = "server %s is not in backend %s at %s (servers there: %s)" % (
                        server, backend, node.get("socket"), ", ".join(sorted(servers)) or "none")
                    break
    return problems

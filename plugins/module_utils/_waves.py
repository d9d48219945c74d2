# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The wave planner: which hosts switch together, computed once from the inventory (pure, no Ansible).

A plan is a list of waves; a wave is a list of batches; a batch is the set of hosts (per region) that are
drained, switched and put back in rotation together.

- ``waves`` (default ``[1, "50%", "100%"]``) is applied per region and is cumulative: wave k brings each region
  up to its share. An int is a count of hosts, ``"N%"`` a share of the region rounded up (so it is never 0 hosts).
  Counts must grow strictly, percentages too, and the list must end with ``"100%"``: the plan never adds a wave
  the user did not write. Where a count and a percentage mix, a share that an earlier wave already reached in a
  region brings nobody there. A wave that brings no host in any region (tiny regions) is left out.
- ``min_healthy`` (default 1: never drain a region's last member) is what must stay in rotation per region.
  A wave whose share would drain more is split into batches. A region that cannot keep ``min_healthy`` while
  draining even one host is refused; lowering its ``min_healthy`` to 0 is the explicit way to accept that the
  region goes dark, and every batch that leaves a region with nobody in rotation says so (``outage``).
- ``lockstep``: every wave takes its share of every region (the first wave is one canary per region with the
  default list), so regions never drift more than one wave apart. ``sequential``: region after region in
  ``region_order`` (listed regions first, the others in inventory order), each region walking all the waves.

Host order within a region is the inventory order; the plan is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from fractions import Fraction

from ansible_collections.fleetops.release.plugins.module_utils._release_store import FleetError

MODES = ("lockstep", "sequential")
DEFAULT_WAVES = (1, "50%", "100%")
DEFAULT_MIN_HEALTHY = 1
_PERCENT_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
_COUNT_RE = re.compile(r"\s*(\d+)\s*")


class WavePlanError(FleetError):
    pass


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def parse_share(value, what):
    """Return ``("count", int)`` or ``("percent", Fraction)`` for an int, a digit string or ``"N%"``."""
    if _is_int(value):
        return ("count", value)
    if isinstance(value, str):
        match = _PERCENT_RE.fullmatch(value)
        if match:
            return ("percent", Fraction(match.group(1)))
        match = _COUNT_RE.fullmatch(value)
        if match:
            return ("count", int(match.group(1)))
    raise WavePlanError(
        "%s must be a number of hosts (such as 2) or a percentage of the region (such as \"50%%\"), got %r"
        % (what, value))


def resolve_share(share, size):
    """Hosts of a region of ``size`` hosts that a parsed share stands for (percentages rounded up)."""
    kind, amount = share
    if kind == "count":
        return min(amount, size)
    return min(size, math.ceil(amount * size / 100))


def normalize_waves(waves):
    """Validate the wave list; return it parsed, one ``(kind, amount)`` per wave."""
    if waves is None:
        waves = DEFAULT_WAVES
    if isinstance(waves, (str, bytes, Mapping)) or not isinstance(waves, (list, tuple)):
        raise WavePlanError("waves must be a list such as [1, \"50%%\", \"100%%\"], got %r" % (waves,))
    if not waves:
        raise WavePlanError("waves is empty: give at least [\"100%\"] (the default is [1, \"50%\", \"100%\"])")
    parsed = []
    last = {"count": None, "percent": None}
    for index, value in enumerate(waves, 1):
        what = "waves[%d]" % index
        kind, amount = parse_share(value, what)
        if kind == "count" and amount < 1:
            raise WavePlanError("%s is %r: a wave must bring at least 1 host" % (what, value))
        if kind == "percent" and not 0 < amount <= 100:
            raise WavePlanError("%s is %r: a percentage must be above 0%% and at most 100%%" % (what, value))
        if last[kind] is not None and amount <= last[kind]:
            raise WavePlanError(
                "%s is %r, not more than an earlier wave: shares are cumulative (wave k brings each region up "
                "to its share), so each must be larger than the one before" % (what, value))
        last[kind] = amount
        parsed.append((kind, amount))
    if parsed[-1] != ("percent", 100):
        raise WavePlanError(
            "the last wave is %r: end waves with \"100%%\" so that every host is switched (for example "
            "[1, \"50%%\", \"100%%\"])" % (waves[-1],))
    return parsed


def normalize_regions(hosts_by_region):
    """Validate ``{region: [hosts]}``; return it as an ordered dict of lists."""
    if not isinstance(hosts_by_region, Mapping) or not hosts_by_region:
        raise WavePlanError("no hosts to plan: give a mapping of region to its hosts, got %r" % (hosts_by_region,))
    regions = {}
    owner = {}
    for region, hosts in hosts_by_region.items():
        if not isinstance(region, str) or not region:
            raise WavePlanError("region names must be non-empty strings, got %r" % (region,))
        if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, (list, tuple)) or not hosts:
            raise WavePlanError("region %r must have a non-empty list of hosts, got %r" % (region, hosts))
        for host in hosts:
            if not isinstance(host, str) or not host:
                raise WavePlanError("host names must be non-empty strings, got %r in region %r" % (host, region))
            if host in owner:
                raise WavePlanError(
                    "host %r is listed twice (in region %r and in region %r): each host belongs to exactly one "
                    "region" % (host, owner[host], region))
            owner[host] = region
        regions[region] = list(hosts)
    return regions


def order_regions(regions, region_order):
    """Regions named in ``region_order`` first, in that order, then the others in inventory order."""
    if region_order is None:
        return list(regions)
    if isinstance(region_order, (str, bytes, Mapping)) or not isinstance(region_order, (list, tuple)):
        raise WavePlanError("region_order must be a list of region names, got %r" % (region_order,))
    seen = []
    for region in region_order:
        if region not in regions:
            raise WavePlanError(
                "region_order names %r, which has no host in this play (regions: %s): fix the name or the "
                "inventory/limit" % (region, ", ".join(sorted(regions))))
        if region in seen:
            raise WavePlanError("region_order names %r twice" % (region,))
        seen.append(region)
    return seen + [region for region in regions if region not in seen]


def _parse_min_healthy(value, what):
    kind, amount = parse_share(value, what)
    if kind == "count" and amount < 0:
        raise WavePlanError("%s is %r: it must be 0 or more hosts" % (what, value))
    if kind == "percent" and not 0 <= amount <= 100:
        raise WavePlanError("%s is %r: a percentage must be between 0%% and 100%%" % (what, value))
    return kind, amount


def resolve_sizes(regions, region_sizes):
    """``{region: members}``: the region's whole membership (hosts outside the plan serve too), at least its planned hosts."""
    if region_sizes is None:
        return {region: len(hosts) for region, hosts in regions.items()}
    if not isinstance(region_sizes, Mapping):
        raise WavePlanError("region_sizes must map region names to their number of members, got %r" % (region_sizes,))
    sizes = {}
    for region, hosts in regions.items():
        size = region_sizes.get(region, len(hosts))
        if not _is_int(size) or size < len(hosts):
            raise WavePlanError("region_sizes gives region %r %r member(s), but %d of its hosts are planned"
                                % (region, size, len(hosts)))
        sizes[region] = size
    return sizes


def resolve_min_healthy(regions, min_healthy, sizes=None):
    """Return ``{region: hosts that must stay in rotation}``; refuse a region that cannot drain one host."""
    if min_healthy is None:
        min_healthy = DEFAULT_MIN_HEALTHY
    if isinstance(min_healthy, Mapping):
        for region in min_healthy:
            if region not in regions:
                raise WavePlanError(
                    "min_healthy names region %r, which has no host in this play (regions: %s)"
                    % (region, ", ".join(sorted(regions))))
        per_region = {region: min_healthy.get(region, DEFAULT_MIN_HEALTHY) for region in regions}
    else:
        per_region = dict.fromkeys(regions, min_healthy)
    resolved = {}
    for region, value in per_region.items():
        share = _parse_min_healthy(value, "min_healthy for region %r" % (region,))
        size = sizes[region] if sizes else len(regions[region])
        resolved[region] = resolve_share(share, size)
        if resolved[region] >= size:
            raise WavePlanError(
                "region %r has %d host(s) and min_healthy %r keeps %d in rotation, so no host of it can be drained "
                "without leaving fewer than min_healthy serving: add hosts to the region, or lower min_healthy for "
                "it (0 accepts that the region goes out of service while its hosts switch, e.g. {%r: 0})"
                % (region, size, value, resolved[region], region))
    return resolved


def _chunks(hosts, capacity):
    """Split ``hosts`` into as few batches as ``capacity`` allows, of balanced sizes (larger first)."""
    if not hosts:
        return []
    count = -(-len(hosts) // capacity)
    base, extra = divmod(len(hosts), count)
    chunks = []
    start = 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        chunks.append(hosts[start:end])
        start = end
    return chunks


def _wave(spec, new_hosts, switched, sizes, ordered, min_healthy):
    """One wave from ``{region: hosts it brings}`` (only non-empty regions), split to keep min_healthy."""
    touched = [region for region in ordered if new_hosts.get(region)]
    per_region = {
        region: _chunks(new_hosts[region], sizes[region] - min_healthy[region]) for region in touched
    }
    batches = []
    count = max(len(chunks) for chunks in per_region.values())
    for index in range(count):
        by_region = {region: per_region[region][index] for region in touched if index < len(per_region[region])}
        in_rotation = {region: sizes[region] - len(hosts) for region, hosts in by_region.items()}
        outage_regions = [region for region, serving in in_rotation.items() if serving == 0]
        batches.append({
            "index": index + 1,
            "total": count,
            "hosts_by_region": by_region,
            "hosts": [host for hosts in by_region.values() for host in hosts],
            "in_rotation": in_rotation,
            "outage": bool(outage_regions),
            "outage_regions": outage_regions,
        })
    return {
        "spec": spec,
        "regions": touched,
        "hosts": [host for batch in batches for host in batch["hosts"]],
        "counts": {region: len(new_hosts[region]) for region in touched},
        "switched": dict(switched),
        "sizes": {region: sizes[region] for region in ordered},
        "min_healthy": {region: min_healthy[region] for region in ordered},
        "batches": batches,
    }


def plan_waves(hosts_by_region, waves=DEFAULT_WAVES, mode="lockstep", region_order=None, min_healthy=None,
               region_sizes=None):
    """Plan the waves of a release over ``{region: [hosts in inventory order]}``.

    ``region_sizes`` (``{region: members}``) counts members of a region that are not planned (outside a --limit, or
    already on the target): they stay in rotation, so min_healthy is measured against the whole region while the
    wave shares apply to the planned hosts.

    Return a list of waves. Each wave is a dict with ``index``/``total`` (1-based), ``mode``, ``spec`` (the entry of
    ``waves`` it comes from), ``regions`` (touched, in order), ``hosts`` (in batch order), ``counts`` (hosts it
    brings per touched region), ``switched`` (hosts switched per region once it is done, every region),
    ``sizes``, ``min_healthy`` (resolved, per region) and ``batches``. Each batch has ``index``/``total`` within
    its wave, ``wave``/``waves``, ``step``/``steps`` (across the plan), ``hosts_by_region`` (``{region: [hosts]}``),
    ``hosts``, ``in_rotation`` (members of each touched region left serving while it is drained), ``outage`` and
    ``outage_regions``. Raise WavePlanError on any invalid input.
    """
    if mode is None:
        mode = "lockstep"
    if mode not in MODES:
        raise WavePlanError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    parsed = normalize_waves(waves)
    spec = list(DEFAULT_WAVES if waves is None else waves)
    regions = normalize_regions(hosts_by_region)
    ordered = order_regions(regions, region_order)
    sizes = resolve_sizes(regions, region_sizes)
    floors = resolve_min_healthy(regions, min_healthy, sizes)

    # A count and a percentage cannot be ordered without the region's size: a share already reached by an
    # earlier wave brings nobody (wave k brings each region *up to* its share), it never goes back.
    targets = {}
    for region in ordered:
        size = len(regions[region])
        reached = 0
        targets[region] = []
        for share in parsed:
            reached = max(reached, resolve_share(share, size))
            targets[region].append(reached)

    plan = []
    switched = dict.fromkeys(ordered, 0)
    if mode == "lockstep":
        walks = [ordered]
    else:
        walks = [[region] for region in ordered]
    for walk in walks:
        for index in range(len(parsed)):
            new_hosts = {}
            for region in walk:
                new_hosts[region] = regions[region][switched[region]:targets[region][index]]
                switched[region] = targets[region][index]
            if any(new_hosts.values()):
                plan.append(_wave(spec[index], new_hosts, switched, sizes, ordered, floors))

    # Positions last, once the number of waves and steps is known; they lead each dict for readable output.
    steps = sum(len(wave["batches"]) for wave in plan)
    step = 0
    numbered = []
    for number, wave in enumerate(plan, 1):
        batches = []
        for batch in wave["batches"]:
            step += 1
            batches.append(dict({"wave": number, "waves": len(plan), "step": step, "steps": steps}, **batch))
        numbered.append(dict({"index": number, "total": len(plan), "mode": mode}, **dict(wave, batches=batches)))
    return numbered

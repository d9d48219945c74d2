# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One instant query of a Prometheus-compatible API from the controller: shared by the gates that read Prometheus
(metric_gate, baseline_gate)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from ansible_collections.fleetops.release.plugins.module_utils import _health_probe
from ansible_collections.fleetops.release.plugins.module_utils._health import HealthError, prometheus_series, shorten


class QueryRejected(HealthError):
    """Prometheus refused the query itself (HTTP 400/422): asking again cannot help."""


def query_url(base, query):
    base = base.rstrip("/")
    if not base.endswith("/api/v1/query"):
        base += "/api/v1/query"
    return base + "?" + urlencode({"query": query})


def measure(url, args):
    """(series, error text or None) of one query."""
    answer = _health_probe.http_probe(url, headers=args["headers"], timeout=args["request_timeout"],
                                      validate_certs=args["validate_certs"])
    if answer["error"]:
        return None, "no answer from %s (%s)" % (args["url"], answer["error"])
    try:
        document = json.loads(answer["body"])
    except ValueError:
        return None, "HTTP %s with a body that is not JSON: %s" % (answer["status"], shorten(repr(answer["body"])))
    try:
        series = prometheus_series(document)
    except HealthError as exc:
        if answer["status"] in (400, 422):
            raise QueryRejected("Prometheus rejected the query %r (HTTP %s): %s" % (args["query"], answer["status"], exc))
        return None, "HTTP %s: %s" % (answer["status"], exc)
    return series, None

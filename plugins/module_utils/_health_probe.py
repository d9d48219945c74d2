# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One HTTP or TCP probe, standard library only, so that the same code runs in two places.

On the controller the health action plugins import it. On a host (a check with ``run_on: host``) the
action plugin runs this file's source as ``python3 -c <source> <spec as JSON>`` and reads one JSON answer
from stdout. Keep it self-contained: no imports outside the standard library, nothing newer than Python 3.6.

An answer is ``{"status": int or None, "headers": {lower-case name: value}, "body": str, "latency_ms": float,
"error": str or None, "not_up": bool}``; ``error`` is set when no HTTP answer (or no TCP connection) came, and
``not_up`` when that is what a service that has not started (yet) looks like: refused, reset or no answer in time.
The health wait (_health.wait_until_healthy) forgives those during its start period; every other error (TLS, DNS,
a malformed answer) is a failure at once.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import time

from urllib import error as urllib_error
from urllib import request as urllib_request

BODY_LIMIT = 1024 * 1024


class _NoRedirect(urllib_request.HTTPRedirectHandler):
    """Redirects are answers to judge (status_codes), not hops to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        return None


def _describe_error(exc, timeout):
    """(text, not_up) of a failed probe: not_up for what a service that is not listening (yet) looks like."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer within %g s (timed out)" % timeout, True
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        # http.client.RemoteDisconnected is a ConnectionResetError: closed before any answer.
        return "connection reset (%s)" % (reason or type(reason).__name__), True
    if isinstance(reason, ssl.SSLError):
        return "TLS error: %s" % reason, False
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name: %s" % reason, False
    return "%s: %s" % (type(reason).__name__, reason), False


def _empty_answer():
    return {"status": None, "headers": {}, "body": "", "latency_ms": None, "error": None, "not_up": False}


def http_probe(url, method="GET", headers=None, timeout=5.0, validate_certs=True):
    """Send one request; never raises for network trouble (the answer's error says what happened)."""
    handlers = [urllib_request.ProxyHandler({}), _NoRedirect()]
    if url.lower().startswith("https:"):
        context = ssl.create_default_context()
        if not validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers.append(urllib_request.HTTPSHandler(context=context))
    opener = urllib_request.build_opener(*handlers)
    req = urllib_request.Request(url, method=method, headers=dict(headers or {}))
    started = time.monotonic()
    answer = _empty_answer()
    response = None
    try:
        try:
            response = opener.open(req, timeout=timeout)
        except urllib_error.HTTPError as exc:
            response = exc  # an HTTP error status is still an answer, with headers and a body
        body = response.read(BODY_LIMIT)
        answer["status"] = int(response.getcode())
        answer["headers"] = dict((name.lower(), value) for name, value in response.headers.items())
        answer["body"] = body.decode("utf-8", "replace")
    except (urllib_error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        answer["error"], answer["not_up"] = _describe_error(exc, timeout)
    finally:
        if response is not None:
            response.close()
    answer["latency_ms"] = round((time.monotonic() - started) * 1000.0, 1)
    return answer


def tcp_probe(host, port, timeout=5.0):
    """Open (and close) one TCP connection."""
    started = time.monotonic()
    answer = _empty_answer()
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        sock.close()
    except OSError as exc:
        answer["error"], answer["not_up"] = _describe_error(exc, timeout)
    answer["latency_ms"] = round((time.monotonic() - started) * 1000.0, 1)
    return answer


def run(spec):
    """Run the probe a spec describes: {"type": "http", "url", "method", "headers", "timeout", "validate_certs"}
    or {"type": "tcp", "host", "port", "timeout"}."""
    if spec.get("type") == "tcp":
        return tcp_probe(spec["host"], spec["port"], float(spec.get("timeout") or 5.0))
    return http_probe(spec["url"], method=spec.get("method") or "GET", headers=spec.get("headers"),
                      timeout=float(spec.get("timeout") or 5.0), validate_certs=spec.get("validate_certs", True))


def main():
    sys.stdout.write(json.dumps(run(json.loads(sys.argv[1]))) + "\n")


if __name__ == "__main__":
    main()

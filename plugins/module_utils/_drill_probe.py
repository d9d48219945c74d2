# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The drill's measurement from outside: requests through each region's load balancer, one JSON line per answer.

Standard library and ansible-core's own URL helper only; run by the module ``drill_probe`` on the controller, started asynchronously by the drill role and
stopped by a stop file (never by a signal to a process found by name). Bounded in time and in requests: it stops at the
first of ``max_seconds``, ``max_requests`` or the stop file.

One record per request, appended to ``output`` as soon as it is answered (so a probe that dies leaves what it saw):
``{"t": <epoch seconds when sent>, "region", "status" (0: no HTTP answer), "release", "host", "ms", "error"}``.
The release and the host come from the answer: a JSON object with ``release`` (and ``host``), or a text line
``release <id> on <host>``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error

from ansible.module_utils.urls import open_url

_PLAIN_ANSWER = re.compile(r"^release (\S+) on (\S+?)(?::.*)?$")
BODY_LIMIT = 4096


def release_and_host(body):
    """``(release, host)`` of an answer, ``(None, None)`` when it names neither."""
    text = (body or "").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None, None
        if isinstance(data, dict):
            release, host = data.get("release"), data.get("host")
            return (release if isinstance(release, str) else None), (host if isinstance(host, str) else None)
        return None, None
    match = _PLAIN_ANSWER.match(text.splitlines()[0] if text else "")
    return (match.group(1), match.group(2)) if match else (None, None)


def join_url(base, path):
    """``base`` (a load balancer URL such as http://10.0.0.1:80/) with ``path`` (/, /health)."""
    return base.rstrip("/") + "/" + (path or "/").lstrip("/")


def fetch(url, timeout):
    """One GET: ``(status, body, error)``; status 0 when there was no HTTP answer (refused, reset, timed out)."""
    try:
        # The operator's own load balancer; no proxy from the environment in between (it would measure the proxy).
        with open_url(url, timeout=timeout, use_proxy=False, follow_redirects="none") as answer:
            return answer.status, answer.read(BODY_LIMIT).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(BODY_LIMIT).decode("utf-8", "replace")
        except OSError:
            body = ""
        return exc.code, body, None
    except (OSError, ValueError) as exc:  # URLError, timeouts and resets are OSErrors
        return 0, "", "%s: %s" % (type(exc).__name__, getattr(exc, "reason", exc))


class Probe:
    """Threads, one per region, each sending a GET every ``interval`` seconds until a bound or the stop file stops them."""

    def __init__(self, targets, output, stop_file, path="/", interval=0.1, timeout=2.0, max_seconds=600, max_requests=100000,
                 fetch_fn=fetch, clock=time.time, sleep=time.sleep):
        if not targets:
            raise ValueError("the probe needs at least one region with a load balancer URL")
        for name, value in (("interval", interval), ("timeout", timeout), ("max_seconds", max_seconds), ("max_requests", max_requests)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError("%s must be a number above 0, got %r" % (name, value))
        self.targets = dict(targets)
        self.output = output
        self.stop_file = stop_file
        self.path = path
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.max_seconds = float(max_seconds)
        self.max_requests = int(max_requests)
        self._fetch = fetch_fn
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._count = 0
        self._stopped_by = None
        self._done = threading.Event()

    def _should_stop(self, started):
        if self._done.is_set():
            return True
        reason = None
        if self._count >= self.max_requests:
            reason = "max_requests"
        elif self._clock() - started >= self.max_seconds:
            reason = "max_seconds"
        elif self.stop_file and os.path.exists(self.stop_file):
            reason = "stop_file"
        if reason:
            with self._lock:
                self._stopped_by = self._stopped_by or reason
            self._done.set()
            return True
        return False

    def _loop(self, region, url, started, handle):
        while not self._should_stop(started):
            with self._lock:
                if self._count >= self.max_requests:
                    continue
                self._count += 1
            sent = self._clock()
            status, body, error = self._fetch(url, self.timeout)
            release, host = release_and_host(body) if status else (None, None)
            record = {"t": round(sent, 4), "region": region, "status": status, "release": release, "host": host,
                      "ms": round((self._clock() - sent) * 1000.0, 1), "error": error}
            line = json.dumps(record, sort_keys=True) + "\n"
            with self._lock:
                handle.write(line)
                handle.flush()
            self._sleep(self.interval)

    def run(self):
        """Probe until a bound or the stop file; returns ``{requests, seconds, stopped_by, regions}``."""
        started = self._clock()
        with open(self.output, "a", encoding="utf-8") as handle:
            threads = [threading.Thread(target=self._loop, args=(region, join_url(url, self.path), started, handle),
                                        name="drill-probe-%s" % region, daemon=True)
                       for region, url in sorted(self.targets.items())]
            for thread in threads:
                thread.start()
            for thread in threads:
                # Each thread ends within one request timeout plus one interval of a bound being reached.
                thread.join(self.max_seconds + self.timeout + self.interval + 5)
            self._done.set()
        return {"requests": self._count, "seconds": round(self._clock() - started, 3), "stopped_by": self._stopped_by or "max_seconds",
                "regions": sorted(self.targets)}


def read_records(path):
    """The records of a probe output file, oldest first; a torn last line (the probe was killed) is skipped."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("t"), (int, float)):
                    records.append(record)
    except FileNotFoundError:
        return []
    records.sort(key=lambda record: record["t"])
    return records

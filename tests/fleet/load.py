# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Continuous requests against the test fleet while something changes it (a drain, a flip, a whole deploy).

    with RequestLoad([fleet.lb_url(r) for r in fleet.regions], path="/health") as load:
        ... deploy ...
    assert not load.failures, load.failures[:5]
    assert load.releases_seen() == {"v2"}          # or a subset while the deploy runs

Standard library only (plus fleetlib's direct HTTP GET).
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time

import fleetlib

# GET / answers "release <id> on <host>" in plain text; GET /health answers JSON with "release" and "host".
_PLAIN_ANSWER = re.compile(r"^release (\S+) on (\S+?)(?::.*)?$")


@dataclasses.dataclass(frozen=True)
class RequestFailure:
    """One answer that was not 200: when (time.time()), the full URL, the status (0 = no HTTP answer) and a short body."""

    time: float
    url: str
    status: int
    body: str


def release_and_host(body: str) -> tuple[str | None, str | None]:
    """(release, host) of an app answer: JSON from /health, or the text line of / and /slow; (None, None) otherwise."""
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None, None
        return (data.get("release"), data.get("host")) if isinstance(data, dict) else (None, None)
    match = _PLAIN_ANSWER.match(text)
    return (match.group(1), match.group(2)) if match else (None, None)


class RequestLoad:
    """Threads doing GETs of <url><path> round-robin over the URLs until stopped; every answer is counted per URL.

    Each thread pauses ``pause`` seconds between its requests, so a few threads keep a steady trickle without taking
    the machine's cores from the fleet under test.  ``failures`` records every answer other than 200 (status 0: no HTTP
    answer at all, e.g. connection refused or a timeout).
    """

    def __init__(self, urls, threads: int = 4, path: str = "/", pause: float = 0.05, timeout: float = 10.0, body_chars: int = 200):
        if isinstance(urls, str):
            urls = [urls]
        if not urls:
            raise ValueError("RequestLoad needs at least one URL")
        self.urls = list(urls)
        self.path = path
        self.pause = pause
        self.timeout = timeout
        self.body_chars = body_chars
        self.statuses: dict[int, int] = {}
        self.failures: list[RequestFailure] = []
        self._counts = {url: {"ok": 0, "failed": 0} for url in self.urls}
        self._releases: dict[str, int] = {}
        self._hosts: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True, name=f"request-load-{i}") for i in range(threads)]

    def _run(self, index: int) -> None:
        n = 0
        while not self._stop.is_set():
            base = self.urls[(index + n) % len(self.urls)]
            n += 1
            url = base.rstrip("/") + self.path
            try:
                status, body = fleetlib.http_get(url, timeout=self.timeout)
            except OSError as exc:
                status, body = 0, f"{type(exc).__name__}: {exc}"
            self._record(base, url, status, body)
            self._stop.wait(self.pause)

    def _record(self, base: str, url: str, status: int, body: str) -> None:
        release, host = release_and_host(body) if status == 200 else (None, None)
        with self._lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self._counts[base]["ok"] += 1
                if release:
                    self._releases[release] = self._releases.get(release, 0) + 1
                if host:
                    self._hosts[host] = self._hosts.get(host, 0) + 1
            else:
                self._counts[base]["failed"] += 1
                self.failures.append(RequestFailure(time.time(), url, status, body[:self.body_chars]))

    # running
    def start(self) -> RequestLoad:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def __enter__(self) -> RequestLoad:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # results
    def summary(self) -> dict[str, dict[str, int]]:
        """{url: {"ok": n, "failed": n}} for every URL given (as given, without the path)."""
        with self._lock:
            return {url: dict(counts) for url, counts in self._counts.items()}

    @property
    def ok(self) -> int:
        with self._lock:
            return sum(counts["ok"] for counts in self._counts.values())

    @property
    def failed(self) -> int:
        with self._lock:
            return len(self.failures)

    def releases_seen(self) -> set[str]:
        """The releases that answered 200: from the JSON of /health, or the "release <id> on <host>" text of /."""
        with self._lock:
            return set(self._releases)

    def hosts_seen(self) -> set[str]:
        """The hosts that answered 200 (parsed like releases_seen)."""
        with self._lock:
            return set(self._hosts)

# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetapp: the demo application deployed to the hosts of the local test fleet (standard library only).

Runs as ``/usr/bin/python3 /srv/app/current/app.py`` inside a fleet host.  The release id is the name of the
directory this file really lives in (``/srv/app/releases/<id>`` behind the ``current`` symlink).

Configuration, read once at start: ``/etc/fleetapp/app.conf`` (``key = value`` lines, ``listen = ADDR:PORT``
required) and the names of the files in ``/etc/fleetapp/conf.d/``.

Endpoints:
  GET /health       200 JSON {"status": "ok", "release", "host", "pid", "run_id", "config", "conf_d"} (503 when failing)
  GET /             200 "release <id> on <host>"
  GET /slow?seconds=N  sleeps N seconds (at most 300), then 200
  GET /metrics      Prometheus text format: fleetapp_http_requests_total{code,release} of the requests other than
                    /health and /metrics, fleetapp_info{release} and process_cpu_seconds_total (user and system CPU
                    of the process, every thread); never delayed, never failed

Test behaviour comes from the release itself, ``behaviour.json`` next to this file:
  {"health": "ok"|"fail", "report_release": null|"<id>", "delay_seconds": 0, "error_rate": 0.0, "crash": false,
   "cpu_load": 0.0}
  health fail: /health answers 503; report_release: the id reported instead of the real one;
  delay_seconds: added to every request; error_rate: that fraction of the requests other than /health
  answers 500, deterministically (the n-th request fails when floor(n*rate) > floor((n-1)*rate));
  crash true: the process logs "crashing at start" and exits with status 1 right after reading its configuration
  and behaviour, before it listens (a release that dies at start: nothing ever answers on its port);
  cpu_load: a background thread keeps that fraction of one core busy (at most 0.5: the test machine has 2 cores),
  in 20 ms periods of spinning then sleeping, so that a release "uses more CPU" (issue 19's CPU comparison gate).

SIGTERM or SIGINT: stop accepting, let the requests in flight finish, exit 0.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CONFIG_FILE = "/etc/fleetapp/app.conf"
CONF_D = "/etc/fleetapp/conf.d"
BEHAVIOUR_FILE = "behaviour.json"
MAX_SLOW_SECONDS = 300.0
MAX_CPU_LOAD = 0.5  # of one core: the test machine has two, shared with the rest of the suite
CPU_PERIOD = 0.02
RELEASE_DIR = os.path.dirname(os.path.realpath(__file__))
RELEASE_ID = os.path.basename(RELEASE_DIR)


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} fleetapp[{os.getpid()}] {message}\n")
    sys.stderr.flush()


def read_config(path: str = CONFIG_FILE) -> dict:
    config = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{path}:{number}: expected 'key = value', got {line!r}")
            config[key.strip()] = value.strip()
    return config


def list_conf_d(path: str = CONF_D) -> list:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def read_behaviour(release_dir: str = RELEASE_DIR) -> dict:
    behaviour = {"health": "ok", "report_release": None, "delay_seconds": 0.0, "error_rate": 0.0, "crash": False,
                 "cpu_load": 0.0}
    path = os.path.join(release_dir, BEHAVIOUR_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path} must hold a JSON object")
        unknown = set(loaded) - set(behaviour)
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
        behaviour.update(loaded)
    if behaviour["health"] not in ("ok", "fail"):
        raise ValueError(f"behaviour health must be ok or fail, not {behaviour['health']!r}")
    if not isinstance(behaviour["crash"], bool):
        raise ValueError(f"behaviour crash must be true or false, not {behaviour['crash']!r}")
    behaviour["delay_seconds"] = max(0.0, float(behaviour["delay_seconds"]))
    behaviour["error_rate"] = min(1.0, max(0.0, float(behaviour["error_rate"])))
    behaviour["cpu_load"] = min(MAX_CPU_LOAD, max(0.0, float(behaviour["cpu_load"])))
    return behaviour


def parse_listen(value: str) -> tuple:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen must be ADDRESS:PORT, not {value!r}")
    return host.strip("[]"), int(port)


_METRICS_LOCK = threading.Lock()
_RESPONSES: dict = {200: 0, 500: 0}  # status -> count (other than /health, /metrics); 0s so that rate() sees the first increase


def count_response(path: str, status: int) -> None:
    if path not in ("/health", "/metrics"):
        with _METRICS_LOCK:
            _RESPONSES[status] = _RESPONSES.get(status, 0) + 1


def render_metrics(release: str) -> str:
    with _METRICS_LOCK:
        counts = sorted(_RESPONSES.items())
    lines = ["# HELP fleetapp_http_requests_total Requests answered, other than /health and /metrics.",
             "# TYPE fleetapp_http_requests_total counter"]
    lines += [f'fleetapp_http_requests_total{{code="{code}",release="{release}"}} {count}' for code, count in counts]
    lines += ["# HELP fleetapp_info The release this app reports.", "# TYPE fleetapp_info gauge", f'fleetapp_info{{release="{release}"}} 1']
    lines += ["# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
              "# TYPE process_cpu_seconds_total counter", f"process_cpu_seconds_total {time.process_time():.6f}"]
    return "\n".join(lines) + "\n"


def burn_cpu(load: float, stopping: threading.Event) -> None:
    """Keep ``load`` of one core busy until ``stopping`` is set: spin for load * CPU_PERIOD, sleep for the rest."""
    while not stopping.is_set():
        until = time.perf_counter() + load * CPU_PERIOD
        while time.perf_counter() < until:
            pass
        stopping.wait(CPU_PERIOD * (1.0 - load))


class App:
    """What every request handler needs: configuration, behaviour and the error counter."""

    def __init__(self, config: dict, conf_d: list, behaviour: dict):
        self.config = config
        self.conf_d = conf_d
        self.behaviour = behaviour
        self.release = behaviour["report_release"] if behaviour["report_release"] is not None else RELEASE_ID
        self.host = config.get("host") or socket.gethostname()
        self.run_id = os.environ.get("FLEET_RUN_ID")
        self._lock = threading.Lock()
        self._requests = 0

    def next_request_fails(self) -> bool:
        rate = self.behaviour["error_rate"]
        if rate <= 0:
            return False
        with self._lock:
            self._requests += 1
            count = self._requests
        return math.floor(count * rate) > math.floor((count - 1) * rate)

    def health(self) -> dict:
        return {
            "status": "ok" if self.behaviour["health"] == "ok" else "fail",
            "release": self.release,
            "host": self.host,
            "pid": os.getpid(),
            "run_id": self.run_id,
            "config": self.config,
            "conf_d": self.conf_d,
        }


class Handler(BaseHTTPRequestHandler):
    server_version = "fleetapp/1.0"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing idle holds a shutdown up

    def _send(self, status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> None:
        data = body.encode("utf-8")
        count_response(urlsplit(self.path).path, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):  # pylint: disable=invalid-name
        app = self.server.app
        url = urlsplit(self.path)
        if url.path == "/metrics":
            self._send(200, render_metrics(app.release), "text/plain; version=0.0.4; charset=utf-8")
            return
        if app.behaviour["delay_seconds"]:
            time.sleep(app.behaviour["delay_seconds"])
        if url.path == "/health":
            health = app.health()
            self._send(200 if health["status"] == "ok" else 503, json.dumps(health, sort_keys=True) + "\n", "application/json")
            return
        if app.next_request_fails():
            self._send(500, f"release {app.release} on {app.host}: injected error\n")
            return
        if url.path == "/":
            self._send(200, f"release {app.release} on {app.host}\n")
        elif url.path == "/slow":
            try:
                seconds = float(parse_qs(url.query).get("seconds", ["1"])[0])
            except ValueError:
                self._send(400, "seconds must be a number\n")
                return
            seconds = min(max(seconds, 0.0), MAX_SLOW_SECONDS)
            time.sleep(seconds)
            self._send(200, f"release {app.release} on {app.host}: slept {seconds:g} s\n")
        else:
            self._send(404, "not found\n")

    do_HEAD = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if not self.path.startswith("/health"):
            log(f"{self.client_address[0]} {format % args}")


class AppServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = False  # server_close() waits for the requests in flight
    block_on_close = True
    request_queue_size = 128

    def __init__(self, address, app: App):
        self.app = app
        super().__init__(address, Handler)


def main() -> int:
    try:
        config = read_config()
        if "listen" not in config:
            raise ValueError(f"{CONFIG_FILE} has no 'listen = ADDRESS:PORT'")
        address = parse_listen(config["listen"])
        behaviour = read_behaviour()
        if behaviour["crash"]:
            log(f"release {RELEASE_ID}: crashing at start (behaviour crash), before listening on {address[0]}:{address[1]}")
            return 1
        server = AppServer(address, App(config, list_conf_d(), behaviour))
    except (OSError, ValueError) as exc:
        log(f"cannot start release {RELEASE_ID}: {exc}")
        return 2

    stopping = threading.Event()

    def on_signal(signum, _frame):
        if not stopping.is_set():
            stopping.set()
            log(f"signal {signum}: stop accepting, finishing the requests in flight")
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if behaviour["cpu_load"] > 0:
        threading.Thread(target=burn_cpu, args=(behaviour["cpu_load"], stopping), daemon=True).start()
    log(f"release {RELEASE_ID} (reported as {server.app.release}) listening on {address[0]}:{address[1]}, behaviour {json.dumps(behaviour)}")
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A throw-away PostgreSQL cluster for the tests: initdb + pg_ctl from Debian's postgresql package.

PostgreSQL refuses to run as root, so as root the cluster belongs to ``nobody``; it listens on 127.0.0.1 on a free
port and on a Unix socket inside its own directory, and is stopped by ``pg_ctl stop``, which signals the pid of the
cluster's own postmaster.pid (never a process found by name).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

SUPERUSER = "postgres"
COMMAND_TIMEOUT = 120


def pg_bin(name):
    """Path of a PostgreSQL server program: the newest /usr/lib/postgresql/<major>/bin, else PATH."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    for directory in dirs:
        if os.access(os.path.join(directory, name), os.X_OK):
            return os.path.join(directory, name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError("%s not found: install Debian's postgresql package (scripts/bootstrap.sh)" % name)
    return found


def free_port(address="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class Cluster:
    """One PostgreSQL cluster in its own directory; ``start()`` then ``stop()``."""

    def __init__(self, superuser_password="super-Pa55-word", address="127.0.0.1"):
        self.superuser_password = superuser_password
        self.address = address
        self.port = None
        self.pid = None
        # Owned by an unprivileged user that PostgreSQL accepts; /tmp itself is traversable by it.
        self.run_as = "nobody" if os.geteuid() == 0 else None
        self.base = tempfile.mkdtemp(prefix="fleet-pg-")
        self.data = os.path.join(self.base, "data")
        self.socket_dir = os.path.join(self.base, "sock")
        self.log = os.path.join(self.base, "postgresql.log")

    def _run(self, args, **kwargs):
        kwargs.setdefault("timeout", COMMAND_TIMEOUT)
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            kwargs.update(user=entry.pw_uid, group=entry.pw_gid, extra_groups=[])
        env = dict(os.environ, LC_ALL="C.UTF-8", HOME=self.base)
        proc = subprocess.run(args, cwd=self.base, env=env, capture_output=True, text=True, check=False, **kwargs)
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%s):\n%s\n%s\n%s" % (args[0], proc.returncode, proc.stdout, proc.stderr,
                                                                self.log_tail()))
        return proc

    def log_tail(self):
        try:
            with open(self.log, encoding="utf-8", errors="replace") as handle:
                return handle.read()[-3000:]
        except OSError:
            return ""

    def start(self):
        os.makedirs(self.socket_dir)
        pwfile = os.path.join(self.base, "pwfile")
        with open(pwfile, "w", encoding="utf-8") as handle:
            handle.write(self.superuser_password + "\n")
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            for path in (self.base, self.socket_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        # Local socket: trust (the harness's own superuser); TCP: password (scram), as a real server is reached.
        self._run([pg_bin("initdb"), "-D", self.data, "-U", SUPERUSER, "--pwfile", pwfile, "-E", "UTF8",
                   "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions"])
        os.unlink(pwfile)
        for attempt in range(3):
            self.port = free_port(self.address)
            options = "-c listen_addresses=%s -p %d -k %s -c fsync=off -c full_page_writes=off" % (
                self.address, self.port, self.socket_dir)
            try:
                self._run([pg_bin("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start"])
                break
            except RuntimeError:
                if attempt == 2:  # the free port was taken in between: try another
                    raise
        with open(os.path.join(self.data, "postmaster.pid"), encoding="utf-8") as handle:
            self.pid = int(handle.readline())
        return self

    def stop(self):
        if self.pid is not None:
            # pg_ctl signals the pid in this cluster's postmaster.pid and waits for it to go.
            self._run([pg_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"])
            self.pid = None
        shutil.rmtree(self.base, ignore_errors=True)

    def psql(self, sql, dbname="postgres", user=SUPERUSER):
        """Run SQL as the superuser over the cluster's socket; returns psql's unaligned output."""
        proc = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", self.socket_dir, "-p",
                               str(self.port), "-U", user, "-d", dbname, "-c", sql],
                              capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError("psql failed: %s\n%s" % (sql[:200], proc.stderr))
        return proc.stdout

    def create_database(self, name, owner, password):
        """A login role (scram password) owning a new database."""
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (owner, password))
        self.psql("CREATE DATABASE %s OWNER %s" % (name, owner))
        return {"host": self.address, "port": self.port, "dbname": name, "user": owner, "password": password}

    def url(self, dbname, user, password, driver="postgresql"):
        return "%s://%s:%s@%s:%d/%s" % (driver, user, password, self.address, self.port, dbname)

"""A throwaway PostgreSQL server for the tests: installed from Debian packages when missing,
initialized in a temporary directory, listening on 127.0.0.1 at a free port, stopped at the end.

``CRA_TEST_PG_URL=postgresql://...`` uses an existing server instead (databases are created in it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from typing import List, Optional


def _bindir() -> Optional[str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def _install() -> str:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(cmd, env=env, capture_output=True, check=True)
    b = _bindir()
    if b is None:
        raise RuntimeError("postgresql installed but no initdb under /usr/lib/postgresql/*/bin")
    return b


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of our own (or the one CRA_TEST_PG_URL names)."""

    def __init__(self) -> None:
        self.external = os.environ.get("CRA_TEST_PG_URL")
        self.dir: Optional[str] = None
        self.port = 0
        self.base_url = self.external or ""
        self.bindir = ""

    def _as_pg(self, args: List[str]) -> List[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def start(self) -> "Cluster":
        """Installs (when needed), initializes and starts the server."""
        if self.external:
            return self
        self.bindir = _bindir() or _install()
        self.dir = tempfile.mkdtemp(prefix="cra-pg-")
        data, sock = os.path.join(self.dir, "data"), os.path.join(self.dir, "sock")
        os.mkdir(sock)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.dir, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        subprocess.run(self._as_pg([f"{self.bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                                    "--no-sync"]), check=True, capture_output=True)
        self.port = free_port()
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c fsync=off -c synchronous_commit=off"
                " -c full_page_writes=off -c max_connections=200")
        subprocess.run(self._as_pg([f"{self.bindir}/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w",
                                    "-t", "60", "-o", opts, "start"]), check=True, capture_output=True)
        self.base_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return self

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.base_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.base_url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        """Stops the server and removes its directory."""
        if self.external or self.dir is None:
            return
        subprocess.run(self._as_pg([f"{self.bindir}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast", "-w",
                                    "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

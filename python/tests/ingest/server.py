"""A real ``cra serve`` in a subprocess on 127.0.0.1 at a free port, and a tiny HTTP client
(http.client: exact control over headers and bodies)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, Optional, Tuple

from .helpers import REPO
from .pg import free_port

#: Tenants whose ``all-<tenant>`` token has every right; plus restricted tokens for acme.
TENANTS = ("acme", "globex", "tight", "retain", "query", "kill", "busy", "replay", "cli")


def write_tokens(path: str) -> Dict[str, Any]:
    """Writes the tokens file the servers use; returns it."""
    doc: Dict[str, Any] = {f"all-{t}": {"tenant": t, "rights": ["write", "read", "admin"]} for t in TENANTS}
    doc["w-acme"] = {"tenant": "acme", "rights": ["write"]}
    doc["r-acme"] = {"tenant": "acme", "rights": ["read"]}
    doc["sha256:" + hashlib.sha256(b"hashed-secret").hexdigest()] = {"tenant": "acme", "rights": ["read", "write"]}
    with open(path, "w") as f:
        json.dump(doc, f)
    return doc


class Server:
    """``python -m cra serve`` with the given database and flags."""

    def __init__(self, db_url: str, tokens: str, log: str, *flags: str, env: Optional[Dict[str, str]] = None) -> None:
        self.db_url, self.tokens, self.log_path, self.flags = db_url, tokens, log, flags
        self.env = env or {}
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.port = 0

    def start(self) -> "Server":
        """Starts it and waits (at most 60 s) until /healthz answers 200."""
        self.port = free_port()
        import cra

        here = os.path.dirname(os.path.dirname(os.path.abspath(cra.__file__)))
        path = os.pathsep.join(x for x in (here, os.environ.get("PYTHONPATH", "")) if x)
        env = dict(os.environ, PYTHONPATH=path, **self.env)
        env.pop("CRA_INGEST_DB", None)
        key = [] if "--log-key" in self.flags else ["--log-key", os.path.join(os.path.dirname(self.log_path), "log.key")]
        cmd = [sys.executable, "-m", "cra", "serve", "--db", self.db_url, "--tokens", self.tokens,
               "--host", "127.0.0.1", "--port", str(self.port), *key, *self.flags]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cra serve exited with {self.proc.returncode}: {self.log()}")
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"cra serve did not become healthy: {self.log()}")

    def log(self) -> str:
        """The server's output so far (last 4000 characters)."""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: Optional[bytes] = None, token: Optional[str] = None,
                headers: Optional[Dict[str, str]] = None, timeout: float = 120) -> Tuple[int, Dict[str, str], bytes]:
        """One request on a new connection: (status, lower-cased headers, body)."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def post(self, body: bytes, token: str, encoding: Optional[str] = None) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
        """POST /v1/traces; returns (status, JSON body, headers)."""
        h = {"Content-Type": "application/x-ndjson"}
        if encoding:
            h["Content-Encoding"] = encoding
        status, headers, raw = self.request("POST", "/v1/traces", body, token, h)
        return status, json.loads(raw) if raw else {}, headers

    def get_json(self, path: str, token: str) -> Tuple[int, Any]:
        status, _, raw = self.request("GET", path, token=token)
        return status, json.loads(raw)

    def kill(self) -> None:
        """SIGKILL, no shutdown of any kind."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM (clean shutdown), SIGKILL after 20 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()

"""The benchmark's own moto server, and a request counter for any server that writes an access log.
tests/conftest.py starts its moto server with this class too (bench never imports from tests).

Requests are counted from the server's log, never from the clients: every side of a comparison is
counted the same way, whatever tool it is.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

from bench.stats import Request, classify, count, parse_requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LogCounter:
    """Counts requests a server logged between two points.

    A server logs a request after answering it, so before reading, one marker request is made and the
    log is read once the marker shows up: everything answered before the marker is then in the log.
    """

    def __init__(self, marker_url: str, log_path: Path, skip_prefixes=("/moto-api",), classifier=classify):
        self.marker_url = marker_url
        self.log_path = Path(log_path)
        self.skip_prefixes = skip_prefixes
        self.classifier = classifier

    def _sync(self) -> int:
        marker = "bench-marker-" + uuid.uuid4().hex
        sep = "&" if "?" in self.marker_url else "?"
        try:
            urllib.request.urlopen(f"{self.marker_url}{sep}m={marker}", timeout=10).read()
        except OSError:
            pass  # an error status is logged too; only the line matters
        deadline = time.monotonic() + 10
        needle = marker.encode()
        while time.monotonic() < deadline:
            data = self.log_path.read_bytes()
            at = data.rfind(needle)
            if at >= 0:
                end = data.find(b"\n", at)
                return len(data) if end < 0 else end + 1
            time.sleep(0.01)
        raise RuntimeError(f"the marker request never reached {self.log_path}")

    def mark(self) -> int:
        """A point in the log: every request answered so far lies before it."""
        return self._sync()

    def requests_since(self, mark: int) -> list[Request]:
        end = self._sync()
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            text = f.read(end - mark).decode("utf-8", errors="replace")
        return [r for r in parse_requests(text, self.skip_prefixes) if "bench-marker-" not in r.path]

    def counts_since(self, mark: int) -> tuple[Counter, int]:
        """(requests by label, how many got a 5xx)."""
        reqs = self.requests_since(mark)
        return count(reqs, self.classifier), sum(1 for r in reqs if r.status >= 500)


class MotoServer:
    """`python -m moto.server` on a free loopback port; its log is bench/work/moto.log."""

    def __init__(self, workdir: Path, python: str = sys.executable):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "moto.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start; see {self.log_path}") from None
                time.sleep(0.1)
        self.counter = LogCounter(self.url + "/moto-api/", self.log_path)

    def post(self, path: str, body: dict | None = None) -> bytes:
        req = urllib.request.Request(self.url + path, data=json.dumps(body or {}).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        return urllib.request.urlopen(req, timeout=30).read()

    def reset(self) -> None:
        self.post("/moto-api/reset")

    def batch_use_docker(self, enabled: bool) -> None:
        self.post("/moto-api/config", {"batch": {"use_docker": enabled}})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()

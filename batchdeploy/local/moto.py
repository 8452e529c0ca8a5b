"""The moto server: one start-up shared by the stack, the tests' fixtures and the benchmark, and the
reading of its request log (how tests and the benchmark count AWS calls: from the server's side, the
same way for every client).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import OperationError
from batchdeploy.local.supervise import LOOPBACK, http_ok, pick_port, wait_answering

MODULES = ("moto", "flask", "docker")  # what `python -m moto.server` with Batch on containers needs
START_TIMEOUT = 60.0
# werkzeug (moto) and the distribution registry both log `"METHOD /path HTTP/1.1" STATUS`.
LOG_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
MARKER = "bench-marker-"


# moto's server with the patch that makes dependsOn behave as AWS documents (arrays, N_TO_N, failure)
SERVER = Path(__file__).with_name("moto_server.py")


def command(python: str, port: int) -> list[str]:
    return [python, str(SERVER), "-H", LOOPBACK, "-p", str(port)]


def environment(base: dict, docker_host: str | None = None) -> dict:
    """moto's environment: unbuffered (its log is read while it runs), no instance metadata lookups,
    and, when Batch jobs run as containers, the engine to run them on with host networking (a job's
    container reaches this server at 127.0.0.1)."""
    env = {**base, "PYTHONUNBUFFERED": "1", "AWS_EC2_METADATA_DISABLED": "true"}
    if docker_host:
        env.update(DOCKER_HOST=docker_host, MOTO_DOCKER_NETWORK_MODE="host")
    return env


def has_server(python: str) -> bool:
    """Whether `python` can run moto[server]."""
    probe = f"import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in {MODULES!r}))"
    try:
        return subprocess.run([python, "-c", probe], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def answers(url: str) -> bool:
    return http_ok(url.rstrip("/") + "/moto-api/")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


def parse_requests(text: str, skip_prefixes: tuple[str, ...] = ("/moto-api",)) -> list[Request]:
    """Every request line in a server log, in order; the harness's own (moto-api, markers) left out."""
    out = []
    for line in text.splitlines():
        m = LOG_LINE.search(line)
        if m and not m["path"].startswith(skip_prefixes):
            out.append(Request(m["method"], m["path"], int(m["status"])))
    return out


class RequestLog:
    """Requests a server logged between two points.

    A server logs a request after answering it, so before reading, one marker request is made and the
    log is read once the marker shows up: everything answered before the marker is then in the log.
    """

    def __init__(self, marker_url: str, log_path: Path, skip_prefixes=("/moto-api",), sleep=time.sleep,
                 clock=time.monotonic):
        self.marker_url = marker_url
        self.log_path = Path(log_path)
        self.skip_prefixes = skip_prefixes
        self.sleep, self.clock = sleep, clock

    def _sync(self) -> int:
        marker = MARKER + uuid.uuid4().hex
        sep = "&" if "?" in self.marker_url else "?"
        http_ok(f"{self.marker_url}{sep}m={marker}", timeout=10)  # an error status is logged too
        deadline = self.clock() + 10
        needle = marker.encode()
        while self.clock() < deadline:
            data = self.log_path.read_bytes()
            at = data.rfind(needle)
            if at >= 0:
                end = data.find(b"\n", at)
                return len(data) if end < 0 else end + 1
            self.sleep(0.01)
        raise RuntimeError(f"the marker request never reached {self.log_path}")

    def mark(self) -> int:
        """A point in the log: every request answered so far lies before it."""
        return self._sync()

    def requests_since(self, mark: int) -> list[Request]:
        end = self._sync()
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            text = f.read(end - mark).decode("utf-8", errors="replace")
        return [r for r in parse_requests(text, self.skip_prefixes) if MARKER not in r.path]


class MotoServer:
    """`python -m moto.server` on a free loopback port, started and waited for; its log is
    WORKDIR/moto.log and `log` reads the requests in it."""

    def __init__(self, workdir: Path, python: str = sys.executable, timeout: float = START_TIMEOUT,
                 sleep=time.sleep, clock=time.monotonic):
        self.port = pick_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = Path(workdir) / "moto.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            command(python, self.port), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=environment(os.environ),
        )
        try:
            wait_answering(["moto"], lambda _: answers(self.url), lambda _: self.proc.poll() is None,
                           timeout, sleep, clock)
        except OperationError as exc:
            self.stop()
            raise RuntimeError(f"moto server did not start ({exc.message}); see {self.log_path}") from None
        self.log = RequestLog(self.url + "/moto-api/", self.log_path, sleep=sleep, clock=clock)

    def requests(self) -> list[Request]:
        """Every request so far, the moto-api ones left out."""
        return self.log.requests_since(0)

    def post(self, path: str, body: dict | None = None) -> bytes:
        req = urllib.request.Request(self.url + path, data=json.dumps(body or {}).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=30) as answer:
            return answer.read()

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

"""batchdeploy.local.moto's pure parts: the command and environment moto starts with, reading its
request log. (The server itself is started by the fixtures in tests/conftest.py, with this module.)"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from batchdeploy.local import moto
from batchdeploy.local.supervise import http_ok

MOTO_LOG = """\
 * Running on http://127.0.0.1:5000
127.0.0.1 - - [30/Nov/2026 10:00:00] "GET /moto-api/ HTTP/1.1" 200 -
127.0.0.1 - - [30/Nov/2026 10:00:01] "PUT /bucket/key%20a HTTP/1.1" 200 -
127.0.0.1 - - [30/Nov/2026 10:00:02] "POST /v1/submitjob HTTP/1.1" 500 -
something else entirely
"""


def test_moto_binds_loopback_only_on_the_port_given():
    assert moto.command("/v e/python", 4567) == ["/v e/python", str(moto.SERVER), "-H", "127.0.0.1", "-p", "4567"]


def test_moto_never_looks_for_instance_metadata_and_writes_its_log_unbuffered():
    env = moto.environment({"PATH": "/bin", "AWS_EC2_METADATA_DISABLED": "false"})
    assert env == {"PATH": "/bin", "PYTHONUNBUFFERED": "1", "AWS_EC2_METADATA_DISABLED": "true"}


def test_with_an_engine_moto_runs_jobs_there_on_the_host_network():
    env = moto.environment({}, docker_host="unix:///s p/podman.sock")
    assert env["DOCKER_HOST"] == "unix:///s p/podman.sock" and env["MOTO_DOCKER_NETWORK_MODE"] == "host"


def test_parse_requests_keeps_order_and_leaves_out_moto_api():
    assert moto.parse_requests(MOTO_LOG) == [
        moto.Request("PUT", "/bucket/key%20a", 200),
        moto.Request("POST", "/v1/submitjob", 500),
    ]
    assert len(moto.parse_requests(MOTO_LOG, skip_prefixes=())) == 3


def test_a_python_that_cannot_run_moto_is_told_apart(tmp_path):
    assert not moto.has_server(str(tmp_path / "no python here"))


class _Logging(http.server.BaseHTTPRequestHandler):
    """Answers 200 and logs each request in werkzeug's format, as moto does."""

    log_path: Path

    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    do_PUT = do_GET

    def log_message(self, fmt, *args):
        with open(self.log_path, "a") as log:
            log.write(f'127.0.0.1 - - [x] "{self.requestline}" {args[1]} -\n')


@pytest.fixture
def logging_server(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("")
    handler = type("Handler", (_Logging,), {"log_path": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", log
    server.shutdown()
    server.server_close()


def test_the_request_log_counts_what_was_answered_between_two_marks(logging_server):
    url, log = logging_server
    requests = moto.RequestLog(url + "/moto-api/", log)
    assert http_ok(url + "/before")
    mark = requests.mark()
    assert http_ok(url + "/b/k")
    got = requests.requests_since(mark)
    assert got == [moto.Request("GET", "/b/k", 200)]
    assert [r.path for r in requests.requests_since(0)] == ["/before", "/b/k"]


def test_a_marker_that_never_reaches_the_log_fails_after_ten_seconds_of_clock(tmp_path):
    log = tmp_path / "moto.log"
    log.write_text("")
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    requests = moto.RequestLog("http://127.0.0.1:9/moto-api/", log, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(RuntimeError, match="never reached"):
        requests.mark()
    assert now[0] == pytest.approx(10, abs=0.02)

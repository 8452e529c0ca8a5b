"""A small HTTP proxy in front of the moto server that can lose answers on purpose.

Every request is forwarded to moto and recorded (operation, method, path, body). Faults are armed
per operation (lowercase: `submitjob`, `describejobs`, `getsessiontoken`, `getlogevents`) and
request number:
- `drop_answer("submitjob", 1)`: moto processes the 1st SubmitJob, then the client's connection is
  closed without an answer (the case where an SDK retry makes a second job);
- `fail_before("submitjob", 1, status=500)`: answer with an error without forwarding (moto never
  sees the request); `code` and `query=True` shape the error for query-protocol services (STS).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "host"}


class FaultProxy:
    def __init__(self, target_url: str):
        self.target = urlsplit(target_url)
        self.requests: list[tuple[str, str, str, bytes]] = []
        self._faults: dict[tuple[str, int], tuple] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = proxy.operation(self.path, self.headers, body)
                with proxy._lock:
                    proxy.requests.append((operation, self.command, self.path, body))
                    n = proxy._counts[operation] = proxy._counts.get(operation, 0) + 1
                    fault = proxy._faults.get((operation, n))
                if fault and fault[0] == "fail":
                    _, status, code, query = fault
                    if query:
                        payload = (
                            "<ErrorResponse><Error><Type>Sender</Type>"
                            f"<Code>{code}</Code><Message>injected by FaultProxy</Message></Error></ErrorResponse>"
                        ).encode()
                        kind = "text/xml"
                    else:
                        payload = json.dumps({"__type": code, "message": "injected by FaultProxy"}).encode()
                        kind = "application/json"
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("x-amzn-ErrorType", code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                    self.close_connection = True
                    return
                status, headers, data = proxy.forward(self.command, self.path, dict(self.headers), body)
                if fault and fault[0] == "drop":
                    # moto has made the job; the client never hears of it.
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in _HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def operation(path: str, headers, body: bytes) -> str:
        """The AWS operation, lowercase: Batch's REST path, a JSON target, or a query `Action=`."""
        parts = urlsplit(path).path.strip("/").split("/")
        if len(parts) > 1 and parts[0] == "v1":
            return parts[1].lower()
        target = headers.get("X-Amz-Target") if headers else None
        if target:
            return target.rsplit(".", 1)[-1].lower()
        action = parse_qs(body.decode(errors="replace")).get("Action")
        return action[0].lower() if action else urlsplit(path).path

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            out = {k: v for k, v in headers.items() if k.lower() not in _HOP}
            out["Host"] = self.target.netloc
            conn.request(method, path, body=body or None, headers=out)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def drop_answer(self, operation: str, nth: int = 1) -> None:
        self._faults[(operation, nth)] = ("drop",)

    def fail_before(
        self, operation: str, nth: int = 1, status: int = 500, code: str = "ServerException", query: bool = False
    ) -> None:
        self._faults[(operation, nth)] = ("fail", status, code, query)

    def bodies(self, operation: str) -> list[dict]:
        return [json.loads(b or b"{}") for op, _, _, b in self.requests if op == operation]

    def count(self, operation: str) -> int:
        return sum(1 for op, *_ in self.requests if op == operation)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

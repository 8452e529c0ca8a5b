"""A small HTTP proxy in front of the moto server that misbehaves on purpose, for sync's tests.

Real HTTP end to end (botocore -> proxy -> moto); nothing of batchdeploy is mocked. Faults:
- `deny_bucket`: every request for that bucket is answered 403 AccessDenied, as S3 answers for a
  bucket that belongs to someone else;
- `deny_writes`: that bucket can be listed and read, but every write is answered 403 AccessDenied;
- `cut_get`: a GET of a key containing this text gets its headers (full Content-Length) and half
  of its body, then the connection is closed: a download interrupted mid-body;
- `fail_part`: an UploadPart with this part number is answered 400 InvalidRequest (not retryable),
  so a multipart upload fails half-way;
- `hold_part`: an UploadPart with this part number waits until the test sets `release` (`held` is
  set when it arrives), so the test can interrupt the client with a transfer in flight;
- `corrupt_put`: a PutObject of a key containing this text reaches moto with its first byte
  flipped: bytes damaged in transit (moto does not check ChecksumSHA256, AWS does).
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}


class FaultProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.deny_bucket: str | None = None
        self.deny_writes: str | None = None
        self.cut_get: str | None = None
        self.fail_part: int | None = None
        self.corrupt_put: str | None = None
        self.hold_part: int | None = None
        self.held = threading.Event()  # set when the held part has arrived
        self.release = threading.Event()  # set by the test to let it through
        self.cuts = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # -- one request ----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(h.path)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        bucket = path.lstrip("/").split("/", 1)[0]

        if self.deny_bucket and bucket == self.deny_bucket:
            self._error(h, 403, "AccessDenied", "Access Denied")
            return
        if self.deny_writes and bucket == self.deny_writes and h.command in ("PUT", "POST", "DELETE"):
            self._error(h, 403, "AccessDenied", "Access Denied")
            return
        if self.fail_part is not None and h.command == "PUT" and query.get("partNumber") == [str(self.fail_part)]:
            self._error(h, 400, "InvalidRequest", "part refused by the test proxy")
            return
        if self.hold_part is not None and h.command == "PUT" and query.get("partNumber") == [str(self.hold_part)]:
            self.held.set()
            self.release.wait(60)
        if self.corrupt_put and h.command == "PUT" and self.corrupt_put in path and "partNumber" not in query and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]

        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()

        cut = (
            self.cut_get
            and h.command == "GET"
            and self.cut_get in path
            and "list-type" not in query
            and resp.status == 200
            and len(data) > 1
        )
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP and k.lower() != "content-length":
                h.send_header(k, v)
        # A HEAD answer has no body but the object's length.
        h.send_header("Content-Length", resp.getheader("Content-Length", "0") if h.command == "HEAD" else str(len(data)))
        if cut:
            h.send_header("Connection", "close")
        h.end_headers()
        if h.command == "HEAD":
            return
        if cut:
            self.cuts += 1
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        h.wfile.write(data)

    @staticmethod
    def _error(h, status: int, code: str, message: str) -> None:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>proxy</RequestId></Error>"
        ).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

"""One HTTP proxy in front of the moto server that misbehaves on purpose, for every test that needs AWS to
fail in a way moto will not.

Real HTTP end to end (botocore -> proxy -> moto); nothing of batchdeploy is mocked. Every request is
forwarded to the upstream URL and recorded in `proxy.requests`. A test adds rules; the first rule that
takes a request decides what happens to it:

    proxy.add(operation="submitjob", nth=1, drop=True)            # moto makes the job; the answer is lost
    proxy.add(operation="GetSessionToken", status=403, code="AccessDenied")  # STS's error shape (XML)
    proxy.add(path="/v1/describecomputeenvironments", rewrite=edit)  # edit(parsed JSON) is answered
    proxy.add(method="GET", key="victim.bin", cut=100_000)        # headers, 100 kB of the body, closed
    proxy.add(method="PUT", query={"partNumber": "2"}, hold=True)  # waits until proxy.release is set

Which requests a rule is for (all given must hold): `method`; `path` (exact, no query); `operation`
(case-insensitive: X-Amz-Target's, a query-protocol `Action=`, or Batch's `/v1/<operation>`);
`bucket` and `key` (path-style S3; the key must contain the text); `query` (these values);
`when(request)` (`request.headers` has the headers sent, names lower-cased). With `nth=N` the rule takes only the Nth request it matches; with `times=N` only the
first N (a listing that is late for N requests: `operation="listjobs", times=3, rewrite=hide`).

What it does, in this order: `before(request)` (a test's hook: SIGKILL the client at this request,
deterministically); `hold` (sets `proxy.held`, waits for `proxy.release`); `status` answers
an AWS error (`code`, `message`) without forwarding, shaped for the protocol (JSON for Batch, ECR
and the other JSON services, XML for query services such as STS, S3's XML otherwise);
with `answer=BYTES` as well, that body is the answer (an answer moto cannot give);
`edit_request(body)` changes the bytes moto gets; `drop` forwards, then closes the connection
without an answer; `rewrite(answer)` edits a 200 JSON answer; `cut=N` sends the headers (the whole
length) and N bytes of the body, then closes the connection. `rule.hits` counts what it took.

Reading the record: `proxy.count(operation)`, `proxy.bodies(operation)` (parsed JSON),
`proxy.operations` (every request's, in order), `proxy.requests`. `proxy.clear()` drops every rule;
`proxy.wait_done(rule)` waits until a request the rule took has been handled to its end.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

# Headers of one connection, not of the request or answer; and those send_response writes itself.
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
_OWN = {"content-length", "server", "date"}


class LoopbackServer:
    """A threaded HTTP server on a free loopback port, serving from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Request:
    method: str
    path: str  # unquoted, without the query
    query: dict[str, list[str]]
    operation: str  # as the request names it (DescribeImages, submitjob), else its path
    protocol: str  # "json", "query" or "s3": the shape of an error answer
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # as sent, names lower-cased

    @classmethod
    def parse(cls, method: str, target: str, headers, body: bytes) -> Request:
        url = urlsplit(target)
        parts = url.path.strip("/").split("/")
        amz_target = headers.get("X-Amz-Target")
        form = headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        action = parse_qs(body.decode(errors="replace")).get("Action") if form else None
        if len(parts) > 1 and parts[0] == "v1":
            operation, protocol = parts[1], "json"
        elif amz_target:
            operation, protocol = amz_target.rsplit(".", 1)[-1], "json"
        elif action:
            operation, protocol = action[0], "query"
        else:
            operation, protocol = url.path, "s3"
        query = parse_qs(url.query, keep_blank_values=True)
        sent = {k.lower(): v for k, v in headers.items()}
        return cls(method, unquote(url.path), query, operation, protocol, body, sent)

    @property
    def bucket(self) -> str:
        return self.path.lstrip("/").split("/", 1)[0]

    @property
    def key(self) -> str:
        parts = self.path.lstrip("/").split("/", 1)
        return parts[1] if len(parts) > 1 else ""

    def json(self):
        return json.loads(self.body or b"{}")


@dataclass
class Rule:
    # which requests
    method: str | None = None
    path: str | None = None
    operation: str | None = None
    bucket: str | None = None
    key: str | None = None
    query: dict[str, str] | None = None
    when: Callable[[Request], bool] | None = None
    nth: int | None = None
    times: int | None = None
    # what to do
    before: Callable[[Request], None] | None = None
    hold: bool = False
    status: int | None = None
    code: str = "ServerException"
    message: str = "injected by the test proxy"
    edit_request: Callable[[bytes], bytes] | None = None
    drop: bool = False
    rewrite: Callable | None = None
    cut: int | None = None
    answer: bytes | None = None  # with `status`: this body (text/xml) instead of an error document
    # what happened
    matched: int = 0
    hits: int = 0
    done: int = 0  # requests taken whose handling (forwarding included) has ended

    def matches(self, r: Request) -> bool:
        return (
            (self.method is None or r.method == self.method)
            and (self.path is None or r.path == self.path)
            and (self.operation is None or r.operation.lower() == self.operation.lower())
            and (self.bucket is None or r.bucket == self.bucket)
            and (self.key is None or self.key in r.key)
            and all(r.query.get(k) == [v] for k, v in (self.query or {}).items())
            and (self.when is None or self.when(r))
        )


class FaultProxy(LoopbackServer):
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.requests: list[Request] = []
        self.rules: list[Rule] = []
        self.held = threading.Event()  # set when a held request has arrived
        self.release = threading.Event()  # set by the test to let held requests through
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        super().__init__(Handler)

    # -- the test's side ------------------------------------------------------------------------

    def add(self, **rule) -> Rule:
        made = Rule(**rule)
        with self._lock:
            self.rules.append(made)
        return made

    def wait_done(self, rule: Rule, count: int = 1, timeout: float = 60) -> bool:
        """Wait until `rule` has finished handling `count` requests (forwarded to moto, answered or not)."""
        with self._done:
            return self._done.wait_for(lambda: rule.done >= count, timeout)

    def clear(self) -> None:
        """No more faults: everything is forwarded."""
        with self._lock:
            self.rules.clear()

    @property
    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]

    def count(self, operation: str) -> int:
        return sum(1 for r in self.requests if r.operation.lower() == operation.lower())

    def bodies(self, operation: str) -> list:
        return [r.json() for r in self.requests if r.operation.lower() == operation.lower()]

    def close(self) -> None:
        self.release.set()
        super().close()

    # -- one request ----------------------------------------------------------------------------

    def _take(self, request: Request) -> Rule | None:
        """Every rule that matches counts the request (for `nth`); the first one due takes it."""
        with self._lock:
            self.requests.append(request)
            taken = None
            for rule in self.rules:
                if rule.matches(request):
                    rule.matched += 1
                    due = rule.nth in (None, rule.matched) and (rule.times is None or rule.hits < rule.times)
                    if taken is None and due:
                        taken = rule
            if taken:
                taken.hits += 1
            return taken

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        request = Request.parse(h.command, h.path, h.headers, body)
        rule = self._take(request) or Rule()
        try:
            self._act(h, request, rule, body)
        finally:
            with self._done:
                rule.done += 1
                self._done.notify_all()

    def _act(self, h: BaseHTTPRequestHandler, request: Request, rule: Rule, body: bytes) -> None:
        if rule.before:
            rule.before(request)
        if rule.hold:
            self.held.set()
            self.release.wait(60)
        if rule.status:
            self._error(h, request, rule)
            return
        if rule.edit_request:
            body = rule.edit_request(body)
        status, headers, data = self._forward(h, body)
        if rule.drop:
            self._hang_up(h)
            return
        if rule.rewrite and status == 200:
            data = json.dumps(rule.rewrite(json.loads(data))).encode()
        cut = rule.cut is not None and h.command != "HEAD" and len(data) > rule.cut
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP | _OWN:
                h.send_header(k, v)
        # A HEAD answer has no body but the length of what a GET would get.
        length = dict((k.lower(), v) for k, v in headers).get("content-length", "0")
        h.send_header("Content-Length", length if h.command == "HEAD" else str(len(data)))
        if cut:
            h.send_header("Connection", "close")
        h.end_headers()
        if h.command == "HEAD":
            return
        h.wfile.write(data[: rule.cut] if cut else data)
        if cut:
            h.wfile.flush()
            self._hang_up(h)

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes):
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP | {"content-length"}}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    @staticmethod
    def _hang_up(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True
        try:
            h.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, request: Request, rule: Rule) -> None:
        if rule.answer is not None:
            h.send_response(rule.status)
            h.send_header("Content-Type", "text/xml")
            h.send_header("Content-Length", str(len(rule.answer)))
            h.end_headers()
            h.wfile.write(rule.answer)
            return
        if request.protocol == "json":
            payload = json.dumps({"__type": rule.code, "message": rule.message}).encode()
            kind = "application/json"
        elif request.protocol == "query":
            payload = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>{rule.code}</Code>"
                f"<Message>{rule.message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ).encode()
            kind = "text/xml"
        else:
            payload = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{rule.code}</Code>'
                f"<Message>{rule.message}</Message><RequestId>proxy</RequestId></Error>"
            ).encode()
            kind = "application/xml"
        h.send_response(rule.status)
        h.send_header("Content-Type", kind)
        h.send_header("x-amzn-ErrorType", rule.code)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)

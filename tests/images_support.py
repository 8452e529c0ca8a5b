"""Helpers for the -b tests: a stand-in for the container engine's CLI where no real engine can reach
the registry, and small registry stand-ins (the ECR side goes through tests/fault_proxy.py).

Why a stand-in engine: an ECR registry host (`<acct>.dkr.ecr.<region>.amazonaws.com`) cannot be
reached from here (only 127.0.0.1 may be spoken to) and moto's ECR has no registry behind it. The
stand-in is an executable named `podman` that records every call (argv and stdin) and "pushes" by
PutImage into moto's ECR (a plain HTTP request), so DescribeImages then finds the tag as it would on AWS. The real engine
against a real registry is tested in tests/integration/test_images_engine.py.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.fault_proxy import LoopbackServer

FAKE_ENGINE = r'''#!PYTHON
"""A stand-in for `podman`: records calls, "pushes" by ECR PutImage into moto."""
import json, os, sys, uuid
from pathlib import Path

here = Path(os.environ["FAKE_ENGINE_DIR"])
args = sys.argv[1:]
stdin = sys.stdin.read() if "--password-stdin" in args else None
with open(here / "calls.jsonl", "a") as fh:
    fh.write(json.dumps({"argv": sys.argv, "stdin": stdin}) + "\n")
cmd = args[0] if args else ""
fail = set(os.environ.get("FAKE_ENGINE_FAIL", "").split(","))
logins = here / "logins.json"


def opt(name):
    return args[args.index(name) + 1] if name in args else None


if cmd in fail:
    for i in range(30):
        print(f"fake {cmd} line {i}")
    print(f"Error: fake {cmd} failed on purpose")
    sys.exit(125)
if cmd == "info":
    sys.exit(0)
if cmd == "build":
    image_id = "sha256:" + uuid.uuid4().hex * 2
    Path(opt("--iidfile")).write_text(image_id)
    images = json.loads((here / "images.json").read_text()) if (here / "images.json").exists() else {}
    images[opt("-t")] = image_id
    (here / "images.json").write_text(json.dumps(images))
    print("STEP 1/1: FROM nothing (fake build)")
    sys.exit(0)
if cmd == "tag":
    images = json.loads((here / "images.json").read_text())
    images[args[2]] = images.get(args[1], "sha256:" + "0" * 64)
    (here / "images.json").write_text(json.dumps(images))
    sys.exit(0)
if cmd == "login":
    host = args[-1]
    if "unauthorized" in fail:
        print(f'Error: logging into "{host}": invalid username/password')
        sys.exit(125)
    data = json.loads(logins.read_text()) if logins.exists() else {}
    data[host] = True
    logins.write_text(json.dumps(data))
    print("Login Succeeded!")
    sys.exit(0)
if cmd == "push":
    ref = args[-1]
    host, _, rest = ref.partition("/")
    name, _, tag = rest.rpartition(":")
    if not (json.loads(logins.read_text()) if logins.exists() else {}).get(host):
        print(f"Error: writing blob: initiating layer upload to /v2/{name}/blobs/uploads/ in {host}: unauthorized: authentication required")
        sys.exit(125)
    import hashlib, urllib.error, urllib.request
    images = json.loads((here / "images.json").read_text())
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": images[ref]},
        "layers": [],
    })
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    # PutImage by hand (moto does not check signatures): boto3 would cost a second per push.
    region = host.split(".")[3]
    body = json.dumps({"repositoryName": name, "imageManifest": manifest, "imageTag": tag, "imageDigest": digest})
    req = urllib.request.Request(os.environ["FAKE_ENGINE_MOTO"] + "/", data=body.encode(), method="POST", headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.PutImage",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/ecr/aws4_request, SignedHeaders=host, Signature=0",
    })
    try:
        image = json.loads(urllib.request.urlopen(req, timeout=30).read())["image"]
    except urllib.error.HTTPError as exc:
        print(f"Error: {exc.read().decode()}")
        sys.exit(125)
    print("Writing manifest to image destination")
    Path(opt("--digestfile")).write_text(image["imageId"]["imageDigest"])
    sys.exit(0)
if cmd == "pull":
    sys.exit(0)
print(f"fake podman: unknown command {args}")
sys.exit(125)
'''


class FakeEngine:
    def __init__(self, folder: Path, moto_url: str):
        self.folder = folder
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.exe = self.bin / "podman"
        # A shell wrapper rather than `#!PYTHON`: a shebang cannot hold the space a clone's path may have.
        script = self.bin / "podman.py"
        script.write_text(FAKE_ENGINE.split("\n", 1)[1])
        self.exe.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} \"$@\"\n")
        self.exe.chmod(self.exe.stat().st_mode | stat.S_IXUSR)
        self.moto_url = moto_url

    def env(self, **extra) -> dict:
        return {
            "CONTAINER_CLI": str(self.exe),
            "FAKE_ENGINE_DIR": str(self.folder),
            "FAKE_ENGINE_MOTO": self.moto_url,
            **extra,
        }

    def calls(self) -> list[dict]:
        path = self.folder / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def commands(self) -> list[str]:
        return [c["argv"][1] for c in self.calls() if len(c["argv"]) > 1]

    def forget_logins(self) -> None:
        """As a reboot does to podman's auth file in /run."""
        (self.folder / "logins.json").unlink(missing_ok=True)


def tree_snapshot(folder: Path) -> dict:
    """Every file under `folder` with its bytes (state folders are small)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def make_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    os.chmod(path, 0o755)
    return path


# -- the real registry side ----------------------------------------------------------------------


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def http_status(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""
    except OSError:
        return 0, {}, b""


class RegistryView:
    """What a registry holds (tags, digests) and which requests it answered, from its access log."""

    ACCEPT = (
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
        "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
    )
    LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')

    def __init__(self, host: str, log: Path):
        self.host = host
        self.log = log

    def tags(self, name: str) -> set[str]:
        status, _, body = http_status(f"http://{self.host}/v2/{name}/tags/list")
        return set(json.loads(body).get("tags") or []) if status == 200 else set()

    def digest(self, name: str, tag: str) -> str | None:
        status, headers, _ = http_status(
            f"http://{self.host}/v2/{name}/manifests/{tag}", "HEAD", {"Accept": self.ACCEPT}
        )
        return headers.get("Docker-Content-Digest") if status == 200 else None

    def _lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    def mark(self) -> int:
        self._sync()
        return len(self._lines())

    def since(self, mark: int) -> list[tuple[str, str, int]]:
        """Requests answered since `mark`, the marker requests left out."""
        self._sync()
        out = []
        for line in self._lines()[mark:]:
            m = self.LINE.search(line)
            if m and "batchdeploy-marker" not in m["path"]:
                out.append((m["method"], m["path"], int(m["status"])))
        return out

    def _sync(self):
        # The registry logs a request after answering it: once a marker request is in the log,
        # every request answered before it is too.
        marker = f"/v2/batchdeploy-marker-{uuid.uuid4().hex}/tags/list"
        http_status(f"http://{self.host}{marker}")
        _wait(lambda: marker in self.log.read_text(errors="replace"), 10, "the registry's log")


class ExtraRegistry:
    """One more Debian docker-registry on a loopback port (read-only, to refuse pushes)."""

    def __init__(self, folder: Path, readonly: bool = False):
        import socket
        import subprocess

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.host = f"127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
        conf = folder / "registry.yml"
        conf.write_text(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
            f'    rootdirectory: "{folder / "data"}"\n{maintenance}http:\n  addr: {self.host}\n'
        )
        self.log = folder / "registry.log"
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(conf)], stdout=self._log, stderr=subprocess.STDOUT)
        _wait(lambda: http_status(f"http://{self.host}/v2/")[0] == 200 or self.proc.poll() is not None, 30, "registry")
        if self.proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited; see {self.log}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        self._log.close()


class RefusingRegistry(LoopbackServer):
    """An HTTP server that answers every registry request 401: a registry refusing a login."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _deny(self):
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_PATCH = _deny

        super().__init__(Handler)


class TokenRegistry(LoopbackServer):
    """A registry's v2 manifest endpoint behind Docker's token auth (or Basic auth), to check the
    look-up's authentication against real HTTP. Knows one manifest: `app:t1`."""

    MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}'

    def __init__(self, user: str, password: str, scheme: str = "bearer", digest_header: bool = True):
        import base64

        good_basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.paths: list[str] = []
        reg = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self):
                reg.paths.append(f"{self.command} {self.path}")
                auth = self.headers.get("Authorization", "")
                if self.path.startswith("/token"):
                    token = "tok-good-123456" if auth == good_basic else "tok-anonymous"
                    return self._send(200, json.dumps({"token": token}).encode())
                ok = auth == ("Bearer tok-good-123456" if scheme == "bearer" else good_basic)
                if not ok:
                    challenge = (
                        f'Bearer realm="http://{reg.host}/token",service="test",scope="repository:app:pull"'
                        if scheme == "bearer"
                        else 'Basic realm="test"'
                    )
                    return self._send(401, b"{}", {"WWW-Authenticate": challenge})
                if self.path == "/v2/app/manifests/t1":
                    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
                    if digest_header:
                        headers["Docker-Content-Digest"] = "sha256:" + "a" * 64
                    return self._send(200, reg.MANIFEST, headers)
                if self.path == "/v2/app/manifests/broken":
                    return self._send(500, b"{}")
                return self._send(404, b"{}")

            do_GET = do_HEAD = _handle

        super().__init__(Handler)


def pushed_image(host: str, name: str, tag: str) -> dict[str, bytes]:
    """What the registry serves for name:tag, as anyone who can pull it reads it: the manifest, the
    image config and every layer (decompressed), by digest."""
    import gzip

    status, _, body = http_status(f"http://{host}/v2/{name}/manifests/{tag}", headers={"Accept": RegistryView.ACCEPT})
    assert status == 200, f"{name}:{tag}: HTTP {status}"
    manifest = json.loads(body)
    out = {"manifest": body}
    for blob in [manifest["config"], *manifest["layers"]]:
        status, _, data = http_status(f"http://{host}/v2/{name}/blobs/{blob['digest']}")
        assert status == 200, f"{blob['digest']}: HTTP {status}"
        out[blob["digest"]] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return out

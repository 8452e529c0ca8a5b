"""Where images go: the registry named by AWS_REGISTRY, and the one look-up that decides whether -b
has anything to do.

Two kinds of registry:
- ECR (`<account>.dkr.ecr.<region>.amazonaws.com[/namespace]`): looked up with ECR's own API
  (DescribeImages), which needs no registry login; repositories are created on first use; the
  engine logs in with a GetAuthorizationToken password. Those calls: `batchdeploy.images.ecr`.
- any other (a private registry, the local stack's): looked up with the registry's HTTP API v2,
  one `HEAD /v2/<name>/manifests/<tag>`. Loopback hosts are spoken to over plain HTTP (as Docker
  treats them), every other host over HTTPS. A registry that wants a login gets the credentials the
  engine keeps in its auth file; when those are out of reach (a credential helper) the look-up
  says so and -b builds and pushes, leaving the login to the engine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.aws.ecr import ECR_HOST
from batchdeploy.errors import ConfigError, OperationError
from batchdeploy.secrets import register_secret

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@dataclass(frozen=True)
class Registry:
    host: str
    namespace: str = ""

    @classmethod
    def parse(cls, value: str) -> Registry:
        value = value.strip().rstrip("/")
        if "://" in value:
            raise ConfigError(f"AWS_REGISTRY={value!r} has a scheme", hint="write the host only, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com")
        host, _, namespace = value.partition("/")
        return cls(host.lower(), namespace)

    @property
    def ecr(self):
        return ECR_HOST.fullmatch(self.host)

    @property
    def account(self) -> str | None:
        m = self.ecr
        return m["account"] if m else None

    @property
    def region(self) -> str | None:
        m = self.ecr
        return m["region"] if m else None

    def repository(self, image: str) -> str:
        """The repository's name inside the registry ("team/app" or "app")."""
        return f"{self.namespace}/{image}" if self.namespace else image

    def reference(self, image: str) -> str:
        """host[/namespace]/image, the name the engine tags and pushes."""
        return f"{self.host}/{self.repository(image)}"

    @property
    def loopback(self) -> bool:
        name = self.host.rsplit(":", 1)[0] if not self.host.startswith("[") else self.host.split("]")[0] + "]"
        return name in ("localhost", "[::1]") or name.startswith("127.")


class LookupUnavailable(Exception):
    """The registry would not say (it wants credentials we cannot read)."""


# ---------------------------------------------------------------------------------------------
# HTTP API v2


def _auth_files(flavor: str, environ: dict) -> list[Path]:
    home = Path(environ.get("HOME") or os.path.expanduser("~"))
    docker_config = Path(environ["DOCKER_CONFIG"]) if environ.get("DOCKER_CONFIG") else home / ".docker"
    docker = [docker_config / "config.json"]
    if flavor != "podman":
        return docker
    files = []
    if environ.get("REGISTRY_AUTH_FILE"):
        return [Path(environ["REGISTRY_AUTH_FILE"])]
    if environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    files.append(home / ".config" / "containers" / "auth.json")
    return files + docker


def stored_credentials(host: str, flavor: str, environ: dict) -> tuple[str, str] | None:
    """user and password the engine keeps for `host` in its auth file, or None (none, or a helper)."""
    for path in _auth_files(flavor, environ):
        try:
            auths = json.loads(path.read_text(encoding="utf-8")).get("auths", {})
        except (OSError, ValueError, AttributeError, RecursionError):  # the engine's file, read as a hint
            continue
        if not isinstance(auths, dict):
            continue
        for key, entry in auths.items():
            name = re.sub(r"^https?://", "", key).split("/")[0].lower()
            if name != host or not isinstance(entry, dict) or not entry.get("auth"):
                continue
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            register_secret(password)
            register_secret(entry["auth"])
            return user, password
    return None


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


class HttpRegistry:
    """The few v2 API calls -b makes; counts them (the measurement of a no-change -b)."""

    def __init__(self, registry: Registry, flavor: str, environ: dict | None = None, timeout: float = 30):
        self.registry = registry
        self.flavor = flavor
        self.environ = dict(os.environ if environ is None else environ)
        self.timeout = timeout
        self.requests = 0
        self._authorization: str | None = None

    @property
    def base(self) -> str:
        scheme = "http" if self.registry.loopback else "https"
        return f"{scheme}://{self.registry.host}"

    def _open(self, req):
        self.requests += 1
        return urllib.request.urlopen(req, timeout=self.timeout)  # noqa: S310 - http(s) URL built above

    def _request(self, method: str, url: str, headers: dict):
        if self._authorization:
            headers = {**headers, "Authorization": self._authorization}
        req = urllib.request.Request(url, method=method, headers=headers)
        try:
            with self._open(req) as resp:
                return resp.status, resp.headers, resp.read() if method != "HEAD" else b""
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, b""
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OperationError(
                f"cannot reach the registry {self.registry.host}: {reason}",
                hint="check AWS_REGISTRY and that the registry runs",
            ) from None

    def _authorize(self, header: str) -> None:
        scheme, params = _challenge(header or "")
        creds = stored_credentials(self.registry.host, self.flavor, self.environ)
        if scheme == "basic":
            if not creds:
                raise LookupUnavailable("the registry wants a login")
            self._authorization = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            register_secret(self._authorization.split(" ", 1)[1])
            return
        if scheme != "bearer" or "realm" not in params:
            raise LookupUnavailable(f"unknown authentication {scheme!r}")
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        url = params["realm"] + ("&" if "?" in params["realm"] else "?") + urllib.parse.urlencode(query)
        headers = {}
        if creds:
            basic = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            register_secret(basic)
            headers["Authorization"] = "Basic " + basic
        req = urllib.request.Request(url, headers=headers)
        try:
            with self._open(req) as resp:
                body = json.loads(resp.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LookupUnavailable(f"no token from {params['realm']}: {exc}") from None
        token = body.get("token") or body.get("access_token")
        if not token:
            raise LookupUnavailable("the token service gave no token")
        register_secret(token)
        self._authorization = f"Bearer {token}"

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        """The digest the registry holds for repository:tag, or None when it holds no such tag."""
        url = f"{self.base}/v2/{repository}/manifests/{urllib.parse.quote(tag)}"
        headers = {"Accept": MANIFEST_TYPES}
        status, resp_headers, _ = self._request("HEAD", url, headers)
        if status == 401:
            self._authorize(resp_headers.get("WWW-Authenticate", ""))
            status, resp_headers, _ = self._request("HEAD", url, headers)
        if status in (401, 403):
            raise LookupUnavailable(f"HTTP {status}")
        if status == 404:
            return None
        if status != 200:
            raise OperationError(f"the registry {self.registry.host} answered HTTP {status} for {repository}:{tag}")
        digest = resp_headers.get("Docker-Content-Digest")
        if digest:
            return digest
        # A registry may leave the header out of HEAD; the manifest's own sha256 is the digest.
        status, _, body = self._request("GET", url, headers)
        return "sha256:" + hashlib.sha256(body).hexdigest() if status == 200 else None

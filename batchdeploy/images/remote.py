"""The registry as one -b run speaks to it: the look-up that decides, the engine's login, the pushes.

An ECR registry is looked up with DescribeImages (a missing repository is made on the way); any other
with the registry's HTTP API. Only ECR needs a login from batchdeploy: it is recorded (who and until
when, never the password) in the state's REGISTRY_LOGINS file and reused while the token has more than
LOGIN_MARGIN of life left. A push refused because a reused login is gone logs in once more.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Callable

from batchdeploy.errors import OperationError
from batchdeploy.images import ecr
from batchdeploy.images.registry import HttpRegistry, LookupUnavailable, Registry
from batchdeploy.state import REGISTRY_LOGINS, iso, now

# A login is reused while more than this much of its token's life is left; a long push must not
# outlive it.
LOGIN_MARGIN = dt.timedelta(hours=1)
AUTH_FAILURE = re.compile(r"unauthori[sz]ed|authentication required|denied|no basic auth|401|403|expired", re.I)


def login_reusable(record: dict | None, engine_key: dict, now: dt.datetime) -> bool:
    """A recorded login (no token, only who and until when) still good for this engine and auth file."""
    if not record or any(record.get(k) != v for k, v in engine_key.items()):
        return False
    try:
        expires = dt.datetime.fromisoformat(record["expires_at"])
    except (KeyError, TypeError, ValueError):
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.timezone.utc)
    return expires - now > LOGIN_MARGIN


def looks_like_auth_failure(message: str) -> bool:
    return bool(AUTH_FAILURE.search(message))


class Remote:
    """Look-ups (counted: the measure of a no-change -b), logins and pushes for one registry.

    `ecr_client` makes the ECR client on first use (ECR registries only); `state` is the run's
    batchdeploy.state.State; `out` its batchdeploy.ui.Output."""

    def __init__(self, engine, registry: Registry, project: str | None, out, state, ecr_client: Callable[[], object]):
        self.engine = engine
        self.registry = registry
        self.project = project
        self.out = out
        self.state = state
        self._make_ecr = ecr_client
        self._ecr = None
        self.http = None if registry.ecr else HttpRegistry(registry, engine.flavor, engine.environ)
        self.logged_in = False
        self.login_reused = False
        self.lookups = 0

    @property
    def ecr(self):
        if self._ecr is None:
            self._ecr = self._make_ecr()
        return self._ecr

    def lookup(self, repository: str, tag: str) -> str | None:
        """The digest the registry holds for repository:tag, or None (absent, or it would not say)."""
        self.lookups += 1
        if self.registry.ecr:
            try:
                return ecr.image_digest(self.ecr, self.registry, repository, tag)
            except ecr.RepositoryMissing:
                ecr.create_repository(self.ecr, self.registry, repository, self.project)
                self.out.note(f"created the ECR repository {repository} (scan on push, content tags immutable)")
                return None
        try:
            return self.http.manifest_digest(repository, tag)
        except LookupUnavailable as exc:
            self.out.warn(
                f"cannot ask {self.registry.host} for {repository}:{tag} ({exc}); building and pushing, "
                f"the engine logs in with what `{self.engine.name} login` stored"
            )
            return None

    def login(self, fresh: bool = False) -> None:
        """ECR only: log the engine in, or reuse the recorded login while its token has life left.
        Only the expiry is recorded; the password goes to the engine on stdin and is forgotten."""
        if not self.registry.ecr or (self.logged_in and not fresh):
            return
        host = self.registry.host
        key = {"engine": self.engine.cli, "auth": self.engine.auth_file_hint()}
        if not fresh and login_reusable(self.state.read(REGISTRY_LOGINS).get(host), key, now()):
            self.logged_in = self.login_reused = True
            self.out.note(f"reusing the login to {host}")
            return
        t = now()
        user, password, expires = ecr.authorization(self.ecr, t)
        self.engine.login(host, user, password)
        self.state.update(REGISTRY_LOGINS, **{host: {**key, "expires_at": iso(expires), "logged_in_at": iso(t)}})
        self.logged_in, self.login_reused = True, False
        self.out.note(f"logged in to {host} (until {iso(expires)})")

    def push(self, ref: str) -> str:
        """Push `ref` (logging in first where needed); the digest the registry stored."""
        self.login()
        self.out.note(f"pushing {ref}")
        try:
            return self.engine.push(ref)
        except OperationError as exc:
            # A recorded login can be gone (a reboot clears podman's auth file): log in once more.
            if not (self.login_reused and looks_like_auth_failure(exc.message)):
                raise
        self.login(fresh=True)
        return self.engine.push(ref)

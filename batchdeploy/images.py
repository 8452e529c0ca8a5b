"""`-b`: build the images and push them to AWS_REGISTRY, content-addressed.

Each image gets a content tag (`c-<16 hex>`, see batchdeploy.buildcontext) from its build context
as the engine sees it, its Dockerfile and the build arguments. One look-up asks the registry for
that tag; when it is there the image is up to date and nothing is built or pushed. Otherwise the
engine builds it and pushes it as the content tag, then as VERSION and `latest`. What was pushed
(tag and digest) is recorded in `.batchdeploy/images.json`, so `-u` pins the exact build.

`--force` rebuilds without the cache. Content tags never move (ECR keeps them immutable), so a
forced build is pushed as `c-<16 hex>-f<UTC time>`, and that is what the state then pins; VERSION
and `latest` move to it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from batchdeploy import buildcontext, registry
from batchdeploy.engine import choose
from batchdeploy.errors import ConfigError, OperationError, UsageError
from batchdeploy.secrets import is_secret, register_secret

STATE_FILE = "images.json"
LOGINS_FILE = "registry-logins.json"
# Docker's grammar for one path component of a repository name.
NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ImageSpec:
    name: str
    context: Path
    dockerfile: Path
    label: str  # the context folder as configured, for messages


def parse_images(value: str | None, project_name: str | None, cfg) -> list[ImageSpec]:
    """IMAGES as `name=context-folder` pairs; none given: one image named PROJECT_NAME from `.`."""
    pairs = value.split() if value else [f"{project_name}=."]
    problems, specs, seen = [], [], set()
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not folder:
            problems.append(f"{pair!r} is not name=context-folder")
            continue
        if not NAME.fullmatch(name):
            problems.append(f"image name {name!r} must be lowercase letters and digits, separated by . _ or -")
            continue
        if name in seen:
            problems.append(f"image {name!r} is named twice")
            continue
        seen.add(name)
        context = cfg.path(folder)
        specs.append(ImageSpec(name, context, context / "Dockerfile", folder))
    if problems:
        raise ConfigError("IMAGES", problems, hint="e.g. IMAGES=app=. worker=worker (name=context-folder pairs)")
    return specs


def parse_build_args(value: str | None) -> dict[str, str]:
    args = {}
    for pair in (value or "").split():
        key, sep, val = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"BUILD_ARGS: {pair!r} is not KEY=value", hint="e.g. BUILD_ARGS=BASE_IMAGE=python:3.12-slim")
        args[key] = val
        if is_secret(key):
            register_secret(val)
    return args


def select(specs: list[ImageSpec], wanted: list[str] | None) -> list[ImageSpec]:
    if not wanted:
        return specs
    known = {s.name for s in specs}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise UsageError(f"--image {', '.join(unknown)}: not in IMAGES", hint=f"known: {', '.join(sorted(known))}")
    return [s for s in specs if s.name in wanted]


def check_contexts(specs: list[ImageSpec]) -> None:
    problems = []
    for s in specs:
        if not s.context.is_dir():
            problems.append(f"image {s.name}: context folder {s.context} does not exist")
        elif not s.dockerfile.is_file():
            problems.append(f"image {s.name}: no Dockerfile in {s.context}")
    if problems:
        raise ConfigError("IMAGES", problems, hint="each context folder needs a Dockerfile")


def _relative(path: Path, folder: Path) -> str | None:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return None


@dataclass
class Outcome:
    image: str
    repository: str
    tag: str
    digest: str
    action: str  # "up to date", "pushed", "tagged"
    tags: tuple[str, ...] = ()


class Images:
    """The work of one -b run: an engine, a registry, the state, and one image at a time."""

    def __init__(self, ctx, engine, reg: registry.Registry, build_args: dict[str, str]):
        self.ctx = ctx
        self.out = ctx.out
        self.engine = engine
        self.registry = reg
        self.build_args = build_args
        self.force = bool(getattr(ctx.args, "force", False))
        self.version = ctx.cfg.get("VERSION", "latest")
        self.project = ctx.cfg.get("PROJECT_NAME")
        self.http = None if reg.ecr else registry.HttpRegistry(reg, engine.flavor, engine.environ)
        self._ecr = None
        self.logged_in = False
        self.login_reused = False
        self.lookups = 0

    # -- registry --------------------------------------------------------------------------

    @property
    def ecr(self):
        if self._ecr is None:
            self._ecr = self.ctx.aws.client("ecr", region_name=self.registry.region)
        return self._ecr

    def lookup(self, repository: str, tag: str) -> str | None:
        self.lookups += 1
        if self.registry.ecr:
            try:
                return registry.ecr_digest(self.ecr, self.registry, repository, tag)
            except registry.RepositoryMissing:
                registry.create_repository(self.ecr, self.registry, repository, self.project)
                self.out.note(f"created the ECR repository {repository} (scan on push, content tags immutable)")
                return None
        try:
            return self.http.manifest_digest(repository, tag)
        except registry.LookupUnavailable as exc:
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
        state = self.ctx.state
        if not fresh and registry.login_reusable(state.read(LOGINS_FILE).get(host), key, now()):
            self.logged_in = self.login_reused = True
            self.out.note(f"reusing the login to {host}")
            return
        t = now()
        user, password, expires = registry.authorization(self.ecr, t)
        self.engine.login(host, user, password)
        state.update(LOGINS_FILE, **{host: {**key, "expires_at": iso(expires), "logged_in_at": iso(t)}})
        self.logged_in, self.login_reused = True, False
        self.out.note(f"logged in to {host} (until {iso(expires)})")

    def push(self, ref: str) -> str:
        self.login()
        self.out.note(f"pushing {ref}")
        try:
            return self.engine.push(ref)
        except OperationError as exc:
            # A recorded login can be gone (a reboot clears podman's auth file): log in once more.
            if not (self.login_reused and registry.looks_like_auth_failure(exc.message)):
                raise
        self.login(fresh=True)
        return self.engine.push(ref)

    # -- one image ---------------------------------------------------------------------------

    def extra_tags(self) -> list[str]:
        return list(dict.fromkeys([self.version, "latest"]))

    def content(self, spec: ImageSpec) -> buildcontext.ContentTag:
        cfg = self.ctx.cfg
        leave_out = []
        state_rel = _relative(cfg.state_dir(), spec.context)
        if state_rel and buildcontext.sent(spec.context, spec.dockerfile, state_rel, self.engine.flavor):
            leave_out.append(state_rel)
            self.out.warn(
                f"the build context of {spec.name} includes the state folder {state_rel}/ (not counted in "
                f"the content tag): add `{state_rel}/` to {spec.label}/.dockerignore"
            )
        env_rel = _relative(cfg.env_file, spec.context) if cfg.env_file else None
        if env_rel and buildcontext.sent(spec.context, spec.dockerfile, env_rel, self.engine.flavor):
            self.out.warn(
                f"the build context of {spec.name} includes {env_rel}, which may hold credentials: "
                f"add `{env_rel}` to {spec.label}/.dockerignore"
            )
        return buildcontext.content_tag(
            spec.context, spec.dockerfile, self.build_args, self.engine.flavor, tuple(leave_out)
        )

    def find(self, spec: ImageSpec, tag: str, previous: dict) -> tuple[str, str] | None:
        """(tag, digest) of this content in the registry. A forced build recorded for the same
        content is asked for first, so a no-change -b after --force stays on the forced build."""
        repository = self.registry.repository(spec.name)
        candidates = []
        prev_tag = previous.get("tag", "")
        if prev_tag.startswith(tag + "-f") and previous.get("repository") == self.registry.reference(spec.name):
            candidates.append(prev_tag)
        candidates.append(tag)
        for candidate in candidates:
            digest = self.lookup(repository, candidate)
            if digest:
                return candidate, digest
        return None

    def process(self, spec: ImageSpec, previous: dict) -> Outcome:
        ref = self.registry.reference(spec.name)
        content = self.content(spec)
        self.out.note(
            f"{spec.name}: content tag {content.tag} ({content.files} files, {_size(content.bytes)} "
            f"from {spec.label}, engine {self.engine.name})"
        )
        if not self.force:
            found = self.find(spec, content.tag, previous)
            if found:
                return self.up_to_date(spec, ref, *found, previous)
            tag = content.tag
        else:
            tag = f"{content.tag}-f{now().strftime('%Y%m%dT%H%M%SZ')}"
            if self.registry.ecr:
                self.lookup(self.registry.repository(spec.name), tag)  # creates the repository if missing

        self.out.note(f"building {ref}:{tag}" + (" without cache" if self.force else ""))
        self.engine.build(spec.context, spec.dockerfile, f"{ref}:{tag}", self.build_args, no_cache=self.force)
        digest = self.push(f"{ref}:{tag}")
        for extra in self.extra_tags():
            self.engine.tag(f"{ref}:{tag}", f"{ref}:{extra}")
            other = self.push(f"{ref}:{extra}")
            if other != digest:
                self.out.warn(f"{ref}:{extra} was pushed as {other}, not {digest}")
        return Outcome(spec.name, ref, tag, digest, "pushed", (tag, *self.extra_tags()))

    def up_to_date(self, spec: ImageSpec, ref: str, tag: str, digest: str, previous: dict) -> Outcome:
        confirmed = previous.get("tag") == tag and previous.get("digest") == digest
        confirmed = confirmed and previous.get("version") == self.version
        if confirmed or self.lookup(self.registry.repository(spec.name), self.version) == digest:
            return Outcome(spec.name, ref, tag, digest, "up to date")
        # The build exists but VERSION does not name it yet (VERSION changed, or a fresh clone):
        # move VERSION and latest to it without building.
        self.login()
        self.out.note(f"{ref}:{tag} exists; tagging it {', '.join(self.extra_tags())}")
        self.engine.pull(f"{ref}@{digest}")
        for extra in self.extra_tags():
            self.engine.tag(f"{ref}@{digest}", f"{ref}:{extra}")
            other = self.push(f"{ref}:{extra}")
            if other != digest:
                self.out.warn(f"{ref}:{extra} was pushed as {other}, not {digest}")
        return Outcome(spec.name, ref, tag, digest, "tagged", tuple(self.extra_tags()))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def record(state, outcome: Outcome, version: str) -> None:
    """images.json after a push (or a look-up that found the build): only this image's entry."""
    data = state.read(STATE_FILE)
    images = dict(data.get("images") or {})
    old = images.get(outcome.image) or {}
    entry = {
        "repository": outcome.repository,
        "tag": outcome.tag,
        "digest": outcome.digest,
        "version": version,
        # Unchanged build: keep when it was first recorded.
        "pushed_at": old.get("pushed_at") if old.get("digest") == outcome.digest and old.get("pushed_at") else iso(now()),
    }
    if old == entry:
        return
    images[outcome.image] = entry
    state.write(STATE_FILE, {**data, "images": images})


def main(ctx) -> int:
    cfg = ctx.cfg
    images_value = cfg.get("IMAGES")
    required = ["AWS_REGISTRY"] + ([] if images_value else ["PROJECT_NAME"])
    cfg.require(*required, optional=("IMAGES", "BUILD_ARGS", "CONTAINER_CLI", "VERSION", "PROJECT_NAME"))
    specs = select(parse_images(images_value, cfg.get("PROJECT_NAME"), cfg), getattr(ctx.args, "image", None))
    build_args = parse_build_args(cfg.get("BUILD_ARGS"))
    reg = registry.Registry.parse(cfg["AWS_REGISTRY"])
    check_contexts(specs)
    engine = choose(cfg.get("CONTAINER_CLI"))
    engine.out = ctx.out

    work = Images(ctx, engine, reg, build_args)
    state = ctx.state
    outcomes = []
    for spec in specs:
        previous = (state.read(STATE_FILE).get("images") or {}).get(spec.name) or {}
        outcome = work.process(spec, previous)
        record(state, outcome, work.version)
        outcomes.append(outcome)
        if not ctx.out.json:
            line = f"{outcome.action}: {outcome.repository}:{outcome.tag}@{outcome.digest}"
            if outcome.tags:
                line += f" (tags {', '.join(outcome.tags)})"
            ctx.out.result(line)
    if ctx.out.json:
        ctx.out.emit_json(
            {
                "images": [
                    {
                        "image": o.image,
                        "repository": o.repository,
                        "tag": o.tag,
                        "digest": o.digest,
                        "action": o.action,
                        "tags_pushed": list(o.tags),
                    }
                    for o in outcomes
                ],
                "engine": engine.name,
                "registry_lookups": work.lookups,
            }
        )
    return 0

"""One image, decided, built and pushed.

Each image gets a content tag (`c-<16 hex>`, see batchdeploy.images.context) from its build context
as the engine sees it, its Dockerfile and the build arguments. One look-up asks the registry for
that tag; when it is there the image is up to date and nothing is built or pushed. Otherwise the
engine builds it and pushes it as the content tag, then as VERSION and `latest`.

`--force` rebuilds without the cache. Content tags never move (ECR keeps them immutable), so a
forced build is pushed as `c-<16 hex>-f<UTC time>`, and that is what the state then pins; VERSION
and `latest` move to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import OperationError
from batchdeploy.images import context, failure
from batchdeploy.images.remote import Remote
from batchdeploy.images.spec import ImagesOptions, ImageSpec
from batchdeploy.state import now


@dataclass
class Outcome:
    image: str
    repository: str
    tag: str
    digest: str
    action: str  # "up to date", "pushed", "tagged"
    tags: tuple[str, ...] = ()


def _relative(path: Path, folder: Path) -> str | None:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _where_it_failed(exc: OperationError, spec: ImageSpec, ref: str) -> OperationError:
    """The build's error naming the Dockerfile line when the engine said which (images.failure)."""
    engine_line = exc.message.partition(" failed: ")[2]
    try:
        text = spec.dockerfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return exc
    said = failure.explain(engine_line, text, (Path(spec.label) / spec.dockerfile.name).as_posix())
    return OperationError(f"cannot build {ref}: {said}", exc.hint) if said else exc


class Images:
    """The steps of one -b run, one image at a time: its content tag, the look-up, build and push."""

    def __init__(self, options: ImagesOptions, engine, remote: Remote, out):
        self.options = options
        self.engine = engine
        self.remote = remote
        self.registry = options.registry
        self.out = out
        self.force = options.force
        self.version = options.version

    def extra_tags(self) -> list[str]:
        return list(dict.fromkeys([self.version, "latest"]))

    def content(self, spec: ImageSpec) -> context.ContentTag:
        """The content tag, warning when the context would carry the state folder or the env file."""
        leave_out = []
        flavor = self.engine.flavor
        state_rel = _relative(self.options.state_dir, spec.context)
        if state_rel and context.sent(spec.context, spec.dockerfile, state_rel, flavor):
            leave_out.append(state_rel)
            self.out.warn(
                f"the build context of {spec.name} includes the state folder {state_rel}/ (not counted in "
                f"the content tag): add `{state_rel}/` to {spec.label}/.dockerignore"
            )
        env_file = self.options.env_file
        env_rel = _relative(env_file, spec.context) if env_file else None
        if env_rel and context.sent(spec.context, spec.dockerfile, env_rel, flavor):
            self.out.warn(
                f"the build context of {spec.name} includes {env_rel}, which may hold credentials: "
                f"add `{env_rel}` to {spec.label}/.dockerignore"
            )
        return context.content_tag(
            spec.context,
            spec.dockerfile,
            self.options.build_args,
            flavor,
            tuple(leave_out),
            secret_names=tuple(self.options.build_secrets),
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
            digest = self.remote.lookup(repository, candidate)
            if digest:
                return candidate, digest
        return None

    def process(self, spec: ImageSpec, previous: dict) -> Outcome:
        """Up to date, re-tagged, or built and pushed; `previous` is the image's recorded entry."""
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
                self.remote.lookup(self.registry.repository(spec.name), tag)  # creates the repository if missing
        return self.build_and_push(spec, ref, tag)

    def build_and_push(self, spec: ImageSpec, ref: str, tag: str) -> Outcome:
        self.out.note(f"building {ref}:{tag}" + (" without cache" if self.force else ""))
        try:
            self.engine.build(
                spec.context,
                spec.dockerfile,
                f"{ref}:{tag}",
                self.options.build_args,
                no_cache=self.force,
                secrets=self.options.build_secrets,
            )
        except OperationError as exc:
            raise _where_it_failed(exc, spec, f"{ref}:{tag}") from None
        digest = self.remote.push(f"{ref}:{tag}")
        self.push_extra_tags(ref, f"{ref}:{tag}", digest)
        return Outcome(spec.name, ref, tag, digest, "pushed", (tag, *self.extra_tags()))

    def up_to_date(self, spec: ImageSpec, ref: str, tag: str, digest: str, previous: dict) -> Outcome:
        confirmed = previous.get("tag") == tag and previous.get("digest") == digest
        confirmed = confirmed and previous.get("version") == self.version
        if confirmed or self.remote.lookup(self.registry.repository(spec.name), self.version) == digest:
            return Outcome(spec.name, ref, tag, digest, "up to date")
        # The build exists but VERSION does not name it yet (VERSION changed, or a fresh clone):
        # move VERSION and latest to it without building.
        self.remote.login()
        self.out.note(f"{ref}:{tag} exists; tagging it {', '.join(self.extra_tags())}")
        self.engine.pull(f"{ref}@{digest}")
        self.push_extra_tags(ref, f"{ref}@{digest}", digest)
        return Outcome(spec.name, ref, tag, digest, "tagged", tuple(self.extra_tags()))

    def push_extra_tags(self, ref: str, source: str, digest: str) -> None:
        """Tag `source` as VERSION and `latest` and push each; a different digest is warned about."""
        for extra in self.extra_tags():
            self.engine.tag(source, f"{ref}:{extra}")
            other = self.remote.push(f"{ref}:{extra}")
            if other != digest:
                self.out.warn(f"{ref}:{extra} was pushed as {other}, not {digest}")

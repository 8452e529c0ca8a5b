"""The content tag of an image: the build context as the engine would receive it, hashed.

Pure: reads files, calls no engine and no network. The tag is

    c-<first 16 hex of sha256(scheme, every entry of the context after the ignore file,
                              the Dockerfile, the ignore file, the build arguments)>

Each context entry counts with its relative path, its kind (file, symlink, directory), its
permission bits and its content (a symlink's target, not what it points to). Modes count because
`COPY` keeps them: a file made 0600 on one machine and 0644 on another makes two different images.
Modification times, owners and the absolute location of the project do not count, so a fresh
clone of the same commit gets the same tag (git keeps only the executable bit: with the usual
umask 022 two clones agree).

What does not count, by design: the base image named in `FROM` and anything a `RUN` step fetches.
The same inputs with a newer upstream base keep their tag; `--force` is for that.

What the engine receives follows its ignore file (Docker's rules, in `batchdeploy.images.ignore`).
The Dockerfile and the ignore file always count, whatever the patterns say: the engine always
receives them.

Special files: a FIFO or a device file the ignore file lets through is refused (one line naming it),
because the engines copy it into the image as a FIFO or device node, which no content hash can
describe, and one in a build context is almost always a mistake. A socket is left out, as both
engines leave it out (tar cannot hold one).

Build secrets (BUILD_SECRETS) count by name only: a value never enters the tag (a tag is public),
and a changed value does not change it (a rotated token does not make a new image; `--force` does).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.errors import ConfigError
from batchdeploy.images.ignore import Matcher, find_ignore_file, parse_ignore

SCHEME = b"batchdeploy-context-v1"
TAG_PREFIX = "c-"
TAG_HEX = 16
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    path: str  # relative, slash-separated
    kind: str  # "f" file, "l" symlink, "d" directory
    mode: int  # permission bits
    digest: str  # sha256 of the content (file) or target (symlink); "" for a directory
    size: int = 0


@dataclass
class ContentTag:
    tag: str
    sha256: str
    entries: list[Entry] = field(default_factory=list)
    ignore_file: str | None = None

    @property
    def files(self) -> int:
        return sum(1 for e in self.entries if e.kind == "f")

    @property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries)


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def _refuse_special(path: str, st_mode: int, context: Path) -> None:
    """A FIFO or device file the engine would copy: one line naming it. Sockets pass (left out)."""
    kind = None
    if stat.S_ISFIFO(st_mode):
        kind = "FIFO"
    elif stat.S_ISCHR(st_mode) or stat.S_ISBLK(st_mode):
        kind = "device file"
    if kind:
        raise ConfigError(
            f"{context / path} is a {kind}: the engine would copy it into the image as one, and the content "
            f"tag cannot describe it",
            hint=f"remove it or add `{path}` to the ignore file (.dockerignore)",
        )


def walk(context: Path, matcher: Matcher) -> list[Entry]:
    """Every entry the engine would send, sorted by path. A FIFO or device file is refused
    (`_refuse_special`), a socket left out. An excluded directory is not entered unless an exception
    (`!`) could bring back a path inside it, as the engines do."""
    entries: list[Entry] = []

    def visit(folder: Path, rel: str) -> None:
        try:
            with os.scandir(folder) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise ConfigError(f"cannot read {folder}: {exc.strerror}", hint="check its permissions") from None
        for child in children:
            path = f"{rel}/{child.name}" if rel else child.name
            try:
                st = child.stat(follow_symlinks=False)
            except OSError as exc:
                raise ConfigError(f"cannot read {child.path}: {exc.strerror}") from None
            excluded = matcher.excluded(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                if not excluded:
                    entries.append(Entry(path, "d", mode, ""))
                if not excluded or matcher.has_exclusions:
                    visit(Path(child.path), path)
            elif excluded:
                continue
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(child.path)
                entries.append(Entry(path, "l", mode, hashlib.sha256(os.fsencode(target)).hexdigest()))
            elif stat.S_ISREG(st.st_mode):
                try:
                    digest = _file_digest(Path(child.path))
                except OSError as exc:
                    raise ConfigError(
                        f"cannot read {child.path}: {exc.strerror}",
                        hint="make it readable or exclude it in .dockerignore",
                    ) from None
                entries.append(Entry(path, "f", mode, digest, st.st_size))
            else:
                _refuse_special(path, st.st_mode, context)

    visit(context, "")
    entries.sort(key=lambda e: os.fsencode(e.path))
    return entries


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def load_matcher(ignore_path: Path | None) -> tuple[Matcher, bytes]:
    data = _read_bytes(ignore_path, "ignore file") if ignore_path else b""
    try:
        return Matcher(parse_ignore(data.decode("utf-8", errors="replace"))), data
    except ValueError as exc:
        raise ConfigError(f"{ignore_path}: {exc}", hint="fix the pattern (Docker's .dockerignore syntax)") from None


def content_tag(
    context: Path,
    dockerfile: Path,
    build_args: dict[str, str] | None = None,
    flavor: str = "docker",
    leave_out: tuple[str, ...] = (),
    secret_names: tuple[str, ...] = (),
) -> ContentTag:
    """The content tag of building `context` with `dockerfile` and `build_args` on a `flavor` engine.

    `leave_out`: relative paths not counted even though the engine receives them (batchdeploy's own
    state folder, which changes on every run; counting it would make every -b a rebuild).
    `secret_names`: the build secrets offered to the build, by name; their values never count."""
    context = Path(context)
    dockerfile = Path(dockerfile)
    ignore_path = find_ignore_file(context, dockerfile, flavor)
    matcher, ignore_bytes = load_matcher(ignore_path)
    entries = [
        e for e in walk(context, matcher) if not any(e.path == p or e.path.startswith(p + "/") for p in leave_out)
    ]

    h = hashlib.sha256()
    h.update(SCHEME + b"\n")
    for e in entries:
        h.update(b"%s %o " % (e.kind.encode(), e.mode) + os.fsencode(e.path) + b"\0" + e.digest.encode() + b"\n")
    h.update(b"dockerfile\0" + hashlib.sha256(_read_bytes(dockerfile, "Dockerfile")).hexdigest().encode() + b"\n")
    h.update(b"ignore\0" + hashlib.sha256(ignore_bytes).hexdigest().encode() + b"\n")
    args = build_args or {}
    for key in sorted(args):
        h.update(b"arg\0" + key.encode() + b"=" + args[key].encode() + b"\n")
    for name in sorted(set(secret_names)):
        h.update(b"secret\0" + name.encode() + b"\n")
    digest = h.hexdigest()
    return ContentTag(
        tag=TAG_PREFIX + digest[:TAG_HEX],
        sha256=digest,
        entries=entries,
        ignore_file=str(ignore_path) if ignore_path else None,
    )


def sent(context: Path, dockerfile: Path, relpath: str, flavor: str = "docker") -> bool:
    """Whether `relpath` (relative to `context`) reaches the engine, e.g. to ask "is .aws_env sent?"."""
    matcher, _ = load_matcher(find_ignore_file(context, dockerfile, flavor))
    return not matcher.excluded(relpath)

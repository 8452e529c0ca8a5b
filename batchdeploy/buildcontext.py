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

Ignore files are read with Docker's rules (moby/patternmatcher, the code both Docker and podman
use): one pattern per line, `#` comments, a leading `/` dropped, `*` and `?` within one path
component, `**` across components, `!` re-includes, later lines win, and a pattern excluding a
directory excludes everything under it unless a later `!` pattern brings a path back. Which file
applies depends on the engine (see `ignore_file_names`). The Dockerfile and the ignore file
always count, whatever the patterns say: the engine always receives them.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from batchdeploy.errors import ConfigError

SCHEME = b"batchdeploy-context-v1"
TAG_PREFIX = "c-"
TAG_HEX = 16
_CHUNK = 1 << 20

# ---------------------------------------------------------------------------------------------
# Ignore files


def parse_ignore(text: str) -> list[str]:
    """Patterns of an ignore file, cleaned as Docker's reader does (`!` kept as a prefix)."""
    patterns = []
    for n, raw in enumerate(text.split("\n")):
        line = raw.rstrip("\r")
        if n == 0 and line.startswith("\ufeff"):
            line = line[1:]
        # A comment is a line whose very first character is '#'; " #x" is a pattern.
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = _go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        patterns.append("!" + line if invert else line)
    return patterns


def _go_clean(path: str) -> str:
    """Go's filepath.Clean on a slash path (posixpath.normpath, except that "//a" becomes "/a")."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


_ESCAPE = set(".+()|{}$")


@dataclass
class Pattern:
    text: str  # cleaned, without the leading "!"
    exclusion: bool
    kind: str = ""  # exact, prefix, suffix, regexp
    regexp: re.Pattern | None = None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        return bool(self.regexp and self.regexp.match(path))


def compile_pattern(text: str, exclusion: bool = False) -> Pattern:
    """One pattern compiled the way moby/patternmatcher does, match kinds included: they are not
    only speed-ups ("**foo" is a suffix test, so it matches "barfoo")."""
    out = ["^"]
    kind = "exact"
    i, n = 0, len(text)
    first = True
    while i < n:
        ch = text[i]
        i += 1
        if ch == "*":
            if i < n and text[i] == "*":
                i += 1
                if i < n and text[i] == "/":
                    i += 1  # "**/" is "**"
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regexp"
                else:
                    out.append("(.*/)?")
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                out.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            out.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append("\\" + text[i])
                i += 1
                kind = "regexp"
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = "regexp"
        else:
            out.append(ch)
        first = False
    pattern = Pattern(text, exclusion, kind)
    if kind == "regexp":
        try:
            # \Z, not $: Python's $ also matches before a final newline, Go's does not.
            pattern.regexp = re.compile("".join(out) + r"\Z")
        except re.error as exc:
            raise ValueError(f"bad pattern {text!r}: {exc}") from None
    return pattern


class Matcher:
    """Docker's MatchesOrParentMatches over a list of patterns (exclusions as "!pattern")."""

    def __init__(self, patterns: list[str]):
        self.patterns: list[Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = _go_clean(p)
            exclusion = p.startswith("!")
            if exclusion:
                if len(p) == 1:
                    raise ValueError('illegal exclusion pattern: "!"')
                p = p[1:]
            self.patterns.append(compile_pattern(p, exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """Whether the slash path `path` (relative to the context) is left out of the context."""
        matched = False
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/")
        for pattern in self.patterns:
            # An include can only change a path not yet matched, an exclusion only a matched one.
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                for i in range(len(parents)):
                    if pattern.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched


def ignore_file_names(flavor: str, dockerfile_name: str = "Dockerfile") -> list[str]:
    """Candidate ignore files, in the order the engine looks for them; the first that exists wins.

    Docker (BuildKit, the default builder since Docker 23): `<Dockerfile>.dockerignore`, then
    `.dockerignore`. podman (buildah): `<Dockerfile>.dockerignore`, `<Dockerfile>.containerignore`,
    `.containerignore`, `.dockerignore` (seen with podman 4.3: `.containerignore` wins over
    `.dockerignore`). The legacy Docker builder reads only `.dockerignore`.
    """
    if flavor == "podman":
        return [
            f"{dockerfile_name}.dockerignore",
            f"{dockerfile_name}.containerignore",
            ".containerignore",
            ".dockerignore",
        ]
    return [f"{dockerfile_name}.dockerignore", ".dockerignore"]


# ---------------------------------------------------------------------------------------------
# Walking and hashing


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


def walk(context: Path, matcher: Matcher) -> list[Entry]:
    """Every entry the engine would send, sorted by path. Special files (sockets, fifos) are left
    out. An excluded directory is not entered unless an exception (`!`) could bring back a path
    inside it, as the engines do."""
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

    visit(context, "")
    entries.sort(key=lambda e: os.fsencode(e.path))
    return entries


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def find_ignore_file(context: Path, dockerfile: Path, flavor: str) -> Path | None:
    """The ignore file the engine would use, or None."""
    for name in ignore_file_names(flavor, dockerfile.name):
        folder = Path(dockerfile).parent if name.startswith(dockerfile.name + ".") else Path(context)
        if (folder / name).is_file():
            return folder / name
    return None


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
) -> ContentTag:
    """The content tag of building `context` with `dockerfile` and `build_args` on a `flavor` engine.

    `leave_out`: relative paths not counted even though the engine receives them (batchdeploy's own
    state folder, which changes on every run; counting it would make every -b a rebuild)."""
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

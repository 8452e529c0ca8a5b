"""Which files an engine leaves out of a build context: Docker's ignore-file rules.

Ignore files are read with Docker's rules (moby/patternmatcher, the code both Docker and podman
use): one pattern per line, `#` comments, a leading `/` dropped, `*` and `?` within one path
component, `**` across components, `!` re-includes, later lines win, and a pattern excluding a
directory excludes everything under it unless a later `!` pattern brings a path back. Which file
applies depends on the engine (see `ignore_file_names`).

Pure: reads nothing but the folder listing `find_ignore_file` looks at.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path


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
            pattern.regexp = re.compile("".join(_atomic(out)) + r"\Z")
        except re.error as exc:
            raise ValueError(f"bad pattern {text!r}: {exc}") from None
    return pattern


_STAR = "[^/]*"


def _atomic(tokens: list[str]) -> list[str]:
    """`*` followed by fixed text and another `*` (`a*b*c*d`) made to match the text's first
    occurrence only, as Go's linear-time regexp effectively does: Python's backtracking would try
    every split, O(n^k) for k stars, and `x*a*a*a*a*a*a*b` against a 60-character path would hang the
    build. The first occurrence is enough when the text holds no `/` and the next token is a star
    again (the characters skipped fall to it); the same lookahead trick as the standard fnmatch."""
    out, i, group = [], 0, 0
    while i < len(tokens):
        token = tokens[i]
        j = i + 1
        while j < len(tokens) and tokens[j] not in (_STAR, "(.*/)?", ".*"):
            j += 1
        piece = "".join(tokens[i + 1 : j])
        balanced = piece.count("[") == piece.count("]")
        if token == _STAR and j < len(tokens) and tokens[j] in (_STAR, ".*") and piece and "/" not in piece and balanced:
            group += 1
            out.append(f"(?=(?P<g{group}>{_STAR}?{piece}))(?P=g{group})")
            i = j
            continue
        out.append(token)
        i += 1
    return out


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


def find_ignore_file(context: Path, dockerfile: Path, flavor: str) -> Path | None:
    """The ignore file the engine would use, or None."""
    for name in ignore_file_names(flavor, dockerfile.name):
        folder = Path(dockerfile).parent if name.startswith(dockerfile.name + ".") else Path(context)
        if (folder / name).is_file():
            return folder / name
    return None

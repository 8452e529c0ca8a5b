"""--exclude patterns, and which S3 keys can be local file names."""

from __future__ import annotations

import fnmatch
import re

DEFAULT_EXCLUDES = (".git", "__pycache__", "*.swp", "*.swo", "*~", ".#*", "#*#", ".DS_Store")


class Excluder:
    """--exclude patterns (fnmatch, case-sensitive). A pattern without `/` matches any one path
    component (`.git`, `*.swp` at any depth); a pattern with `/` matches the relative path of a file
    or of a folder above it (`data/raw` excludes everything under data/raw)."""

    def __init__(self, patterns=()):
        names, paths = [], []
        for p in patterns:
            p = p.strip().strip("/")
            if not p:
                continue
            (paths if "/" in p else names).append(fnmatch.translate(p))
        self._name = re.compile("|".join(names)) if names else None
        self._path = re.compile("|".join(paths)) if paths else None

    def name(self, component: str) -> bool:
        return bool(self._name and self._name.match(component))

    def path(self, rel: str) -> bool:
        return bool(self._path and self._path.match(rel))

    def excluded(self, rel: str) -> bool:
        """For a relative path seen whole (an S3 key): any component, or any folder path above it."""
        parts = rel.split("/")
        for i, part in enumerate(parts):
            if self.name(part) or (self._path and self.path("/".join(parts[: i + 1]))):
                return True
        return False


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control(name: str) -> bool:
    """A control character (C0, DEL, C1, a Unicode line end) in `name`: a newline in a file name or
    key would split every message and listing that shows it."""
    return bool(_CONTROL.search(name))


def safe_relkey(rel: str) -> bool:
    """A key (below the prefix) that can be a local file: no empty, '.' or '..' components, no NUL or
    other control character."""
    return bool(rel) and not has_control(rel) and all(p not in ("", ".", "..") for p in rel.split("/"))

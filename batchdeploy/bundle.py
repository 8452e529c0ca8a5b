"""A code bundle: a project's code as one deterministic, content-addressed archive that the launcher
unpacks inside the job (batchdeploy.launch.code), so code changes need no image rebuild.

Which files: in a git work tree, the files git would commit (tracked, plus untracked ones that
.gitignore does not exclude, as they are on disk now); in a folder git ignores as a whole, and elsewhere, every file under the folder but
those excluded by `DEFAULT_EXCLUDES` and the folder's `.dockerignore`. The `.dockerignore` reading
here is a small subset of Docker's (patterns with `*`, `?`, `**`, a leading `/`, `!` re-includes,
the last match wins, a matched folder excludes what is under it), kept separate from
`batchdeploy.images.ignore` because shared modules may not import a capability. `.aws_env` and
`.batchdeploy/` are never packed, whatever git or the ignore file say.

The archive is a gzip'd tar of regular files and relative links, in sorted order, with fixed times,
owners and modes (0644, or 0755 when executable), so the same tree gives the same bytes and the
same sha256, which names it: `<prefix>/code/<sha256>.tar.gz`. A tree over the size limit is refused
with its largest files named: data belongs in S3 as inputs, not in the code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.errors import UsageError

DEFAULT_LIMIT = 64 * 1024 * 1024  # bytes of files, before compression
FIXED_MTIME = 315532800  # 1980-01-01, as zip and reproducible-build tools use
NEVER = (".aws_env", ".batchdeploy")
DEFAULT_EXCLUDES = (
    ".git", "**/__pycache__", "**/*.pyc", ".venv", "venv", "**/node_modules", "**/.mypy_cache",
    "**/.pytest_cache", "**/.ruff_cache", "**/.ipynb_checkpoints", "**/.DS_Store", ".env",
)


@dataclass
class Bundle:
    data: bytes
    sha256: str
    files: int
    size: int  # bytes of files, before compression
    source: str  # "git" or "folder"

    def key(self, prefix: str) -> str:
        return f"{prefix.strip('/')}/code/{self.sha256}.tar.gz".lstrip("/")


def compile_pattern(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regular expression over slash-separated relative paths."""
    text = pattern.strip().lstrip("/").rstrip("/")
    out, i = [], 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out))


class Excluder:
    def __init__(self, patterns):
        self.rules = []
        for raw in patterns:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            line = line[1:].strip() if keep else line
            if line.strip("/"):
                self.rules.append((keep, compile_pattern(line)))

    def excluded(self, path: str) -> bool:
        """The last rule matching the path, or a folder above it, decides."""
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for keep, rule in self.rules:
            if any(rule.fullmatch(p) for p in prefixes):
                verdict = not keep
        return verdict


def _never(path: str) -> bool:
    return path.split("/", 1)[0] in NEVER


def git_files(root: Path) -> list | None:
    """Files git would commit under `root` (relative to it), or None when it is not a work tree."""
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True, timeout=30
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return None
        # A folder git ignores as a whole (a scratch copy under an ignored path) has nothing git would
        # commit; its files on disk are the code, as for a folder outside any work tree.
        if subprocess.run(["git", "-C", str(root), "check-ignore", "-q", "."], capture_output=True,
                          timeout=30).returncode == 0:
            return None
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, timeout=60, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = {n for n in listed.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
    return sorted(n for n in names if os.path.islink(root / n) or (root / n).is_file())


def folder_files(root: Path) -> list:
    ignore = root / ".dockerignore"
    patterns = list(DEFAULT_EXCLUDES) + (ignore.read_text().splitlines() if ignore.is_file() else [])
    excluder = Excluder(patterns)
    found = []
    for dirpath, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        # A linked folder is packed as the link; pruning only fully excluded folders keeps `!` working.
        links = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
        dirs[:] = sorted(d for d in dirs if d not in links and not _pruned(excluder, rel_dir + d))
        for name in sorted(files + links):
            rel = rel_dir + name
            if not excluder.excluded(rel):
                found.append(rel)
    return sorted(found)


def _pruned(excluder: Excluder, rel: str) -> bool:
    return excluder.excluded(rel) and not any(keep for keep, _ in excluder.rules)


def list_files(root: Path) -> tuple[list, str]:
    files = git_files(root)
    source = "git"
    if files is None:
        files, source = folder_files(root), "folder"
    return [f for f in files if not _never(f)], source


def _size_problem(root: Path, sizes: dict, limit: int) -> str | None:
    total = sum(sizes.values())
    if total <= limit:
        return None
    largest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    named = ", ".join(f"{name} ({human(size)})" for name, size in largest)
    return f"the code bundle of {root} would hold {human(total)}, over the {human(limit)} limit; largest files: {named}"


def human(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def pack(root, limit: int = DEFAULT_LIMIT) -> Bundle:
    """The bundle of the code under `root`; UsageError when it is over `limit` or cannot be packed."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise UsageError(f"code folder {root} does not exist", hint="name the project's folder")
    files, source = list_files(root)
    if not files:
        raise UsageError(f"the code bundle of {root} would hold no file ({source} listing)",
                         hint="name the folder that holds the code with --code DIR (or CODE_DIR)")
    sizes = {f: (0 if os.path.islink(root / f) else (root / f).stat().st_size) for f in files}
    problem = _size_problem(root, sizes, limit)
    if problem:
        raise UsageError(problem, hint="keep data in S3 as inputs, or exclude it (.gitignore, .dockerignore)")
    data = archive(root, files)
    return Bundle(data, hashlib.sha256(data).hexdigest(), len(files), sum(sizes.values()), source)


def archive(root: Path, files: list) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            tar_add(tar, root, name)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def tar_add(tar: tarfile.TarFile, root: Path, name: str) -> None:
    path = root / name
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_MTIME, 0, 0, "", ""
    if os.path.islink(path):
        target = os.readlink(path)
        resolved = os.path.normpath(os.path.join(os.path.dirname(name), target))
        if os.path.isabs(target) or resolved == ".." or resolved.startswith("../"):
            raise UsageError(f"{path} links outside the code folder ({target})", hint="copy the file in, or exclude the link")
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        tar.addfile(info)
        return
    info.mode = 0o755 if os.stat(path).st_mode & 0o111 else 0o644
    info.size = path.stat().st_size
    with open(path, "rb") as f:
        tar.addfile(info, f)


def parse_size(text: str) -> int:
    """`64MiB`, `500 KiB`, `1.5GiB` or a number of bytes, as bytes (CODE_SIZE_LIMIT)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?\s*", str(text))
    if not m:
        raise UsageError(f"size {text!r} is not a number of bytes", hint="write e.g. 64MiB, 500KiB or 1048576")
    scale = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m[2] or "B"]
    return int(float(m[1]) * scale)

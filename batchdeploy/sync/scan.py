"""The local side: the walk (symbolic links followed like aws s3 sync, never in circles) and hashing."""

from __future__ import annotations

import errno
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from batchdeploy.errors import UsageError
from batchdeploy.sync import hashcache
from batchdeploy.sync.exclude import Excluder, has_control
from batchdeploy.ui import one_line

# Temporary download files: `.NAME.XXXXXXXX.bdpart` beside the target; never uploaded, cleaned up.
# Before issue #13 a large download let s3transfer write to its own `<that name>.RANDOM` (8 hex digits,
# either case); those are recognised too, so the next run removes what a killed one left.
TMP_SUFFIX = ".bdpart"
_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.bdpart(\.[0-9a-fA-F]{8})?$")

# Files from this size up are hashed on several threads (hashlib lets go of the GIL while it hashes);
# smaller ones cost mostly Python's own time, which threads do not share.
PARALLEL_HASH_SIZE = 1024 * 1024


@dataclass
class Local:
    path: str
    st: os.stat_result
    sha256: str | None = None
    etag: str | None = None
    key: list = field(default_factory=list)


@dataclass
class Scan:
    files: dict[str, Local]
    skipped: set[str]  # reported and left alone: never deleted on the other side
    unreadable: list[tuple[str, str]]
    stale_tmp: list[str]


def scan_local(root: str, excluder: Excluder, warn, avoid=frozenset()) -> Scan:
    """Walk `root`, following symbolic links like aws s3 sync, but not in circles."""
    scan = Scan({}, set(), [], [])
    try:
        top = os.stat(root)
    except OSError as exc:  # pragma: no cover - checked by the caller
        raise UsageError(f"cannot read {root}: {exc.strerror}") from None
    stack = [(root, "", frozenset({(top.st_dev, top.st_ino)}))]
    while stack:
        folder, prefix, ancestors = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            scan.unreadable.append((prefix.rstrip("/") or ".", exc.strerror or str(exc)))
            continue
        for entry in entries:
            rel = prefix + entry.name
            if excluder.name(entry.name) or excluder.path(rel) or entry.path in avoid:
                continue
            if _TMP_RE.match(entry.name):
                scan.stale_tmp.append(entry.path)
                continue
            _visit(scan, entry, rel, ancestors, stack, warn)
    return scan


def _visit(scan: Scan, entry: os.DirEntry, rel: str, ancestors, stack: list, warn) -> None:
    """One directory entry: a file to keep, a folder to walk into, or a reason to skip it."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        warn(f"{_shown(rel)}: the name is not valid UTF-8, so it cannot be an S3 key; skipped")
        scan.skipped.add(rel)
        return
    if has_control(entry.name):
        # S3 would take most of them, but a newline or an escape in a key breaks every listing, log and
        # message that shows it (and XML 1.0 cannot carry some at all): found here, never sent.
        warn(f"{one_line(rel)}: the name holds a control character (newline, tab, escape ...); skipped")
        scan.skipped.add(rel)
        return
    try:
        st = entry.stat()
    except FileNotFoundError:
        if entry.is_symlink():
            warn(f"{rel}: broken symbolic link (-> {_readlink(entry.path)}); skipped")
            scan.skipped.add(rel)
        return  # vanished while we looked
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            warn(f"{rel}: symbolic link loop; skipped")
        else:
            scan.unreadable.append((rel, exc.strerror or str(exc)))
        scan.skipped.add(rel)
        return
    if stat.S_ISDIR(st.st_mode):
        ident = (st.st_dev, st.st_ino)
        if ident in ancestors:
            warn(f"{rel}: symbolic link loop (-> {_readlink(entry.path)}); not followed")
            scan.skipped.add(rel)
            return
        stack.append((entry.path, rel + "/", ancestors | {ident}))
    elif stat.S_ISREG(st.st_mode):
        scan.files[rel] = Local(entry.path, st)
    else:
        warn(f"{rel}: not a regular file (FIFO, socket or device); skipped")
        scan.skipped.add(rel)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:  # pragma: no cover
        return "?"


def _shown(rel: str) -> str:
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def hash_files(
    files: dict[str, Local], rels, cache: hashcache.HashCache, stop=None, need_etag: bool = True
) -> list[tuple[str, str]]:
    """Fill sha256/etag from the cache or by reading; the files that cannot be read are returned.
    `stop` (a threading.Event) ends the work between files when the run is abandoned. A cache entry
    without an ETag (a large download's) is read again when `need_etag` (an upload checks S3's
    ETag against it); a download compares by sha256 and does not need it."""
    unreadable = []
    small, large = [], []
    for rel in rels:
        f = files[rel]
        hit = cache.lookup(rel, f.st)
        if hit and (hit[1] or not need_etag):
            f.sha256, f.etag = hit
        else:
            (large if f.st.st_size >= PARALLEL_HASH_SIZE else small).append(rel)
    for rel, got in _hashed(files, small, large, stop):
        if got is None:
            continue
        if isinstance(got, hashcache.UnreadableFile):
            unreadable.append((rel, got.reason))
            continue
        f = files[rel]
        f.sha256, f.etag, f.key = got
        cache.store(rel, f.key, f.sha256, f.etag)
    return unreadable


def _hashed(files: dict[str, Local], small: list[str], large: list[str], stop):
    """(rel, (sha256, etag, stat key) | UnreadableFile | None when stopped): large files on threads first."""

    def one(rel):
        if stop is not None and stop.is_set():
            return rel, None
        f = files[rel]
        try:
            return rel, hashcache.hash_file(f.path, f.st.st_size)
        except hashcache.UnreadableFile as exc:
            return rel, exc

    if len(large) > 1:
        with ThreadPoolExecutor(min(len(large), os.cpu_count() or 2, 8), thread_name_prefix="hash") as pool:
            yield from pool.map(one, large)
    else:
        yield from map(one, large)
    yield from map(one, small)

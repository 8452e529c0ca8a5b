"""Content hashes of local files, and what S3 ETags are known to stand for, kept between syncs.

Every entry is a fact that checks itself, so a stale or shared cache can cost a re-read but never
a wrong "unchanged":
- a local entry is used only while the file's size, mtime, ctime and inode are exactly those recorded
  (ctime changes on every write and every utime, and no user can set it back, so an edit that keeps
  the size and restores an older mtime still misses the cache);
- a remote entry maps an ETag to the sha256 of the bytes that ETag was seen with. An ETag is a digest
  of the content (MD5, or MD5 of the part MD5s for multipart) or unique per upload (SSE-KMS), so the
  same ETag means the same bytes.

"Racy" files (changed within RACY_NS of being hashed) are not cached: a write landing in the same
file-system clock tick as our read would leave size and times unchanged (git's racy-clean problem).
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from batchdeploy.aws.s3 import MAX_PARTS
from batchdeploy.state import SYNC_CACHE, atomic_write

VERSION = 1
RACY_NS = 2_000_000_000

# The multipart layout batchdeploy uploads with (and aws-cli's default), so the ETag a file will get
# can be computed locally: MD5 for smaller files, MD5 of the 8 MiB part MD5s "-N" for larger ones.
PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = PART_SIZE


def part_size(size: int) -> int:
    """s3transfer's chunk-size rule: double the part size until there are at most 10,000 parts."""
    chunk = PART_SIZE
    while -(-size // chunk) > MAX_PARTS:
        chunk *= 2
    return chunk


def stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class UnreadableFile(Exception):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def hash_file(path: str, size: int, etag: bool = True) -> tuple[str, str, list[int]]:
    """(sha256 hex, the ETag S3 will give the file when batchdeploy uploads it, stat key read with).

    Read again while the file changes under us (a stat before and after must agree); after three
    tries the last reading is returned with an empty stat key, so it is never cached.
    etag=False skips the MD5s (most of the time on a large file) and returns "" for the ETag: a
    cache entry without one is re-read before an upload, which needs it.
    """
    for _ in range(3):
        try:
            with open(path, "rb") as fh:
                before = os.fstat(fh.fileno())
                sha = hashlib.sha256()
                if before.st_size < MULTIPART_THRESHOLD:
                    data = fh.read()
                    sha.update(data)
                    tag = hashlib.md5(data, usedforsecurity=False).hexdigest() if etag else ""
                else:
                    chunk = part_size(before.st_size)
                    parts = []
                    while True:
                        data = fh.read(chunk)
                        if not data:
                            break
                        sha.update(data)
                        if etag:
                            parts.append(hashlib.md5(data, usedforsecurity=False).digest())
                    tag = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest() + f"-{len(parts)}" if etag else ""
                after = os.stat(path)
        except OSError as exc:
            raise UnreadableFile(path, exc.strerror or str(exc)) from None
        key = stat_key(after)
        if key == stat_key(before):
            return sha.hexdigest(), tag, key
    return sha.hexdigest(), tag, []


def _load(path: str, local_root: str) -> tuple[dict, dict]:
    """(local entries, ETag -> sha256) from the cache file. It is only a cache: a missing, unreadable
    or damaged file, or any entry of the wrong shape (`"etags": [1]`, an entry that is not
    [size, mtime, ctime, inode, sha256, etag]), is left out and rebuilt by this run, silently."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return {}, {}
    if not isinstance(data, dict) or data.get("version") != VERSION or data.get("local_root") != local_root:
        return {}, {}
    local, etags = data.get("local"), data.get("etags")
    local = {rel: e for rel, e in local.items() if _entry_ok(e)} if isinstance(local, dict) else {}
    etags = etags if isinstance(etags, dict) else {}
    return local, {e: s for e, s in etags.items() if isinstance(s, str)}


def _entry_ok(entry) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 6
        and all(type(v) is int for v in entry[:4])
        and all(isinstance(v, str) for v in entry[4:])
    )


class HashCache:
    """One small JSON file per (local folder, remote prefix) pair in the state folder: the local
    hashes and the ETags known under that prefix. Written compact and only when something changed
    (the house's State.write indents, which takes Python's slow encoder: 0.3 s for 2,000 entries)."""

    def __init__(self, folder, local_root: str, remote_root: str):
        self.folder = str(folder)
        self.path = self.path_for(folder, local_root, remote_root)
        self.local_root = local_root
        self.remote_root = remote_root
        self.dirty = False
        self.old_local, self.old_remote = _load(self.path, local_root)
        self.local: dict = {}
        self.etags: dict[str, str] = dict(self.old_remote)

    @staticmethod
    def path_for(folder, local_root: str, remote_root: str, name: str = SYNC_CACHE) -> str:
        """The cache's path (or, given `name`, another state file of this pair: SYNC_UPLOADS)."""
        ident = hashlib.sha256(f"{local_root}\0{remote_root}".encode("utf-8", "surrogateescape")).hexdigest()[:16]
        return os.path.join(str(folder), name.format(ident=ident))

    def lookup(self, rel: str, st: os.stat_result):
        """(sha256, etag) recorded for this exact file state, else None. Keeps hits for the next save."""
        entry = self.old_local.get(rel)
        if entry and entry[:4] == stat_key(st):
            self.local[rel] = entry
            return entry[4], entry[5]
        return None

    def store(self, rel: str, key: list[int], sha256: str, etag: str, now_ns: int | None = None) -> None:
        now_ns = time.time_ns() if now_ns is None else now_ns
        if not key or max(key[1], key[2]) >= now_ns - RACY_NS:
            self.local.pop(rel, None)
            self.dirty = True
            return
        entry = [*key, sha256, etag]
        if self.old_local.get(rel) != entry:
            self.dirty = True
        self.local[rel] = entry

    def forget(self, rel: str) -> None:
        if self.local.pop(rel, None) is not None or rel in self.old_local:
            self.dirty = True

    def learn(self, etag: str, sha256: str) -> None:
        if etag and sha256 and self.etags.get(etag) != sha256:
            self.etags[etag] = sha256
            self.dirty = True

    def save(self, seen_etags) -> bool:
        """Write back only what this run saw (entries for deleted files and gone objects drop out)."""
        remote = {e: s for e, s in self.etags.items() if e in seen_etags}
        if not self.dirty and self.local.keys() == self.old_local.keys() and remote == self.old_remote:
            return False
        data = {
            "version": VERSION,
            "local_root": self.local_root,
            "remote_root": self.remote_root,
            "local": self.local,
            "etags": remote,
        }
        try:
            atomic_write(self.path, json.dumps(data, separators=(",", ":")), errors="surrogateescape")
        except OSError:
            return False  # a cache that cannot be written costs the next run a re-read, nothing more
        self.old_local = dict(self.local)
        self.old_remote = remote
        self.dirty = False
        return True

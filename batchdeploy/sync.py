"""sync-to-s3 / sync-from-s3: make one side hold exactly the other side's files, judged by content.

A file is copied when its size or its content differs from the other side's; time stamps are never
trusted (aws s3 sync skips a same-size edit with an older mtime). The comparison needs no download:
- every object batchdeploy uploads carries its sha256 in metadata (x-amz-meta-sha256);
- the local hash cache (hashcache.py) also records the ETag a file will get, so an unchanged file is
  recognised from the listing alone (ETag = MD5 for single-part objects, MD5 of the 8 MiB part MD5s
  for multipart ones: aws-cli's layout too), and ETags already seen map to their sha256;
- an object with an ETag never seen and a different one from ours is copied when small (as cheap as
  asking), and asked about with one HEAD when large: its x-amz-meta-sha256 decides; without it, it is
  copied, after which the ETag is known and the next run converges.

A no-change sync therefore costs one ListObjectsV2 per 1,000 keys and a stat of each local file.
Transfers run on a bounded pool; files from 8 MiB up go through s3transfer's manager (multipart,
each part SHA256-checked by S3, an interrupted upload aborted). Every upload is checked (S3 verifies
ChecksumSHA256, and the returned ETag must be the MD5 we computed); every download goes to a
temporary file in the target folder, is checked against the sha256 (or MD5 ETag) and size, and only
then renamed into place. Deletions (--delete) come last and only when every transfer succeeded.
"""

from __future__ import annotations

import base64
import errno
import fnmatch
import os
import re
import signal
import stat
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field

from batchdeploy import hashcache
from batchdeploy.errors import BatchdeployError, ConfigError, OperationError, UsageError

DEFAULT_EXCLUDES = (".git", "__pycache__", "*.swp", "*.swo", "*~", ".#*", "#*#", ".DS_Store")
# Temporary download files: `.NAME.XXXXXXXX.bdpart` beside the target; never uploaded, cleaned up.
TMP_SUFFIX = ".bdpart"
_TMP_RE = re.compile(r"^\..+\.[0-9a-f]{8}\.bdpart$")
DEFAULT_JOBS = 16
MAX_JOBS = 64
FATAL_CODES = {"AccessDenied", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


# ---------------------------------------------------------------------------------------------
# Pure pieces: addresses, exclusions, the plan


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix"). The prefix never has edge slashes."""
    if not url.startswith("s3://"):
        raise UsageError(f"--remote {url!r} is not an s3:// URL", hint="write it as s3://BUCKET/PREFIX")
    bucket, _, prefix = url[5:].partition("/")
    if not _BUCKET_RE.fullmatch(bucket):
        raise UsageError(f"{bucket!r} in {url!r} is not a valid bucket name", hint="write it as s3://BUCKET/PREFIX")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UsageError(f"the prefix in {url!r} has empty, '.' or '..' parts", hint="write it as s3://BUCKET/a/b")
    return bucket, prefix


def s3_url(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"


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


@dataclass
class Local:
    path: str
    st: os.stat_result
    sha256: str | None = None
    etag: str | None = None
    key: list = field(default_factory=list)


@dataclass
class Remote:
    size: int
    etag: str


@dataclass
class Plan:
    copy: list[str] = field(default_factory=list)  # relative paths to transfer
    delete: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)  # large, unknown ETag: HEAD decides
    unchanged: int = 0


def same_content(size: int, sha256: str | None, etag: str | None, remote: Remote, known: dict[str, str]):
    """True/False when the listing decides whether the two sides hold the same bytes, None if unknown."""
    if size != remote.size:
        return False
    if etag and etag == remote.etag:
        return True
    sha = known.get(remote.etag)
    if sha is not None and sha256 is not None:
        return sha == sha256
    return None


def make_plan(source: dict, target: dict, upload: bool, known: dict, excluder: Excluder, protected, delete: bool):
    """What to copy and delete. `source`/`target` map relative paths to Local/Remote by direction."""
    plan = Plan()
    threshold = hashcache.MULTIPART_THRESHOLD
    for rel in sorted(source):
        s = source[rel]
        t = target.get(rel)
        if t is None:
            plan.copy.append(rel)
            continue
        local, remote = (s, t) if upload else (t, s)
        verdict = same_content(local.st.st_size, local.sha256, local.etag, remote, known)
        if verdict is True:
            plan.unchanged += 1
        elif verdict is False or remote.size < threshold:
            plan.copy.append(rel)
        else:
            plan.ask.append(rel)
    if delete:
        for rel in sorted(set(target) - set(source)):
            if not excluder.excluded(rel) and not _protected(rel, protected):
                plan.delete.append(rel)
    return plan


def _protected(rel: str, protected) -> bool:
    if not protected:
        return False
    if rel in protected:
        return True
    parts = rel.split("/")
    return any("/".join(parts[:i]) in protected for i in range(1, len(parts)))


def safe_relkey(rel: str) -> bool:
    """A key (below the prefix) that can be a local file: no empty, '.' or '..' components, no NUL."""
    return bool(rel) and "\0" not in rel and all(p not in ("", ".", "..") for p in rel.split("/"))


def human_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def summary_line(verb: str, copied: int, nbytes: int, deleted: int, unchanged: int, seconds: float, dry: bool) -> str:
    would = "would " if dry else ""
    text = f"{would}{verb} {copied:,} ({human_bytes(nbytes)}), {would}delete {deleted:,}, unchanged {unchanged:,}"
    if not dry:
        text = f"{verb} {copied:,} ({human_bytes(nbytes)}), deleted {deleted:,}, unchanged {unchanged:,}"
    return text + (" (dry run: nothing changed)" if dry else f" in {seconds:.1f} s")


# ---------------------------------------------------------------------------------------------
# The local side


@dataclass
class Scan:
    files: dict[str, Local]
    skipped: set[str]  # reported and left alone: never deleted on the other side
    unreadable: list[tuple[str, str]]
    stale_tmp: list[str]


def scan_local(root: str, excluder: Excluder, warn, avoid=frozenset()) -> Scan:
    """Walk `root`, following symbolic links like aws s3 sync, but not in circles."""
    files: dict[str, Local] = {}
    skipped: set[str] = set()
    unreadable: list[tuple[str, str]] = []
    stale: list[str] = []
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
            unreadable.append((prefix.rstrip("/") or ".", exc.strerror or str(exc)))
            continue
        for entry in entries:
            name = entry.name
            rel = prefix + name
            if excluder.name(name) or excluder.path(rel) or entry.path in avoid:
                continue
            if _TMP_RE.match(name):
                stale.append(entry.path)
                continue
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                warn(f"{_shown(rel)}: the name is not valid UTF-8, so it cannot be an S3 key; skipped")
                skipped.add(rel)
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                if entry.is_symlink():
                    warn(f"{rel}: broken symbolic link (-> {_readlink(entry.path)}); skipped")
                    skipped.add(rel)
                continue  # vanished while we looked
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    warn(f"{rel}: symbolic link loop; skipped")
                else:
                    unreadable.append((rel, exc.strerror or str(exc)))
                skipped.add(rel)
                continue
            if stat.S_ISDIR(st.st_mode):
                ident = (st.st_dev, st.st_ino)
                if ident in ancestors:
                    warn(f"{rel}: symbolic link loop (-> {_readlink(entry.path)}); not followed")
                    skipped.add(rel)
                    continue
                stack.append((entry.path, rel + "/", ancestors | {ident}))
            elif stat.S_ISREG(st.st_mode):
                files[rel] = Local(entry.path, st)
            else:
                warn(f"{rel}: not a regular file (FIFO, socket or device); skipped")
                skipped.add(rel)
    return Scan(files, skipped, unreadable, stale)


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:  # pragma: no cover
        return "?"


def _shown(rel: str) -> str:
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


# Files from this size up are hashed on several threads (hashlib lets go of the GIL while it hashes);
# smaller ones cost mostly Python's own time, which threads do not share.
PARALLEL_HASH_SIZE = 1024 * 1024


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

    def one(rel):
        if stop is not None and stop.is_set():
            return rel, None
        f = files[rel]
        try:
            return rel, hashcache.hash_file(f.path, f.st.st_size)
        except hashcache.UnreadableFile as exc:
            return rel, exc

    def results():
        if len(large) > 1:
            with ThreadPoolExecutor(min(len(large), os.cpu_count() or 2, 8), thread_name_prefix="hash") as pool:
                yield from pool.map(one, large)
        else:
            yield from map(one, large)
        yield from map(one, small)

    for rel, got in results():
        if got is None:
            continue
        if isinstance(got, hashcache.UnreadableFile):
            unreadable.append((rel, got.reason))
            continue
        f = files[rel]
        f.sha256, f.etag, f.key = got
        cache.store(rel, f.key, f.sha256, f.etag)
    return unreadable


# ---------------------------------------------------------------------------------------------
# The remote side


class aws_call:
    """Like aws.translate, but a missing bucket is the user's configuration (exit 2)."""

    def __init__(self, doing: str, bucket: str):
        self.doing = doing
        self.bucket = bucket

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        from batchdeploy.aws import convert, error_code

        if error_code(exc) == "NoSuchBucket":
            raise ConfigError(
                f"bucket {self.bucket!r} does not exist",
                hint="check S3_BUCKET or --remote (the bucket can be made with `batchdeploy create`)",
            ) from None
        converted = convert(exc, self.doing)
        if converted is None:
            return False
        converted.code = error_code(exc)
        raise converted from None


_CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.S)
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def lean_listing(response_dict, customized_response_dict, **kwargs):
    """botocore's XML parser spends ~0.1 s per 1,000 keys (dateutil on every LastModified); a
    no-change sync is mostly that. ElementTree reads the <Contents> here instead, and botocore parses
    what is left (IsTruncated, tokens, errors go through botocore untouched)."""
    if response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body") or b""
    if b"<Contents>" not in body:
        return
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return  # let botocore report it
    contents = []
    for item in root.iter(_NS + "Contents"):
        contents.append(
            {
                "Key": item.findtext(_NS + "Key", ""),
                "Size": int(item.findtext(_NS + "Size", "0")),
                "ETag": item.findtext(_NS + "ETag", ""),
                "LastModified": item.findtext(_NS + "LastModified", ""),
                "StorageClass": item.findtext(_NS + "StorageClass", ""),
            }
        )
    customized_response_dict["Contents"] = contents
    response_dict["body"] = _CONTENTS.sub(b"", body)


def list_remote(client, bucket: str, prefix: str) -> tuple[dict[str, Remote], int]:
    """Every object below `prefix/` (never a sibling like `prefix-old/`): one request per 1,000 keys."""
    kp = prefix + "/" if prefix else ""
    found: dict[str, Remote] = {}
    kwargs = {"Bucket": bucket, "Prefix": kp}
    pages = 0
    while True:
        with aws_call(f"list {s3_url(bucket, prefix)}", bucket):
            page = client.list_objects_v2(**kwargs)
        pages += 1
        for obj in page.get("Contents", ()):
            rel = obj["Key"][len(kp) :]
            if not rel or rel.endswith("/"):
                continue  # folder markers made by consoles: not files
            found[rel] = Remote(obj["Size"], obj.get("ETag", "").strip('"'))
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            return found, pages
        kwargs["ContinuationToken"] = token


# ---------------------------------------------------------------------------------------------
# Progress on a terminal


class Progress:
    """One self-rewriting line on stderr (files, bytes, rate), only on a terminal and without --quiet."""

    def __init__(self, out, total_files: int, total_bytes: int, clock=time.monotonic):
        self.out = out
        self.enabled = out.is_terminal() and not out.quiet and total_files > 0
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.bytes = 0
        self.clock = clock
        self.start = clock()
        self.last = 0.0
        self.lock = threading.Lock()

    def add_bytes(self, n: int) -> None:
        with self.lock:
            self.bytes += n
            self._draw()

    def file_done(self) -> None:
        with self.lock:
            self.files += 1
            self._draw()

    def line(self, text: str) -> None:
        """A whole line (one transfer, a warning) above the progress line."""
        with self.lock:
            if self.enabled:
                self.out.stderr.write("\r\033[K")
            self.out.note(text)
            self.last = 0.0
            self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        rate = self.bytes / max(now - self.start, 1e-6)
        self.out.stderr.write(
            f"\r\033[K  {self.files:,}/{self.total_files:,} files  "
            f"{human_bytes(self.bytes)}/{human_bytes(self.total_bytes)}  {human_bytes(int(rate))}/s"
        )
        self.out.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.stderr.write("\r\033[K")
            self.out.stderr.flush()


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Settings:
    upload: bool
    local: str
    bucket: str
    prefix: str
    delete: bool
    excludes: list[str]
    dry_run: bool
    jobs: int

    @property
    def remote(self) -> str:
        return s3_url(self.bucket, self.prefix)

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel


def settings(ctx, upload: bool) -> Settings:
    """Flags and configuration, every missing or malformed key reported at once."""
    args = ctx.args
    cfg = ctx.cfg
    required = () if args.remote else ("S3_BUCKET",)
    cfg.require(*required, optional=("S3_PREFIX", "RESULTS_PREFIX", "EXPERIMENTS_DIR", "RESULTS_DIR"))
    if args.remote:
        bucket, prefix = parse_s3_url(args.remote)
    else:
        # Results live beside the experiments (s3://BUCKET/results), not under them, so that
        # `sync-to-s3 --delete` can never remove them.
        key, default = ("S3_PREFIX", "experiments") if upload else ("RESULTS_PREFIX", "results")
        bucket, prefix = parse_s3_url(f"s3://{cfg['S3_BUCKET']}/{cfg.get(key) or default}")
    if args.local:  # a flag is relative to where the user is; configuration to the project folder
        local = os.path.abspath(os.path.expanduser(args.local))
    else:
        key, default = ("EXPERIMENTS_DIR", "experiments") if upload else ("RESULTS_DIR", "results")
        local = str(cfg.path(cfg.get(key) or default))
    jobs = getattr(args, "jobs", None)
    jobs = DEFAULT_JOBS if jobs is None else jobs
    if not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs {jobs} is out of range", hint=f"use 1 to {MAX_JOBS}")
    excludes = [*DEFAULT_EXCLUDES, *args.exclude]
    return Settings(upload, local, bucket, prefix, bool(args.delete), excludes, bool(args.dry_run), jobs)


def to_s3(ctx) -> int:
    """sync-to-s3: EXPERIMENTS_DIR (or --local) -> s3://S3_BUCKET/S3_PREFIX/ (or --remote)."""
    return Sync(ctx, settings(ctx, upload=True)).run()


def from_s3(ctx) -> int:
    """sync-from-s3: s3://S3_BUCKET/RESULTS_PREFIX/ (or --remote) -> RESULTS_DIR (or --local)."""
    return Sync(ctx, settings(ctx, upload=False)).run()


class Sync:
    def __init__(self, ctx, s: Settings):
        self.ctx = ctx
        self.s = s
        self.out = ctx.out
        self.excluder = Excluder(s.excludes)
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.copied_bytes = 0
        self.copied: list[str] = []
        self.lock = threading.Lock()
        self.progress = None
        self._new_etags: set[str] = set()
        # What the transfer manager's own requests answered, by key: CompleteMultipartUpload's ETag
        # (an upload needs no HEAD to learn it) and the first ranged GET's headers (the object's
        # sha256 metadata, so a download needs no HEAD either).
        self._answers: dict[str, dict] = {}

    # -- set-up --------------------------------------------------------------------------------

    def _check_local(self) -> None:
        s = self.s
        if os.path.isdir(s.local):
            return
        if os.path.exists(s.local):
            raise UsageError(f"{s.local} is not a folder", hint="give --local a folder")
        if s.upload:
            hint = "create it, or set EXPERIMENTS_DIR / --local to the folder to upload"
            raise UsageError(f"local folder {s.local} does not exist", hint=hint)
        if not s.dry_run:
            try:
                os.makedirs(s.local, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create {s.local}: {exc.strerror}") from None

    def _client(self, for_manager: bool = False):
        aws = self.ctx.aws
        # One connection per worker, plus the transfer manager's; a smaller pool makes urllib3
        # discard and reopen connections.
        aws.max_pool_connections = max(getattr(aws, "max_pool_connections", 10), 2 * self.s.jobs + 2)
        from botocore.config import Config as BotoConfig

        # A fixed User-Agent: botocore otherwise rebuilds its structured one (os, language, feature
        # ids) twice per request, 10% of the client's CPU per small PUT.
        extra = {"user_agent": _user_agent()}
        # We hand S3 our own SHA256 on upload and check downloads ourselves: botocore's default
        # CRC32 on every request (1.36+) would hash each body a second time.
        if "request_checksum_calculation" in getattr(BotoConfig, "OPTION_DEFAULTS", {}):
            extra.update(request_checksum_calculation="when_required", response_checksum_validation="when_required")
        if for_manager:
            # The transfer manager's own client: every body it sends is a part with a signed
            # x-amz-checksum-sha256 header (S3 checks it) or CompleteMultipartUpload's part list
            # (whose outcome the ETag check verifies). Over https botocore then leaves the payload
            # unsigned by itself; over http (the local stack, MinIO) it would hash every part a
            # second time for the signature: 0.3 s of CPU per 256 MiB, 13% of an upload on moto.
            return aws.client("s3", lean=True, s3={"payload_signing_enabled": False}, **extra)
        # A plain botocore client: boto3 (and the s3transfer it imports) would cost a no-change sync
        # 60-80 ms of start-up; the transfer manager is made from s3transfer itself when needed.
        client = aws.client("s3", lean=True, **extra)
        client.meta.events.register_first("before-parse.s3.ListObjectsV2", lean_listing, unique_id="batchdeploy-lean")
        client.meta.events.register("before-sign.s3.PutObject", _no_expect_for_small, unique_id="batchdeploy-expect")
        client.meta.events.register("before-parse.s3.GetObject", _skip_last_modified, unique_id="batchdeploy-lastmod")
        return client

    def _warn(self, text: str) -> None:
        if self.progress is not None:
            with self.progress.lock:
                if self.progress.enabled:
                    self.out.stderr.write("\r\033[K")
                self.out.warn(text)
        else:
            self.out.warn(text)

    def _avoid(self) -> frozenset:
        """The state folder and the configuration file, if they sit inside the synced folder."""
        cfg = self.ctx.cfg
        paths = {str(cfg.state_dir())}
        if getattr(cfg, "env_file", None):
            paths.add(str(cfg.env_file))
        return frozenset(paths)

    def _local_side(self):
        s = self.s
        scan = (
            scan_local(s.local, self.excluder, self._warn, self._avoid())
            if os.path.isdir(s.local)
            else Scan({}, set(), [], [])
        )
        cache = hashcache.HashCache(self.ctx.state.folder, os.path.realpath(s.local), s.remote)
        unreadable = list(scan.unreadable)
        if s.upload:
            unreadable += hash_files(scan.files, list(scan.files), cache, self.stop)
        return scan, cache, unreadable

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> int:
        s = self.s
        ctx = self.ctx
        started = ctx.clock()
        self._check_local()
        # The local side needs no AWS. A first upload of a folder hashes every file: that starts at
        # once, beside the making of the S3 client (botocore's imports and model, ~0.3 s; hashlib
        # lets go of the GIL). A repeat sync mostly reads its hash cache: that Python work would
        # only slow the client down (one GIL), so it waits and runs while the listing waits on S3.
        cache_path = hashcache.HashCache.path_for(ctx.state.folder, os.path.realpath(s.local), s.remote)
        first = s.upload and not os.path.exists(cache_path)
        early = ThreadPoolExecutor(2, thread_name_prefix="sync-early")
        try:
            local_side = early.submit(self._local_side) if first else None
            client = self._client()
            listing = early.submit(list_remote, client, s.bucket, s.prefix)
            if local_side is None:
                local_side = early.submit(self._local_side)
            # A failed listing (no such bucket, access denied) is reported without waiting for the hashing.
            wait((listing, local_side), return_when=FIRST_EXCEPTION)
            if listing.done():
                listing.result()
            scan, cache, unreadable = local_side.result()
            remote, pages = listing.result()
        except BaseException:
            self.stop.set()  # the hashing stops at the next file; the error is not kept waiting
            early.shutdown(wait=False, cancel_futures=True)
            raise
        early.shutdown()
        local = scan.files
        seen_etags = {r.etag for r in remote.values()}
        if not s.upload:
            need = [rel for rel, f in local.items() if rel in remote and remote[rel].size == f.st.st_size]
            unreadable += hash_files(local, need, cache, need_etag=False)
        if unreadable:
            shown = "; ".join(f"{rel}: {why}" for rel, why in unreadable[:5])
            more = f" (and {len(unreadable) - 5} more)" if len(unreadable) > 5 else ""
            raise UsageError(
                f"cannot read {len(unreadable)} local path{'s' if len(unreadable) > 1 else ''}: {shown}{more}",
                hint="fix the permissions or --exclude them; nothing was copied or deleted",
            )
        protected = set(scan.skipped)
        if not s.upload:
            for rel in list(remote):
                if self.excluder.excluded(rel):
                    del remote[rel]
                elif not safe_relkey(rel):
                    self._warn(f"{s.key(rel)}: the key cannot be a local file name; skipped")
                    del remote[rel]
        else:
            remote_all = remote
            remote = {rel: r for rel, r in remote_all.items() if not self.excluder.excluded(rel)}

        source, target = (local, remote) if s.upload else (remote, local)
        plan = make_plan(source, target, s.upload, cache.etags, self.excluder, protected, s.delete)
        if plan.ask:
            self._ask(client, plan, local, remote, cache)

        if not s.upload and not s.dry_run:
            for path in scan.stale_tmp:  # left by a download that was killed (SIGKILL, power loss)
                try:
                    os.unlink(path)
                except OSError:
                    pass
        nbytes = sum((local[r].st.st_size if s.upload else remote[r].size) for r in plan.copy)
        if s.dry_run:
            return self._report_dry(plan, nbytes)

        verb = "upload" if s.upload else "download"
        if plan.copy or plan.delete:
            self.out.note(f"{verb} {s.local if s.upload else s.remote} -> {s.remote if s.upload else s.local}")
        self.progress = Progress(self.out, len(plan.copy), nbytes)
        restore = self._trap_sigterm()
        try:
            self._transfer(client, plan.copy, local, remote, cache)
        finally:
            self.progress.close()
            restore()
            cache.save(seen_etags | self._new_etags)
        if self.failures:
            first = self.failures[0]
            more = f" (and {len(self.failures) - 1} more, listed above)" if len(self.failures) > 1 else ""
            untried = len(plan.copy) - len(self.failures) - len(self.copied)
            if untried > 0:
                more += f"; {untried:,} more not tried after that"
            raise OperationError(
                f"{len(self.failures)} of {len(plan.copy)} transfers failed: {first}{more}",
                hint="nothing was deleted; run again to retry (what did copy is kept)",
            )
        deleted = self._delete(client, plan.delete, local, cache) if plan.delete else 0
        cache.save(seen_etags | self._new_etags)
        seconds = ctx.clock() - started
        line = summary_line(verb + "ed", len(self.copied), self.copied_bytes, deleted, plan.unchanged, seconds, False)
        if self.out.json:
            self.out.emit_json(
                {
                    "direction": verb,
                    "local": s.local,
                    "remote": s.remote,
                    "copied": sorted(self.copied),
                    "bytes": self.copied_bytes,
                    "deleted": deleted,
                    "unchanged": plan.unchanged,
                    "list_requests": pages,
                    "seconds": round(seconds, 3),
                }
            )
        else:
            self.out.result(line)
        return 0

    def _report_dry(self, plan: Plan, nbytes: int) -> int:
        s = self.s
        verb = "upload" if s.upload else "download"
        if self.out.json:
            self.out.emit_json(
                {
                    "direction": verb,
                    "dry_run": True,
                    "local": s.local,
                    "remote": s.remote,
                    "copy": plan.copy,
                    "delete": plan.delete,
                    "bytes": nbytes,
                    "unchanged": plan.unchanged,
                }
            )
            return 0
        for rel in plan.copy:
            self.out.result(f"would {verb} {rel}")
        for rel in plan.delete:
            where = f"s3://{s.bucket}/{s.key(rel)}" if s.upload else os.path.join(s.local, rel)
            self.out.result(f"would delete {where}")
        self.out.result(summary_line(verb, len(plan.copy), nbytes, len(plan.delete), plan.unchanged, 0, True))
        return 0

    def _trap_sigterm(self):
        """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so temporary files and multipart
        uploads are cleaned up."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGTERM, interrupt)
        return lambda: signal.signal(signal.SIGTERM, old)

    def _ask(self, client, plan: Plan, local, remote, cache) -> None:
        """Large objects whose ETag we have never seen: one HEAD each, the stored sha256 decides."""

        def head(rel):
            with aws_call(f"read the metadata of {self.s.key(rel)}", self.s.bucket):
                h = client.head_object(Bucket=self.s.bucket, Key=self.s.key(rel))
            return rel, h.get("ETag", "").strip('"'), (h.get("Metadata") or {}).get("sha256")

        with ThreadPoolExecutor(self.s.jobs) as pool:
            for rel, etag, sha in pool.map(head, plan.ask):
                if sha and etag == remote[rel].etag:
                    cache.learn(etag, sha)
                if sha and sha == local[rel].sha256 and etag == remote[rel].etag:
                    plan.unchanged += 1
                else:
                    plan.copy.append(rel)
        plan.copy.sort()
        plan.ask = []

    # -- transfers ------------------------------------------------------------------------------

    def _transfer(self, client, rels, local, remote, cache) -> None:
        if not rels:
            return
        s = self.s
        threshold = hashcache.MULTIPART_THRESHOLD
        size = (lambda r: local[r].st.st_size) if s.upload else (lambda r: remote[r].size)
        large = [r for r in rels if size(r) >= threshold]
        manager_client = self._client(for_manager=True) if large else None
        manager = self._manager(manager_client) if large else None
        hooks = self._hooks(s.upload) if large else []
        for event, hook in hooks:
            manager_client.meta.events.register(event, hook)
        pool = ThreadPoolExecutor(s.jobs, thread_name_prefix="sync")
        one = self._upload_one if s.upload else self._download_one
        try:
            # Large files first: their parts then overlap with the many small files.
            order = sorted(rels, key=lambda r: size(r) < threshold)
            futures = {pool.submit(one, client, manager, rel, local, remote, cache): rel for rel in order}
            for future in as_completed(futures):
                future.result()
        except BaseException as exc:
            self.stop.set()
            if isinstance(exc, KeyboardInterrupt):
                self._warn("interrupted: cancelling the transfers in flight (multipart uploads are aborted)")
            if manager is not None:
                # Cancel the manager's transfers first (their multipart uploads are aborted), so the
                # pool's threads waiting on them return. TransferManager.shutdown(cancel=True) passes
                # its arguments in the wrong order (s3transfer 0.19); the context-manager exit is the
                # path s3transfer itself uses.
                manager.__exit__(type(exc), exc, exc.__traceback__)
                manager = None
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
            if manager is not None:
                manager.shutdown()
            for event, hook in hooks:
                manager_client.meta.events.unregister(event, hook)

    def _hooks(self, upload: bool):
        answers, lock = self._answers, self.lock

        def completed(parsed, **kwargs):
            if parsed.get("Key") and parsed.get("ETag"):
                with lock:
                    answers[parsed["Key"]] = {k: parsed[k] for k in ("ETag", "ServerSideEncryption") if k in parsed}

        def asked(params, context, **kwargs):
            context["batchdeploy_key"] = params.get("Key")

        def got(parsed, context, **kwargs):
            key = context.get("batchdeploy_key")
            if key and parsed.get("ContentRange") and parsed.get("ETag"):
                fields = ("ETag", "Metadata", "ContentRange", "ServerSideEncryption", "SSECustomerAlgorithm")
                with lock:
                    answers.setdefault(key, {k: parsed[k] for k in fields if k in parsed})

        if upload:
            return [("after-call.s3.CompleteMultipartUpload", completed)]
        return [("provide-client-params.s3.GetObject", asked), ("after-call.s3.GetObject", got)]

    def _answer(self, key: str) -> dict | None:
        with self.lock:
            return self._answers.pop(key, None)

    def _manager(self, client):
        from s3transfer.manager import TransferConfig, TransferManager

        config = TransferConfig(
            multipart_threshold=hashcache.MULTIPART_THRESHOLD,
            multipart_chunksize=hashcache.PART_SIZE,
            max_request_concurrency=self.s.jobs,
            max_io_queue_size=100,  # boto3's default (s3transfer's own, 1,000, buffers up to 256 MB)
        )
        return TransferManager(client, config)

    def _failed(self, rel: str, exc: BaseException | str) -> None:
        from batchdeploy.aws import convert, error_code

        if isinstance(exc, str):
            line = exc
        elif isinstance(exc, BatchdeployError):
            line = exc.line()
            if getattr(exc, "code", "") in FATAL_CODES:
                self.stop.set()
        else:
            ours = convert(exc, f"{'upload' if self.s.upload else 'download'} {rel}")
            line = ours.line() if ours is not None else f"{rel}: {exc}"
            if error_code(exc) in FATAL_CODES:
                self.stop.set()
        with self.lock:
            self.failures.append(line)
        self._warn(line)

    def _done(self, rel: str, nbytes: int, what: str) -> None:
        with self.lock:
            self.copied.append(rel)
            self.copied_bytes += nbytes
        if self.progress is not None:
            self.progress.line(f"{what}: {rel}")
            self.progress.file_done()

    def _subscriber(self):
        from s3transfer.subscribers import BaseSubscriber

        progress = self.progress

        class Bytes(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):
                progress.add_bytes(bytes_transferred)

        return Bytes()

    def _upload_one(self, client, manager, rel, local, remote, cache) -> None:
        if self.stop.is_set():
            return
        s = self.s
        f = local[rel]
        key = s.key(rel)
        extra = {}
        ctype = _content_type(rel)
        if ctype:
            extra["ContentType"] = ctype
        try:
            if f.st.st_size >= hashcache.MULTIPART_THRESHOLD and manager is not None:
                etag = self._upload_large(client, manager, rel, f, key, extra)
                sha = f.sha256
                nbytes = f.st.st_size
            else:
                etag, sha, nbytes = self._upload_small(client, rel, f, key, extra)
        except Exception as exc:  # noqa: BLE001 - reported per file; the run fails at the end
            self._failed(rel, exc)
            return
        if etag is None:
            return
        cache.learn(etag, sha)
        with self.lock:
            self._new_etags.add(etag)
        self._done(rel, nbytes, "upload")

    def _upload_small(self, client, rel, f: Local, key, extra):
        import hashlib

        try:
            with open(f.path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            self._failed(rel, f"cannot read {rel}: {exc.strerror}")
            return None, None, 0
        digest = hashlib.sha256(data).digest()
        sha = digest.hex()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if sha != f.sha256:
            f.sha256 = None  # changed since it was hashed: what we send is what we record
        for attempt in (1, 2):
            with aws_call(f"upload {rel}", self.s.bucket):
                resp = client.put_object(
                    Bucket=self.s.bucket,
                    Key=key,
                    Body=data,
                    Metadata={"sha256": sha},
                    ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                    **extra,
                )
            etag = resp.get("ETag", "").strip('"')
            if not _etag_is_md5(resp) or etag == md5:
                if self.progress is not None:
                    self.progress.add_bytes(len(data))
                return etag, sha, len(data)
            if attempt == 2:
                # S3 verified our SHA256 (moto does not): an ETag that is not our MD5 means the bytes
                # stored are not the file's. The object must not keep a sha256 that lies.
                with aws_call(f"remove the damaged upload of {rel}", self.s.bucket):
                    client.delete_object(Bucket=self.s.bucket, Key=key)
                self._failed(rel, f"upload of {rel} arrived damaged twice (ETag {etag} is not the MD5 {md5})")
                return None, None, 0
        return None, None, 0  # pragma: no cover

    def _upload_large(self, client, manager, rel, f: Local, key, extra):
        args = {"Metadata": {"sha256": f.sha256}, "ChecksumAlgorithm": "SHA256", **extra}
        subs = [self._subscriber()] if self.progress is not None and self.progress.enabled else []
        future = manager.upload(f.path, self.s.bucket, key, extra_args=args, subscribers=subs)
        with aws_call(f"upload {rel}", self.s.bucket):
            future.result()
        head = self._answer(key)
        if head is None:  # not a multipart upload after all: ask
            with aws_call(f"check the upload of {rel}", self.s.bucket):
                head = client.head_object(Bucket=self.s.bucket, Key=key)
        etag = head.get("ETag", "").strip('"')
        if etag != f.etag and _etag_is_md5(head, multipart_ok=True):
            # The file changed between hashing and upload (or the bytes were damaged): the object's
            # sha256 would lie about its content, so it goes.
            with aws_call(f"remove the inconsistent upload of {rel}", self.s.bucket):
                client.delete_object(Bucket=self.s.bucket, Key=key)
            self._failed(rel, f"{rel} changed while it was being uploaded (or arrived damaged); run again")
            return None
        return etag

    def _download_one(self, client, manager, rel, local, remote, cache) -> None:
        if self.stop.is_set():
            return
        s = self.s
        r = remote[rel]
        target = os.path.join(s.local, *rel.split("/"))
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if r.size >= hashcache.MULTIPART_THRESHOLD and manager is not None:
                result = self._download_large(client, manager, rel, r, target)
            else:
                result = self._download_small(client, rel, target)
        except Exception as exc:  # noqa: BLE001 - reported per file; the run fails at the end
            self._failed(rel, exc)
            return
        if result is None:
            return
        etag, sha, nbytes, md5etag = result
        cache.learn(etag, sha)
        with self.lock:
            self._new_etags.add(etag)
        try:
            st = os.stat(target)
            cache.store(rel, hashcache.stat_key(st), sha, md5etag)
        except OSError:
            pass
        self._done(rel, nbytes, "download")

    def _tmp_path(self, target: str) -> str:
        folder, name = os.path.split(target)
        return os.path.join(folder, f".{name}.{os.urandom(4).hex()}{TMP_SUFFIX}")

    def _download_small(self, client, rel, target):
        import hashlib

        from botocore.exceptions import BotoCoreError

        key = self.s.key(rel)
        last = ""
        for _attempt in range(3):
            if self.stop.is_set():
                return None
            tmp = self._tmp_path(target)
            try:
                with aws_call(f"download {rel}", self.s.bucket):
                    resp = client.get_object(Bucket=self.s.bucket, Key=key)
                sha = hashlib.sha256()
                md5 = hashlib.md5(usedforsecurity=False)
                n = 0
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                with os.fdopen(fd, "wb") as fh:
                    for chunk in resp["Body"].iter_chunks(1 << 20):
                        fh.write(chunk)
                        sha.update(chunk)
                        md5.update(chunk)
                        n += len(chunk)
                        if self.progress is not None:
                            self.progress.add_bytes(len(chunk))
                etag = resp.get("ETag", "").strip('"')
                problem = _verify(resp, n, sha.hexdigest(), md5.hexdigest())
                if problem is None:
                    os.replace(tmp, target)
                    return etag, sha.hexdigest(), n, md5.hexdigest()
                last = f"download of {rel} failed its check: {problem}"
            except (BotoCoreError, ConnectionError) as exc:
                # A connection cut mid-body: try again from the start.
                last = f"cannot download {rel}: {exc}"
            finally:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
        self._failed(rel, last)
        return None

    def _download_large(self, client, manager, rel, r: Remote, target):
        key = self.s.key(rel)
        tmp = self._tmp_path(target)
        subs = [self._subscriber()] if self.progress is not None and self.progress.enabled else []
        try:
            future = manager.download(self.s.bucket, key, tmp, subscribers=subs)
            with aws_call(f"download {rel}", self.s.bucket):
                future.result()
            # The ranged GETs carried the object's headers (all of one version: s3transfer sends
            # IfMatch with the first part's ETag); a HEAD is only a fallback.
            head = self._answer(key)
            if head is not None and "/" in (head.get("ContentRange") or ""):
                head["ContentLength"] = int(head["ContentRange"].rsplit("/", 1)[1])
            else:
                with aws_call(f"read the metadata of {rel}", self.s.bucket):
                    head = client.head_object(Bucket=self.s.bucket, Key=key)
            st = os.stat(tmp)
            # The sha256 is the check; the MD5s of the upload ETag (60% of the hashing) are left
            # out: only a later upload of this file would need them, and it reads them then.
            sha, etag_local, _ = hashcache.hash_file(tmp, st.st_size, etag=False)
            head["ContentLength"] = head.get("ContentLength", r.size)
            md5 = etag_local
            if not (head.get("Metadata") or {}).get("sha256") and _etag_is_md5(head):
                md5 = _md5_file(tmp)  # a single-part object of another tool: its ETag is the MD5
            problem = _verify(head, st.st_size, sha, md5)
            if problem is not None:
                self._failed(rel, f"download of {rel} failed its check: {problem}")
                return None
            os.replace(tmp, target)
            return head.get("ETag", "").strip('"'), sha, st.st_size, etag_local
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    # -- deletes --------------------------------------------------------------------------------

    def _delete(self, client, rels, local, cache) -> int:
        s = self.s
        if s.upload:
            done = 0
            for i in range(0, len(rels), 1000):
                batch = rels[i : i + 1000]
                with aws_call(f"delete from {s.remote}", s.bucket):
                    resp = client.delete_objects(
                        Bucket=s.bucket, Delete={"Objects": [{"Key": s.key(r)} for r in batch], "Quiet": True}
                    )
                errors = resp.get("Errors") or []
                for err in errors:
                    self._warn(f"cannot delete {err.get('Key')}: {err.get('Code')}: {err.get('Message')}")
                done += len(batch) - len(errors)
                for rel in batch:
                    self.out.note(f"delete: {s.remote}{rel}")
                if errors:
                    raise OperationError(f"{len(errors)} deletions were refused", hint="see the lines above")
            return done
        done = 0
        folders = set()
        for rel in rels:
            path = local[rel].path
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise OperationError(f"cannot delete {path}: {exc.strerror}") from None
            cache.forget(rel)
            done += 1
            self.out.note(f"delete: {rel}")
            folders.add(os.path.dirname(path))
        # Folders the deletions left empty go too (never the synced folder itself).
        root = os.path.realpath(s.local)
        for folder in sorted(folders, key=len, reverse=True):
            while os.path.realpath(folder) != root and folder.startswith(s.local):
                try:
                    os.rmdir(folder)
                except OSError:
                    break
                folder = os.path.dirname(folder)
        return done


def _etag_is_md5(resp, multipart_ok: bool = False) -> bool:
    """Whether S3's ETag is a digest of the bytes (not under SSE-KMS or SSE-C, where it is not)."""
    if resp.get("ServerSideEncryption", "").startswith("aws:kms") or resp.get("SSECustomerAlgorithm"):
        return False
    etag = resp.get("ETag", "").strip('"')
    return bool(_MD5_ETAG.match(etag)) or (multipart_ok and bool(re.match(r"^[0-9a-f]{32}-\d+$", etag)))


def _verify(resp, n: int, sha: str, md5: str) -> str | None:
    """None when the bytes received are the object's: size, then the sha256 we stored at upload, or
    else a single-part MD5 ETag."""
    expected = resp.get("ContentLength")
    if expected is not None and expected != n:
        return f"{n} bytes received, {expected} expected"
    stored = (resp.get("Metadata") or {}).get("sha256")
    if stored:
        return None if stored == sha else f"sha256 {sha} is not the stored {stored}"
    etag = resp.get("ETag", "").strip('"')
    if _etag_is_md5(resp):
        return None if etag == md5 else f"MD5 {md5} is not the ETag {etag}"
    # Another tool's multipart upload without our sha256: its part size is unknown, so the size
    # is all there is to check.
    return None


def _md5_file(path: str) -> str:
    import hashlib

    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


# botocore asks for "Expect: 100-continue" on every PutObject: one more round trip (the server's
# "100 Continue") before the body is sent. It spares sending a large body that would be refused;
# below this size the round trip costs more than the body (the Go SDK, s5cmd's, draws the line at 2 MB).
EXPECT_SIZE = 2 * 1024 * 1024


def _no_expect_for_small(request, **kwargs):
    if "Expect" in request.headers:
        from botocore.utils import determine_content_length

        size = determine_content_length(request.body)
        if size is not None and size < EXPECT_SIZE:
            del request.headers["Expect"]


def _skip_last_modified(response_dict, **kwargs):
    """botocore parses GetObject's Last-Modified with dateutil: 10% of the client's CPU per small
    download, for a value nothing here reads."""
    headers = response_dict.get("headers")
    if headers is not None and "last-modified" in headers:
        del headers["last-modified"]


def _user_agent() -> str:
    import platform

    import botocore

    from batchdeploy import __version__

    return (
        f"batchdeploy/{__version__} Botocore/{botocore.__version__} Python/{platform.python_version()} "
        f"{platform.system()}/{platform.release()}"
    )


_MIME = None


def _content_type(rel: str) -> str | None:
    global _MIME
    if _MIME is None:
        import mimetypes

        _MIME = mimetypes
    return _MIME.guess_type(rel)[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `batchdeploy sync-to-s3` or `batchdeploy sync-from-s3`")

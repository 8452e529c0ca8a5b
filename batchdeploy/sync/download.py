"""One object down: into a temporary file beside the target, checked (size, then the stored sha256 or
an MD5 ETag), and only then renamed into place. Large objects go through s3transfer's ranged GETs."""

from __future__ import annotations

import hashlib
import os

from batchdeploy.errors import OperationError
from batchdeploy.sync import hashcache
from batchdeploy.sync.calls import aws_call
from batchdeploy.sync.scan import TMP_SUFFIX
from batchdeploy.sync.verify import etag_is_md5, md5_file, verify


def download_one(t, client, manager, rel, local, remote, cache) -> None:
    """`t` is the run's Transfers: options, tally, failures."""
    if t.stop.is_set():
        return
    r = remote[rel]
    target = os.path.join(t.opts.local, *rel.split("/"))
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if r.size >= hashcache.MULTIPART_THRESHOLD and manager is not None:
            result = download_large(t, client, manager, rel, r, target)
        else:
            result = download_small(t, client, rel, target)
    except Exception as exc:  # noqa: BLE001 - reported per file; the run fails at the end
        t.failed(rel, exc)
        return
    if result is None:
        return
    etag, sha, nbytes, md5etag = result
    cache.learn(etag, sha)
    try:
        st = os.stat(target)
        cache.store(rel, hashcache.stat_key(st), sha, md5etag)
    except OSError:
        pass
    t.done(rel, nbytes, "download", etag)


def tmp_path(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{os.urandom(4).hex()}{TMP_SUFFIX}")


def download_small(t, client, rel, target):
    """(ETag, sha256, bytes, MD5) of a checked GetObject, or None after reporting the failure."""
    from botocore.exceptions import BotoCoreError

    last = ""
    for _attempt in range(3):
        if t.stop.is_set():
            return None
        tmp = tmp_path(target)
        try:
            with aws_call(f"download {rel}", t.opts.bucket):
                resp = client.get_object(Bucket=t.opts.bucket, Key=t.opts.key(rel))
            n, sha, md5 = _write_body(t, resp["Body"], tmp)
            problem = verify(resp, n, sha, md5)
            if problem is None:
                os.replace(tmp, target)
                return resp.get("ETag", "").strip('"'), sha, n, md5
            last = f"download of {rel} failed its check: {problem}"
        except (BotoCoreError, ConnectionError) as exc:
            # A connection cut mid-body: try again from the start.
            last = f"cannot download {rel}: {exc}"
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
    t.failed(rel, last)
    return None


def _write_body(t, body, tmp: str) -> tuple[int, str, str]:
    """Stream a GetObject body into a new file: (bytes, sha256, MD5)."""
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    n = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as fh:
        for chunk in body.iter_chunks(1 << 20):
            fh.write(chunk)
            sha.update(chunk)
            md5.update(chunk)
            n += len(chunk)
            t.add_bytes(len(chunk))
    return n, sha.hexdigest(), md5.hexdigest()


def download_large(t, client, manager, rel, r, target):
    """Ranged GETs through the transfer manager. The listing's size and ETag are handed to it (no HEAD
    before), and the first ranged GET's headers carry the object's sha256 (no HEAD after).

    The manager writes into a file we opened, never a file name: given a name, s3transfer writes to
    a temporary name of its own (`NAME.RANDOM`), which a SIGKILL would leave behind under a name
    only s3transfer knows. Ours is `.NAME.XXXXXXXX.bdpart`, which the next run removes first."""
    from batchdeploy.sync.subscribers import KnownObject

    key = t.opts.key(rel)
    tmp = tmp_path(target)
    subs = [KnownObject(r.size, r.etag), *t.subscribers()]
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as fh:
            future = manager.download(t.opts.bucket, key, fh, subscribers=subs)
            with aws_call(f"download {rel}", t.opts.bucket):
                _result(future, rel)
        head = _object_headers(t, client, rel, key)
        st = os.stat(tmp)
        # The sha256 is the check; the MD5s of the upload ETag (60% of the hashing) are left
        # out: only a later upload of this file would need them, and it reads them then.
        sha, etag_local, _ = hashcache.hash_file(tmp, st.st_size, etag=False)
        head["ContentLength"] = head.get("ContentLength", r.size)
        md5 = etag_local
        if not (head.get("Metadata") or {}).get("sha256") and etag_is_md5(head):
            md5 = md5_file(tmp)  # a single-part object of another tool: its ETag is the MD5
        problem = verify(head, st.st_size, sha, md5)
        if problem is not None:
            t.failed(rel, f"download of {rel} failed its check: {problem}")
            return None
        os.replace(tmp, target)
        return head.get("ETag", "").strip('"'), sha, st.st_size, etag_local
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _result(future, rel: str) -> None:
    """The transfer's outcome. s3transfer gives up on a body cut again and again with its own
    RetriesExceededError ("Max Retries Exceeded"): said here as the connection failure it was."""
    from s3transfer.exceptions import RetriesExceededError

    try:
        future.result()
    except RetriesExceededError as exc:
        last = exc.last_exception
        raise OperationError(
            f"cannot download {rel}: the connection failed on every try ({type(last).__name__}: {last})",
            hint="check the network and the endpoint, then run again (what did copy is kept)",
        ) from None


def _object_headers(t, client, rel, key) -> dict:
    """The ranged GETs carried the object's headers (all of one version: each sends If-Match with
    the ETag); a HEAD is only a fallback."""
    head = t.answers.pop(key)
    if head is not None and "/" in (head.get("ContentRange") or ""):
        head["ContentLength"] = int(head["ContentRange"].rsplit("/", 1)[1])
        return head
    with aws_call(f"read the metadata of {rel}", t.opts.bucket):
        return client.head_object(Bucket=t.opts.bucket, Key=key)

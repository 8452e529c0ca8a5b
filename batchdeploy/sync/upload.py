"""One file up: a PutObject below 8 MiB, s3transfer's multipart upload from there; either way the
object carries the file's sha256 and its ETag is checked against the MD5s computed while hashing."""

from __future__ import annotations

import base64
import hashlib

from batchdeploy.sync.calls import aws_call
from batchdeploy.sync.hashcache import MULTIPART_THRESHOLD
from batchdeploy.sync.verify import content_type, etag_is_md5


def upload_one(t, client, manager, rel, local, remote, cache) -> None:
    """`t` is the run's Transfers: options, tally, failures."""
    if t.stop.is_set():
        return
    f = local[rel]
    key = t.opts.key(rel)
    extra = {}
    ctype = content_type(rel)
    if ctype:
        extra["ContentType"] = ctype
    try:
        if f.st.st_size >= MULTIPART_THRESHOLD and manager is not None:
            etag = upload_large(t, client, manager, rel, f, key, extra)
            sha, nbytes = f.sha256, f.st.st_size
        else:
            etag, sha, nbytes = upload_small(t, client, rel, f, key, extra)
    except Exception as exc:  # noqa: BLE001 - reported per file; the run fails at the end
        t.failed(rel, exc)
        return
    if etag is None:
        return
    cache.learn(etag, sha)
    t.done(rel, nbytes, "upload", etag)


def upload_small(t, client, rel, f, key, extra):
    """(ETag, sha256, bytes) of a checked PutObject, or (None, None, 0) after reporting the failure."""
    try:
        with open(f.path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        t.failed(rel, f"cannot read {rel}: {exc.strerror}")
        return None, None, 0
    digest = hashlib.sha256(data).digest()
    sha = digest.hex()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if sha != f.sha256:
        f.sha256 = None  # changed since it was hashed: what we send is what we record
    bucket = t.opts.bucket
    for attempt in (1, 2):
        with aws_call(f"upload {rel}", bucket):
            resp = client.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                Metadata={"sha256": sha},
                ChecksumSHA256=base64.b64encode(digest).decode("ascii"),
                **extra,
            )
        etag = resp.get("ETag", "").strip('"')
        if not etag_is_md5(resp) or etag == md5:
            t.add_bytes(len(data))
            return etag, sha, len(data)
        if attempt == 2:
            # S3 verified our SHA256 (moto does not): an ETag that is not our MD5 means the bytes
            # stored are not the file's. The object must not keep a sha256 that lies.
            with aws_call(f"remove the damaged upload of {rel}", bucket):
                client.delete_object(Bucket=bucket, Key=key)
            t.failed(rel, f"upload of {rel} arrived damaged twice (ETag {etag} is not the MD5 {md5})")
            return None, None, 0
    return None, None, 0  # pragma: no cover


def upload_large(t, client, manager, rel, f, key, extra):
    """The multipart upload's ETag (from CompleteMultipartUpload's answer: no HEAD), or None after
    removing an object whose bytes are not the ones hashed."""
    bucket = t.opts.bucket
    args = {"Metadata": {"sha256": f.sha256}, "ChecksumAlgorithm": "SHA256", **extra}
    future = manager.upload(f.path, bucket, key, extra_args=args, subscribers=t.subscribers())
    with aws_call(f"upload {rel}", bucket):
        future.result()
    head = t.answers.pop(key)
    if head is None:  # not a multipart upload after all: ask
        with aws_call(f"check the upload of {rel}", bucket):
            head = client.head_object(Bucket=bucket, Key=key)
    etag = head.get("ETag", "").strip('"')
    if etag != f.etag and etag_is_md5(head, multipart_ok=True):
        # The file changed between hashing and upload (or the bytes were damaged): the object's
        # sha256 would lie about its content, so it goes.
        with aws_call(f"remove the inconsistent upload of {rel}", bucket):
            client.delete_object(Bucket=bucket, Key=key)
        t.failed(rel, f"{rel} changed while it was being uploaded (or arrived damaged); run again")
        return None
    return etag

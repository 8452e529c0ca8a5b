"""`-f` files and each task's TRANSFER_INPUT_FILES, sent to `<bucket>/<key prefix><basename>` once.

Content-addressed through the sync code: one listing of the key prefix (sync.remote.list_remote, one
request per 1,000 keys), and a file whose size and MD5 match the object's ETag (sync.plan.same_content)
is not sent again, so a second run of an unchanged bag uploads nothing. What is sent carries its
sha256 as sync's uploads do. Basenames were checked unique before (submitfile: colliding basenames are
refused), so no upload replaces another of the same run.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from batchdeploy.bags.names import S3Location
from batchdeploy.sync.calls import aws_call
from batchdeploy.sync.plan import same_content
from batchdeploy.sync.remote import list_remote

MAX_PUT = 5 * 1024**3  # one PutObject; pegasus's inputs are scripts and small data


@dataclass
class Sent:
    uploaded: list[str]
    unchanged: list[str]
    requests: int


def _digests(path: Path) -> tuple[str, str, int]:
    sha, md5, n = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
            md5.update(block)
            n += len(block)
    return sha.hexdigest(), md5.hexdigest(), n


def upload(s3, where: S3Location, files: dict[str, Path]) -> Sent:
    """Every `basename -> local file` at `where`, unless the object there holds the same bytes."""
    if not files:
        return Sent([], [], 0)
    remote, pages = list_remote(s3, where.bucket, where.key_prefix.rstrip("/"))
    uploaded, unchanged = [], []
    for name, path in sorted(files.items()):
        sha, md5, size = _digests(path)
        there = remote.get(name)
        if there is not None and same_content(size, sha, md5, there, {}) is True:
            unchanged.append(name)
            continue
        if size > MAX_PUT:
            from batchdeploy.errors import UsageError

            raise UsageError(f"{path} is {size:,} bytes, above one PutObject's 5 GiB",
                             hint="put large data in S3 yourself and let the task fetch it")
        with aws_call(f"upload {path} to {where.url}{name}", where.bucket):
            s3.put_object(Bucket=where.bucket, Key=where.key(name), Body=path.read_bytes(),
                          ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode(), Metadata={"sha256": sha})
        uploaded.append(name)
    return Sent(uploaded, unchanged, pages + len(uploaded))

"""Whether the bytes that arrived are the object's (or the file's): sizes, sha256, MD5 ETags."""

from __future__ import annotations

import hashlib
import mimetypes
import re

_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")
_MULTIPART_ETAG = re.compile(r"^[0-9a-f]{32}-\d+$")


def etag_is_md5(resp, multipart_ok: bool = False) -> bool:
    """Whether S3's ETag is a digest of the bytes (not under SSE-KMS or SSE-C, where it is not)."""
    if resp.get("ServerSideEncryption", "").startswith("aws:kms") or resp.get("SSECustomerAlgorithm"):
        return False
    etag = resp.get("ETag", "").strip('"')
    return bool(_MD5_ETAG.match(etag)) or (multipart_ok and bool(_MULTIPART_ETAG.match(etag)))


def verify(resp, n: int, sha: str, md5: str) -> str | None:
    """None when the bytes received are the object's: size, then the sha256 we stored at upload, or
    else a single-part MD5 ETag."""
    expected = resp.get("ContentLength")
    if expected is not None and expected != n:
        return f"{n} bytes received, {expected} expected"
    stored = (resp.get("Metadata") or {}).get("sha256")
    if stored:
        return None if stored == sha else f"sha256 {sha} is not the stored {stored}"
    etag = resp.get("ETag", "").strip('"')
    if etag_is_md5(resp):
        return None if etag == md5 else f"MD5 {md5} is not the ETag {etag}"
    # Another tool's multipart upload without our sha256: its part size is unknown, so the size
    # is all there is to check.
    return None


def md5_file(path: str) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
    return md5.hexdigest()


def content_type(rel: str) -> str | None:
    return mimetypes.guess_type(rel)[0]

"""S3: bucket naming rules and s3:// addresses, written once."""

from __future__ import annotations

import re

from batchdeploy.errors import UsageError

BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
MAX_DELETE_KEYS = 1000  # DeleteObjects keys per call
MAX_PARTS = 10_000  # parts of one multipart upload
MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last


def bucket_problems(name: str) -> list[str]:
    """S3's naming rules (general purpose buckets); [] for a good name."""
    if not BUCKET_NAME.fullmatch(name):
        return ["3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"]
    problems = []
    if ".." in name:
        problems.append("no two adjacent dots")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        problems.append("not formatted like an IP address")
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")):
        problems.append("no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3, .mrap, --x-s3)")
    return problems


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix/` -> ("bucket", "some/prefix"). The prefix never has edge slashes."""
    if not url.startswith("s3://"):
        raise UsageError(f"--remote {url!r} is not an s3:// URL", hint="write it as s3://BUCKET/PREFIX")
    bucket, _, prefix = url[5:].partition("/")
    if not BUCKET_NAME.fullmatch(bucket):
        raise UsageError(f"{bucket!r} in {url!r} is not a valid bucket name", hint="write it as s3://BUCKET/PREFIX")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise UsageError(f"the prefix in {url!r} has empty, '.' or '..' parts", hint="write it as s3://BUCKET/a/b")
    return bucket, prefix


def s3_url(bucket: str, prefix: str) -> str:
    return f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"

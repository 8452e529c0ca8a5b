"""sync's options: --remote addresses (parsed by the shared aws.s3)."""

from __future__ import annotations

import pytest

from batchdeploy.aws.s3 import parse_s3_url
from batchdeploy.errors import UsageError


@pytest.mark.parametrize(
    "url, expected",
    [
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket/experiments", ("bucket", "experiments")),
        ("s3://bucket/a/b/", ("bucket", "a/b")),
        ("s3://my.bucket-1//a/", ("my.bucket-1", "a")),
    ],
)
def test_parse_s3_url(url, expected):
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["bucket/x", "https://bucket/x", "s3://B/x", "s3:///x", "s3://b/a//c", "s3://bb/a/../c"])
def test_parse_s3_url_rejects(url):
    with pytest.raises(UsageError):
        parse_s3_url(url)

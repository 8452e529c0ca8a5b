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


def _opts(tmp_path, *, remote=None, delete=True, dry_run=False, yes=False, env="S3_BUCKET=home-bucket\n"):
    from types import SimpleNamespace

    from batchdeploy import config
    from batchdeploy.sync.verb import SyncOptions

    (tmp_path / ".aws_env").write_text(env)
    cfg = config.load(environ={}, cwd=tmp_path)
    args = SimpleNamespace(remote=remote, local=None, delete=delete, exclude=[], dry_run=dry_run, jobs=4, yes=yes)
    return SyncOptions.from_ctx(SimpleNamespace(args=args, cfg=cfg), upload=True)


@pytest.mark.parametrize(
    "remote, env, words",
    [
        ("s3://home-bucket", "S3_BUCKET=home-bucket\n", "--delete at the root of s3://home-bucket/"),
        ("s3://other-bucket/", "S3_BUCKET=home-bucket\n", "--delete at the root of s3://other-bucket/"),
        (None, "S3_BUCKET=home-bucket\nS3_PREFIX=/\n", "--delete at the root of s3://home-bucket/"),
        ("s3://home-bucket/results", "S3_BUCKET=home-bucket\n", "outside s3://home-bucket/experiments/"),
        ("s3://home-bucket/experiments-old", "S3_BUCKET=home-bucket\n", "outside s3://home-bucket/experiments/"),
        ("s3://other-bucket/experiments", "S3_BUCKET=home-bucket\n", "outside s3://home-bucket/experiments/"),
        ("s3://any-bucket/data", "PROJECT_NAME=p\n", "outside S3_PREFIX (experiments)"),
    ],
)
def test_delete_at_a_bucket_root_or_outside_s3_prefix_needs_yes(tmp_path, remote, env, words):
    """Before: `sync-to-s3 --delete --remote s3://BUCKET` planned to delete every other prefix silently."""
    with pytest.raises(UsageError) as e:
        _opts(tmp_path, remote=remote, env=env)
    assert words in e.value.line() and "add --yes" in e.value.line() and e.value.exit_code == 2
    assert _opts(tmp_path, remote=remote, env=env, yes=True).delete  # asked for: allowed
    assert _opts(tmp_path, remote=remote, env=env, dry_run=True).delete  # a dry run changes nothing


@pytest.mark.parametrize("remote", [None, "s3://home-bucket/experiments", "s3://home-bucket/experiments/run1/"])
def test_delete_inside_s3_prefix_needs_nothing_more(tmp_path, remote):
    assert _opts(tmp_path, remote=remote).delete
    assert not _opts(tmp_path, remote="s3://home-bucket", delete=False).delete  # no --delete: no question

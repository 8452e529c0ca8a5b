"""Fixtures the S3 tests share: a bucket in the test's moto server, and a project whose .aws_env names it."""

from __future__ import annotations

import pytest


def bucket_fixtures(bucket: str):
    """(s3, proj) fixtures for `bucket`; a test module binds them: `s3, proj = bucket_fixtures(BUCKET)`."""

    @pytest.fixture
    def s3(aws):
        client = aws.client("s3")
        client.create_bucket(Bucket=bucket)
        return client

    @pytest.fixture
    def proj(moto, project, s3):
        project.env_file(PROJECT_NAME="demo", S3_BUCKET=bucket)
        return project

    return s3, proj
